// SPDX-License-Identifier: GPL-2.0
/*
 * Validation of a firmware image before any of it is applied.  Every check
 * but the checksum fails with -EINVAL; a wrong checksum with -EBADMSG.
 * Pages are the image's own (its page_size), whatever the target's are.
 */
#include <asm/byteorder.h>
#include <linux/errno.h>
#include <linux/math.h>
#include <linux/sched.h>
#include <linux/sizes.h>
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

/* How many pages a writer puts in one part of a version 3 image. */
u64 mlx5c_part_pages(u64 page_size)
{
	return page_size >= MLX5C_PART_DATA ? 1 : MLX5C_PART_DATA / page_size;
}

/* The payload of a FW_DATA record holding a part of @nr pages. */
size_t mlx5c_part_size(u64 page_size, bool full, u64 nr)
{
	return MLX5C_IMAGE_HDR_SIZE + MLX5C_IMAGE_PART_SIZE +
	       (full ? 0 : round_up(nr * sizeof(__le32), 8)) + nr * page_size;
}

/* The largest part payload a reader accepts, whatever the page size. */
size_t mlx5c_part_max_size(void)
{
	return mlx5c_part_size(MLX5C_IMAGE_MIN_PAGE, false,
			       MLX5C_PART_MAX_DATA / MLX5C_IMAGE_MIN_PAGE);
}

/*
 * The stream bytes of a version 3 image as a writer cuts it: its FW_DATA
 * records, headers included.  An image of no pages is one empty part.
 */
u64 mlx5c_image_stream_size(u64 page_size, u64 mem_size, bool full, u64 nr)
{
	u64 per = mlx5c_part_pages(page_size);
	u64 rec = sizeof(struct mlx5c_mig_header_v2);
	u64 parts, last;

	if (full)
		nr = mem_size / page_size;
	parts = nr ? (nr + per - 1) / per : 1;
	last = nr - (parts - 1) * per;
	return (parts - 1) * (rec + mlx5c_part_size(page_size, full, per)) +
	       rec + mlx5c_part_size(page_size, full, last);
}

void mlx5c_image_put_header(void *image, u16 version, u16 kind, bool full,
			    u64 page_size, u64 mem_size, u64 nr, u64 seq)
{
	struct mlx5c_image_header hdr = {
		.magic = cpu_to_le32(MLX5C_IMAGE_MAGIC),
		.version = cpu_to_le16(version),
		.kind = cpu_to_le16(kind),
		.flags = cpu_to_le32(full ? MLX5C_IMAGE_F_FULL : 0),
		.page_size = cpu_to_le32(page_size),
		.mem_size = cpu_to_le64(mem_size),
		.nr_pages = cpu_to_le64(nr),
		.seq = cpu_to_le64(seq),
	};

	memcpy(image, &hdr, sizeof(hdr));
}

/* The part header after the image header of a version 3 part. */
void mlx5c_part_put(void *image, u64 first, u64 nr)
{
	struct mlx5c_image_part part = {
		.first = cpu_to_le64(first),
		.nr_pages = cpu_to_le32(nr),
	};

	memcpy((u8 *)image + MLX5C_IMAGE_HDR_SIZE, &part, sizeof(part));
}

/*
 * Indexes below the image's page count, strictly increasing (and above
 * @prev when @after), then 0s up to a multiple of 8 bytes.
 */
static int mlx5c_image_check_index(u64 nr_pages, const u8 *body, u64 nr,
				   bool after, u64 prev)
{
	size_t index_len = round_up(nr * sizeof(__le32), 8);
	u64 i, pg;
	__le32 v;

	for (i = 0; i < nr; i++) {
		memcpy(&v, body + i * sizeof(v), sizeof(v));
		pg = le32_to_cpu(v);
		if (pg >= nr_pages || ((i || after) && pg <= prev))
			return -EINVAL;
		prev = pg;
	}
	for (i = nr * sizeof(__le32); i < index_len; i++)
		if (body[i])
			return -EINVAL;
	return 0;
}

