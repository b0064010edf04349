// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the mlx5c record stream parser (stream.c, built
 * here in userspace).  The first input byte picks how the rest is split
 * into writes; the load callback checks that it gets whole images of a
 * plausible size, as the kernel's load would.  After each input every
 * allocation must have been freed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "stream.h"

#define MEM_SIZE	(1 << 20)	/* the pretend device's memory */

static long live;

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

static int load(void *ctx, const void *image, size_t len)
{
	const struct mlx5c_image_header *hdr = image;
	struct mlx5c_parser *p = ctx;

	if (len < sizeof(*hdr) || len > p->max_image || !p->buf)
		abort();	/* the parser let through what it must not */
	/* Touch every byte: ASan checks the buffer really is that long. */
	volatile u8 sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += ((const u8 *)image)[i];
	return le32_to_cpu(hdr->magic) == MLX5C_IMAGE_MAGIC ? 0 : -EINVAL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlx5c_parser p = {
		.state = MLX5C_PARSE_HEADER,
		.max_image = sizeof(struct mlx5c_image_header) + MEM_SIZE,
		.load = load,
	};
	size_t off = 1, step;
	ssize_t ret = 0;

	if (!size)
		return 0;
	p.ctx = &p;
	step = data[0] ? data[0] : 4096;
	while (off < size && ret >= 0) {
		size_t n = size - off < step ? size - off : step;

		ret = mlx5c_parse(&p, (const char *)data + off, n);
		if (ret >= 0 && (size_t)ret != n)
			abort();	/* all or an error, never short */
		off += n;
	}
	(void)mlx5c_parse_complete(&p);
	mlx5c_parse_free(&p);
	if (live)
		abort();	/* a leak */
	return 0;
}
