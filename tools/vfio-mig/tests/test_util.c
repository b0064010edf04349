// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <xxhash.h>

#include "../transport.h"
#include "../util.h"
#include "tap.h"

void util_chunk_sum(void)
{
	uint8_t buf[1000];
	uint32_t sum;
	unsigned i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	sum = vmig_chunk_sum(buf, sizeof(buf));
	ok(sum == (uint32_t)XXH3_64bits(buf, sizeof(buf)),
	   "chunk checksum is the low 32 bits of XXH3-64");
	buf[500] ^= 1;
	ok(vmig_chunk_sum(buf, sizeof(buf)) != sum,
	   "chunk checksum changes when one bit flips");
}

void util_sizes(void)
{
	uint64_t v = 0;

	ok(!parse_size("4M", &v) && v == 4 * MIB, "parse_size 4M");
	ok(!parse_size("512KiB", &v) && v == 512 * KIB, "parse_size 512KiB");
	ok(!parse_size("1048576", &v) && v == MIB, "parse_size plain bytes");
	ok(parse_size("4X", &v) == -EINVAL && parse_size("-1", &v) == -EINVAL,
	   "parse_size rejects bad suffix and negative");
}

void util_be(void)
{
	uint8_t b[8];

	put_be64(b, 0x0102030405060708ULL);
	ok(b[0] == 1 && b[7] == 8 && get_be64(b) == 0x0102030405060708ULL,
	   "big-endian 64-bit round trip");
}