/* A version 1 image's checksum: a whole image, so a reschedule per 2 MiB. */
static u64 mlx5c_image_checksum(const u8 *image, size_t len)
{
	struct mlx5c_image_header hdr;
	struct xxh64_state state;
	size_t off, n;

	memcpy(&hdr, image, sizeof(hdr));
	hdr.checksum = 0;
	xxh64_reset(&state, 0);
	xxh64_update(&state, &hdr, sizeof(hdr));
	for (off = sizeof(hdr); off < len; off += n) {
		n = min_t(size_t, len - off, SZ_2M);
		xxh64_update(&state, image + off, n);
		cond_resched();
	}
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

/*
 * The checks of an image header that need no session: what it is, and
 * that it was made for this function.  Returns the memory's page count in
 * the image's pages, or 0 when the header is refused.
 */
static u64 mlx5c_image_check_header(const struct mlx5c_image_target *t,
				    u32 version,
				    const struct mlx5c_image_header *hdr)
{
	u32 flags = le32_to_cpu(hdr->flags);
	u16 kind = le16_to_cpu(hdr->kind);
	u64 nr = le64_to_cpu(hdr->nr_pages);
	u64 nr_pages;

	/* The image version is the stream's. */
	if (le32_to_cpu(hdr->magic) != MLX5C_IMAGE_MAGIC ||
	    le16_to_cpu(hdr->version) != version)
		return 0;
	/* From version 2 on the record checksum covers the image. */
	if (version != MLX5C_STREAM_V1 && hdr->checksum)
		return 0;
	if (kind < MLX5C_IMAGE_INITIAL || kind > MLX5C_IMAGE_FINAL ||
	    flags & ~MLX5C_IMAGE_F_FULL)
		return 0;
	/* Made for another function: refuse before touching anything. */
	if (le64_to_cpu(hdr->mem_size) != t->mem_size)
		return 0;
	nr_pages = mlx5c_image_pages(le32_to_cpu(hdr->page_size), t->mem_size);
	if (!nr_pages)
		return 0;
	if ((flags & MLX5C_IMAGE_F_FULL) ? nr != nr_pages : nr >= nr_pages)
		return 0;
	return nr_pages;
}

int mlx5c_image_check(const struct mlx5c_image_target *t,
		      const struct mlx5c_load_state *st, u32 version,
		      const void *image, size_t len)
{
	struct mlx5c_image_header hdr;
	const u8 *body = (const u8 *)image + MLX5C_IMAGE_HDR_SIZE;
	u64 nr, nr_pages;
	bool full;

	if (len < MLX5C_IMAGE_HDR_SIZE)
		return -EINVAL;
	memcpy(&hdr, image, sizeof(hdr));
	nr_pages = mlx5c_image_check_header(t, version, &hdr);
	if (!nr_pages)
		return -EINVAL;
	full = le32_to_cpu(hdr.flags) & MLX5C_IMAGE_F_FULL;
	nr = le64_to_cpu(hdr.nr_pages);
	if (len != mlx5c_image_size(le32_to_cpu(hdr.page_size), t->mem_size,
				    full, nr))
		return -EINVAL;
	if (mlx5c_image_check_order(st, le16_to_cpu(hdr.kind), full,
				    le64_to_cpu(hdr.seq)))
		return -EINVAL;
	if (!full && mlx5c_image_check_index(nr_pages, body, nr, false, 0))
		return -EINVAL;
	if (version == MLX5C_STREAM_V1 &&
	    mlx5c_image_checksum(image, len) != le64_to_cpu(hdr.checksum))
		return -EBADMSG;
	return 0;
}

/*
 * One part of a version 3 image, checked whole before any of it is
 * applied: its image header (the first part's is checked like a whole
 * image's, later parts must repeat it byte for byte), its place (right
 * after the parts before it), its size and its page indexes.
 */
int mlx5c_image_check_part(const struct mlx5c_image_target *t,
			   const struct mlx5c_load_state *st,
			   const void *image, size_t len)
{
	struct mlx5c_image_header hdr;
	struct mlx5c_image_part part;
	const u8 *body = (const u8 *)image + MLX5C_IMAGE_HDR_SIZE +
			 MLX5C_IMAGE_PART_SIZE;
	u64 nr, nr_pages, first, n, ps;
	bool full;

	if (len < MLX5C_IMAGE_HDR_SIZE + MLX5C_IMAGE_PART_SIZE)
		return -EINVAL;
	memcpy(&hdr, image, sizeof(hdr));
	memcpy(&part, (const u8 *)image + sizeof(hdr), sizeof(part));
	nr_pages = mlx5c_image_check_header(t, MLX5C_STREAM_V3, &hdr);
	ps = le32_to_cpu(hdr.page_size);
	if (!nr_pages || ps > MLX5C_PART_MAX_DATA || part.reserved)
		return -EINVAL;
	full = le32_to_cpu(hdr.flags) & MLX5C_IMAGE_F_FULL;
	nr = le64_to_cpu(hdr.nr_pages);
	first = le64_to_cpu(part.first);
	n = le32_to_cpu(part.nr_pages);
	if (!st->in_image) {
		if (first || mlx5c_image_check_order(st, le16_to_cpu(hdr.kind),
						     full, le64_to_cpu(hdr.seq)))
			return -EINVAL;
	} else if (memcmp(&hdr, &st->cur, sizeof(hdr)) || first != st->done) {
		return -EINVAL;
	}
	/* At least one page, but in the one part of an empty image. */
	if (n > nr - first || (!n && nr) || n * ps > MLX5C_PART_MAX_DATA)
		return -EINVAL;
	if (len != mlx5c_part_size(ps, full, n))
		return -EINVAL;
	if (!full && mlx5c_image_check_index(nr_pages, body, n, first != 0,
					     st->last_index))
		return -EINVAL;
	return 0;
}

void mlx5c_part_decode(const void *image, struct mlx5c_part_view *v)
{
	struct mlx5c_image_header hdr;
	struct mlx5c_image_part part;
	const u8 *body = (const u8 *)image + MLX5C_IMAGE_HDR_SIZE +
			 MLX5C_IMAGE_PART_SIZE;

	memcpy(&hdr, image, sizeof(hdr));
	memcpy(&part, (const u8 *)image + sizeof(hdr), sizeof(part));
	v->full = le32_to_cpu(hdr.flags) & MLX5C_IMAGE_F_FULL;
	v->page_size = le32_to_cpu(hdr.page_size);
	v->first = le64_to_cpu(part.first);
	v->nr = le32_to_cpu(part.nr_pages);
	v->index = body;
	v->data = v->full ? body : body + round_up(v->nr * sizeof(__le32), 8);
}

/*
 * A checked part was applied.  Returns true when it completed its image,
 * which is then loaded, in the session's order.
 */
bool mlx5c_part_loaded(struct mlx5c_load_state *st, const void *image)
{
	struct mlx5c_part_view v;
	__le32 last;

	mlx5c_part_decode(image, &v);
	if (!st->in_image) {
		memcpy(&st->cur, image, sizeof(st->cur));
		st->in_image = true;
		st->done = 0;
	}
	st->done += v.nr;
	if (!v.full && v.nr) {
		memcpy(&last, v.index + (v.nr - 1) * sizeof(last), sizeof(last));
		st->last_index = le32_to_cpu(last);
	}
	if (st->done < le64_to_cpu(st->cur.nr_pages))
		return false;
	st->in_image = false;
	mlx5c_image_loaded(st, image);
	return true;
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
