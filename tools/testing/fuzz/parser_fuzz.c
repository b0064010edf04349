// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the resuming side of mlx5c: the record stream
 * parser (stream.c) and the image validation (image.c), both the driver's
 * own files built here in userspace.
 *
 * The first input byte picks how the rest is split into writes (low seven
 * bits; 0 means 4096) and, with its top bit, makes the harness reseal each
 * checksum before it is verified (a version 2 stream's record checksums, a
 * version 1 stream's image checksums), so that the fuzzer also reaches
 * what lies behind them.  An image the validation accepts is applied to
 * a pretend device memory the way the driver applies it: AddressSanitizer
 * catches any index or length the validation let through that it must
 * not.  After each input every allocation must have been freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include "image.h"
#include "stream.h"

#define PAGE		4096
#define NR_PAGES	8
#define MEM_SIZE	(NR_PAGES * PAGE)	/* the pretend device's memory */

static long live;
static u8 *mem;

void *mlx5c_alloc(size_t size)
{
	void *p = malloc(size);

	if (p)
		live++;
	return p;
}

void mlx5c_free(void *p)
{
	if (p)
		live--;
	free(p);
}

struct session {
	struct mlx5c_parser p;
	struct mlx5c_load_state load;
	bool reseal;
};

static const struct mlx5c_image_target target = {
	.mem_size = MEM_SIZE,
};

/* Version 3, as the driver: validate one part, then apply it. */
static int load_part(struct session *s, const void *image, size_t len)
{
	struct mlx5c_part_view v;
	u64 i;
	u32 pg;
	int ret;

	if (len > mlx5c_part_max_size())
		abort();	/* the parser let through what it must not */
	ret = mlx5c_image_check_part(&target, &s->load, image, len);
	if (ret) {
		if (ret != -EINVAL)
			abort();	/* only the documented errno */
		return ret;
	}
	mlx5c_part_decode(image, &v);
	if (v.full) {
		memcpy(mem + v.first * v.page_size, v.data, v.nr * v.page_size);
	} else {
		if (!s->load.full)
			abort();	/* a delta without a base */
		for (i = 0; i < v.nr; i++) {
			memcpy(&pg, v.index + i * 4, 4);
			pg = le32toh(pg);
			memcpy(mem + pg * v.page_size, v.data + i * v.page_size,
			       v.page_size);
		}
	}
	return mlx5c_part_loaded(&s->load, image);
}

/* As the driver's load: validate the whole image, then apply it. */
static int load(void *ctx, u32 version, const void *image, size_t len)
{
	struct session *s = ctx;
	const struct mlx5c_image_header *hdr = image;
	const u8 *body = (const u8 *)image + sizeof(*hdr);
	u64 nr, i, ps;
	u32 pg;
	int ret;

	if (version == MLX5C_STREAM_V3)
		return load_part(s, image, len);
	if (len < sizeof(*hdr) || len > s->p.max_image || !s->p.buf)
		abort();	/* the parser let through what it must not */
	if (version != MLX5C_STREAM_V1 && version != MLX5C_STREAM_V2)
		abort();
	if (s->reseal && version == MLX5C_STREAM_V1) {
		struct mlx5c_image_header *w = (void *)s->p.buf;

		w->checksum = 0;
		w->checksum = htole64(XXH64(image, len, 0));
	}
	ret = mlx5c_image_check(&target, &s->load, version, image, len);
	if (ret) {
		if (ret != -EINVAL && ret != -EBADMSG)
			abort();	/* only the documented errnos */
		return ret;
	}
	mlx5c_image_loaded(&s->load, image);
	nr = le64_to_cpu(hdr->nr_pages);
	ps = le32_to_cpu(hdr->page_size);
	if (le32_to_cpu(hdr->flags) & MLX5C_IMAGE_F_FULL) {
		memcpy(mem, body, MEM_SIZE);
		return 1;
	}
	if (!s->load.full)
		abort();	/* a delta without a base */
	for (i = 0; i < nr; i++) {
		memcpy(&pg, body + i * 4, 4);
		pg = le32toh(pg);
		memcpy(mem + pg * ps, body + round_up(nr * 4, 8) + i * ps, ps);
	}
	return 1;
}

/* Reseal the checksum of every whole version 2 record in @data. */
static void reseal_records(u8 *data, size_t size)
{
	struct mlx5c_mig_header first;
	struct mlx5c_mig_header_v2 h;
	size_t off = sizeof(first) + sizeof(struct mlx5c_mig_version);

	if (size < sizeof(first))
		return;
	memcpy(&first, data, sizeof(first));
	if (le32_to_cpu(first.tag) != MLX5C_MIG_TAG_VERSION)
		return;
	while (off + sizeof(h) <= size) {
		u64 rs;

		memcpy(&h, data + off, sizeof(h));
		rs = le64_to_cpu(h.record_size);
		if (rs > size - off - sizeof(h))
			return;
		h.checksum = 0;
		memcpy(data + off, &h, sizeof(h));
		h.checksum = htole64(XXH64(data + off, sizeof(h) + rs, 0));
		memcpy(data + off, &h, sizeof(h));
		off += sizeof(h) + rs;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session s = {
		.p = {
			.state = MLX5C_PARSE_HEADER,
			.max_image = sizeof(struct mlx5c_image_header) +
				     MEM_SIZE,
			.load = load,
		},
	};
	size_t off = 1, step;
	ssize_t ret = 0;
	u8 *copy = NULL;

	if (!size)
		return 0;
	if (!mem) {
		mem = malloc(MEM_SIZE);
		if (!mem)
			abort();
	}
	s.p.ctx = &s;
	s.reseal = data[0] & 0x80;
	step = data[0] & 0x7f ? data[0] & 0x7f : 4096;
	if (s.reseal) {
		copy = malloc(size);
		if (!copy)
			abort();
		memcpy(copy, data, size);
		reseal_records(copy + 1, size - 1);
		data = copy;
	}
	while (off < size && ret >= 0) {
		size_t n = size - off < step ? size - off : step;

		ret = mlx5c_parse(&s.p, (const char *)data + off, n);
		if (ret >= 0 && (size_t)ret != n)
			abort();	/* all or an error, never short */
		off += n;
	}
	(void)mlx5c_parse_complete(&s.p);
	mlx5c_parse_free(&s.p);
	free(copy);
	if (live)
		abort();	/* a leak */
	return 0;
}
