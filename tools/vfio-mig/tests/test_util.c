// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../crc32c.h"
#include "../util.h"
#include "tap.h"

static void test_crc32c(void)
{
	uint8_t zeros[32] = { 0 }, buf[1000];
	uint32_t whole, part;
	unsigned i;

	ok(crc32c(0, "123456789", 9) == 0xe3069283u,
	   "crc32c check value of \"123456789\" is 0xe3069283");
	ok(crc32c(0, zeros, sizeof(zeros)) == 0x8a9136aau,
	   "crc32c of 32 zero bytes is 0x8a9136aa");
	ok(crc32c(0, "", 0) == 0, "crc32c of nothing is 0");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	whole = crc32c(0, buf, sizeof(buf));
	part = crc32c(crc32c(0, buf, 333), buf + 333, sizeof(buf) - 333);
	ok(whole == part, "crc32c continues across split buffers");
}

static void test_sizes(void)
{
	uint64_t v = 0;

	ok(!parse_size("4M", &v) && v == 4 * MIB, "parse_size 4M");
	ok(!parse_size("512KiB", &v) && v == 512 * KIB, "parse_size 512KiB");
	ok(!parse_size("1048576", &v) && v == MIB, "parse_size plain bytes");
	ok(parse_size("4X", &v) == -EINVAL && parse_size("-1", &v) == -EINVAL,
	   "parse_size rejects bad suffix and negative");
}

static void test_be(void)
{
	uint8_t b[8];

	put_be64(b, 0x0102030405060708ULL);
	ok(b[0] == 1 && b[7] == 8 && get_be64(b) == 0x0102030405060708ULL,
	   "big-endian 64-bit round trip");
}

void test_util(void)
{
	test_crc32c();
	test_sizes();
	test_be();
}
