/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The parser of the migration record stream (Documentation/mlx5c-stream.rst).
 *
 * It knows records, not devices or files: it collects each header and
 * payload across any split of writes, checks sizes before allocating,
 * skips unknown OPTIONAL records, refuses unknown MANDATORY ones, and hands
 * every complete image to a load callback.  It depends only on the few
 * helpers below, so it also builds in userspace for fuzzing
 * (tools/testing/fuzz).
 */
#ifndef MLX5C_STREAM_H
#define MLX5C_STREAM_H

#include <linux/types.h>
#include <linux/mlx5c_vfio.h>

#define MLX5C_HDR_SIZE		sizeof(struct mlx5c_mig_header)

enum mlx5c_parse_state {
	MLX5C_PARSE_HEADER,
	MLX5C_PARSE_PAYLOAD,
	MLX5C_PARSE_SKIP,
};

struct mlx5c_parser {
	enum mlx5c_parse_state state;
	union {				/* collected byte by byte, read whole */
		struct mlx5c_mig_header hdr;
		u8 hdr_bytes[MLX5C_HDR_SIZE];
	};
	size_t hdr_len;
	u64 rec_size;
	u32 rec_tag;
	u64 rec_pos;
	struct mlx5c_mig_stop_copy_size scs;
	void *buf;			/* image being received */
	size_t buf_size;
	u64 images;			/* images loaded */
	size_t max_image;		/* no record may be larger */
	/* Apply one complete image; 0 or a negative errno. */
	int (*load)(void *ctx, const void *image, size_t len);
	void *ctx;
};

/* From main.c (or the userspace harness). */
void *mlx5c_alloc(size_t size);
void mlx5c_free(void *p);

/* Consume @len bytes; returns @len or a negative errno. */
ssize_t mlx5c_parse(struct mlx5c_parser *p, const char __user *ubuf,
		    size_t len);
/* The stream ended on a record boundary after at least one image. */
bool mlx5c_parse_complete(const struct mlx5c_parser *p);
void mlx5c_parse_free(struct mlx5c_parser *p);

#endif /* MLX5C_STREAM_H */
