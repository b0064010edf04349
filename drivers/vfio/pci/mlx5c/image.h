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

/* What one resuming session has loaded so far; zeroed when it starts. */
struct mlx5c_load_state {
	bool any;
	bool full;		/* a full image */
	bool final;		/* the FINAL image */
	u64 seq;		/* seq of the last image */
};

size_t mlx5c_image_size(u64 page_size, u64 mem_size, bool full, u64 nr);
int mlx5c_image_check(const struct mlx5c_image_target *t,
		      const struct mlx5c_load_state *st, u32 version,
		      const void *image, size_t len);
void mlx5c_image_loaded(struct mlx5c_load_state *st, const void *image);

#endif /* MLX5C_IMAGE_H */
