/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The resuming side's validation of a firmware image
 * (Documentation/mlx5c-stream.rst, "Images").  The stream is untrusted and
 * the checksum is no MAC: these checks are the security boundary of the
 * resuming side.  Like the stream parser, this knows no device and builds
 * in userspace for fuzzing (tools/testing/fuzz).
 */
#ifndef MLX5C_IMAGE_H
#define MLX5C_IMAGE_H

#include <linux/types.h>
#include <linux/mlx5c_vfio.h>

#define MLX5C_IMAGE_HDR_SIZE	sizeof(struct mlx5c_image_header)

/* The function an image is loaded into; its page size does not matter. */
struct mlx5c_image_target {
	u64 mem_size;
};

#define MLX5C_IMAGE_PART_SIZE	sizeof(struct mlx5c_image_part)
/* The page bytes a writer puts in one part (a reader takes up to 1 MiB). */
#define MLX5C_PART_DATA		(256U << 10)

/* What one resuming session has loaded so far; zeroed when it starts. */
struct mlx5c_load_state {
	bool any;
	bool full;		/* a full image */
	bool final;		/* the FINAL image */
	u64 seq;		/* seq of the last image */
	/* Version 3: the image whose parts are arriving. */
	bool in_image;
	struct mlx5c_image_header cur;	/* its header, as in its first part */
	u64 done;		/* its pages applied so far */
	u32 last_index;		/* incremental: its last page applied */
};

/* A part of a version 3 image, decoded (after mlx5c_image_check_part). */
struct mlx5c_part_view {
	bool full;
	u64 page_size;
	u64 first;		/* position in the image */
	u64 nr;			/* pages in the part */
	const u8 *index;	/* incremental: nr le32 page numbers */
	const u8 *data;		/* nr pages */
};

size_t mlx5c_image_size(u64 page_size, u64 mem_size, bool full, u64 nr);
u64 mlx5c_part_pages(u64 page_size);
size_t mlx5c_part_size(u64 page_size, bool full, u64 nr);
size_t mlx5c_part_max_size(void);
u64 mlx5c_image_stream_size(u64 page_size, u64 mem_size, bool full, u64 nr);
void mlx5c_image_put_header(void *image, u16 version, u16 kind, bool full,
			    u64 page_size, u64 mem_size, u64 nr, u64 seq);
void mlx5c_part_put(void *image, u64 first, u64 nr);
int mlx5c_image_check_part(const struct mlx5c_image_target *t,
			   const struct mlx5c_load_state *st,
			   const void *image, size_t len);
void mlx5c_part_decode(const void *image, struct mlx5c_part_view *v);
bool mlx5c_part_loaded(struct mlx5c_load_state *st, const void *image);
int mlx5c_image_check(const struct mlx5c_image_target *t,
		      const struct mlx5c_load_state *st, u32 version,
		      const void *image, size_t len);
void mlx5c_image_loaded(struct mlx5c_load_state *st, const void *image);

#endif /* MLX5C_IMAGE_H */
