/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The parser of the migration record stream (Documentation/mlx5c-stream.rst).
 *
 * It knows records, not devices or files: it reads the stream's version
 * from its first record, collects each header and payload across any split
 * of writes, checks sizes before allocating, verifies each version 2 or 3
 * record's checksum before acting on it, skips unknown OPTIONAL records,
 * refuses unknown MANDATORY ones, and hands every FW_DATA payload (a whole
 * image before version 3, a part of one from it) to a load callback.  It
 * depends only on the few helpers below, so it also builds in userspace
 * for fuzzing (tools/testing/fuzz).
 */
#ifndef MLX5C_STREAM_H
#define MLX5C_STREAM_H

#include <linux/types.h>
#include <linux/xxhash.h>
#include <linux/mlx5c_vfio.h>

#define MLX5C_HDR_SIZE		sizeof(struct mlx5c_mig_header)
#define MLX5C_HDR_V2_SIZE	sizeof(struct mlx5c_mig_header_v2)
/* The records before the first image: VERSION and STOP_COPY_SIZE. */
#define MLX5C_STREAM_START_SIZE	(MLX5C_HDR_SIZE +			\
				 sizeof(struct mlx5c_mig_version) +	\
				 MLX5C_HDR_V2_SIZE +			\
				 sizeof(struct mlx5c_mig_stop_copy_size))

enum mlx5c_parse_state {
	MLX5C_PARSE_HEADER,
	MLX5C_PARSE_PAYLOAD,
	MLX5C_PARSE_SKIP,
};

struct mlx5c_parser {
	enum mlx5c_parse_state state;
	union {				/* collected byte by byte, read whole */
		struct mlx5c_mig_header_v2 hdr;
		u8 hdr_bytes[MLX5C_HDR_V2_SIZE];
	};
	size_t hdr_len;
	u32 version;			/* 0 until the first header */
	u32 bad_version;		/* the version refused, for a message */
	bool version_refused;		/* EPROTONOSUPPORT came from a VERSION record */
	u64 rec_size;
	u32 rec_tag;
	u64 rec_pos;
	u64 rec_checksum;		/* versions 2, 3: what the header says */
	struct xxh64_state hash;	/* versions 2, 3: header, payload so far */
	union {
		struct mlx5c_mig_stop_copy_size scs;
		struct mlx5c_mig_version ver;
		u8 skip[64];		/* a skipped payload, to hash it */
	};
	void *buf;			/* image being received */
	size_t buf_size;
	u64 images;			/* images loaded */
	bool in_image;			/* version 3: an image is incomplete */
	size_t max_image;		/* versions 1, 2: no record is larger */
	/*
	 * Apply one complete image (versions 1, 2) or one part of an image
	 * (version 3): 1 when that completed an image, 0 when the image goes
	 * on in the next record, or a negative errno.
	 */
	int (*load)(void *ctx, u32 version, const void *image, size_t len);
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

/* Writing: fill in the checksum of a version 2 record (header, payload). */
void mlx5c_record_seal(struct mlx5c_mig_header_v2 *hdr, const void *payload);

#endif /* MLX5C_STREAM_H */
