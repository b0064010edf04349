// SPDX-License-Identifier: GPL-2.0
/*
 * Validation of a firmware image before any of it is applied.  Every check
 * but the checksum fails with -EINVAL; a wrong checksum with -EBADMSG.
 * Pages are the image's own (its page_size), whatever the target's are.
 */
#include <asm/byteorder.h>
#include <linux/errno.h>
#include <linux/math.h>
#include <linux/string.h>
#include <linux/xxhash.h>

#include "image.h"

size_t mlx5c_image_size(u64 page_size, u64 mem_size, bool full, u64 nr)
{
	if (full)
		return MLX5C_IMAGE_HDR_SIZE + mem_size;
	return MLX5C_IMAGE_HDR_SIZE + round_up(nr * sizeof(__le32), 8) +
	       nr * page_size;
}

/* Indexes below the image's page count, strictly increasing, then 0s. */
static int mlx5c_image_check_index(u64 nr_pages, const u8 *body, u64 nr)
{
	size_t index_len = round_up(nr * sizeof(__le32), 8);
	u64 i, pg, prev = 0;
	__le32 v;

	for (i = 0; i < nr; i++) {
		memcpy(&v, body + i * sizeof(v), sizeof(v));
		pg = le32_to_cpu(v);
		if (pg >= nr_pages || (i && pg <= prev))
			return -EINVAL;
		prev = pg;
	}
	for (i = nr * sizeof(__le32); i < index_len; i++)
		if (body[i])
			return -EINVAL;
	return 0;
}

static u64 mlx5c_image_checksum(const u8 *image, size_t len)
{
	struct mlx5c_image_header hdr;
	struct xxh64_state state;

	memcpy(&hdr, image, sizeof(hdr));
	hdr.checksum = 0;
	xxh64_reset(&state, 0);
	xxh64_update(&state, &hdr, sizeof(hdr));
	xxh64_update(&state, image + sizeof(hdr), len - sizeof(hdr));
	return xxh64_digest(&state);
}

/*
 * Order within a session: the first image has seq 0 and is a full INITIAL
 * or FINAL one; then seq only grows (a failed save leaves a gap), there is
 * no second INITIAL and nothing after the FINAL image.  So every delta has
 * a full image of the same session to apply to (st->full, which the
 * fuzzer's oracle checks).
 */
static int mlx5c_image_check_order(const struct mlx5c_load_state *st,
				   u16 kind, bool full, u64 seq)
{
	if (!st->any) {
		if (seq || kind == MLX5C_IMAGE_MIDDLE || !full)
			return -EINVAL;
	} else if (seq <= st->seq || kind == MLX5C_IMAGE_INITIAL ||
		   st->final) {
		return -EINVAL;
	}
	return 0;
}

/*
 * The image's page size: a power of two, at least MLX5C_IMAGE_MIN_PAGE,
 * that divides the memory.  Returns the memory's page count in it, or 0.
 */
static u64 mlx5c_image_pages(u32 page_size, u64 mem_size)
{
	if (page_size < MLX5C_IMAGE_MIN_PAGE || (page_size & (page_size - 1)) ||
	    mem_size & (page_size - 1))
		return 0;
	return mem_size / page_size;
}

int mlx5c_image_check(const struct mlx5c_image_target *t,
		      const struct mlx5c_load_state *st, u32 version,
		      const void *image, size_t len)
{
	struct mlx5c_image_header hdr;
	const u8 *body = (const u8 *)image + MLX5C_IMAGE_HDR_SIZE;
	u64 nr, nr_pages;
	u32 page_size;
	u32 flags;
	u16 kind;
	bool full;

	if (len < MLX5C_IMAGE_HDR_SIZE)
		return -EINVAL;
	memcpy(&hdr, image, sizeof(hdr));
	/* The image version is the stream's. */
	if (le32_to_cpu(hdr.magic) != MLX5C_IMAGE_MAGIC ||
	    le16_to_cpu(hdr.version) != version)
		return -EINVAL;
	/* Version 2: the record checksum covers the image. */
	if (version == MLX5C_STREAM_V2 && hdr.checksum)
		return -EINVAL;
	kind = le16_to_cpu(hdr.kind);
	flags = le32_to_cpu(hdr.flags);
	if (kind < MLX5C_IMAGE_INITIAL || kind > MLX5C_IMAGE_FINAL ||
	    flags & ~MLX5C_IMAGE_F_FULL)
		return -EINVAL;
	/* Made for another function: refuse before touching anything. */
	if (le64_to_cpu(hdr.mem_size) != t->mem_size)
		return -EINVAL;
	page_size = le32_to_cpu(hdr.page_size);
	nr_pages = mlx5c_image_pages(page_size, t->mem_size);
	if (!nr_pages)
		return -EINVAL;
	full = flags & MLX5C_IMAGE_F_FULL;
	nr = le64_to_cpu(hdr.nr_pages);
	if (full ? nr != nr_pages : nr >= nr_pages)
		return -EINVAL;
	if (len != mlx5c_image_size(page_size, t->mem_size, full, nr))
		return -EINVAL;
	if (mlx5c_image_check_order(st, kind, full, le64_to_cpu(hdr.seq)))
		return -EINVAL;
	if (!full && mlx5c_image_check_index(nr_pages, body, nr))
		return -EINVAL;
	if (version == MLX5C_STREAM_V1 &&
	    mlx5c_image_checksum(image, len) != le64_to_cpu(hdr.checksum))
		return -EBADMSG;
	return 0;
}

/* A checked image was applied: record it in the session's order. */
void mlx5c_image_loaded(struct mlx5c_load_state *st, const void *image)
{
	struct mlx5c_image_header hdr;

	memcpy(&hdr, image, sizeof(hdr));
	st->any = true;
	st->seq = le64_to_cpu(hdr.seq);
	if (le16_to_cpu(hdr.kind) == MLX5C_IMAGE_FINAL)
		st->final = true;
	if (le32_to_cpu(hdr.flags) & MLX5C_IMAGE_F_FULL)
		st->full = true;
}
