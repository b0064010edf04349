/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The migration stream of mlx5c-vfio-pci, as read from the saving data fd
 * and written to the resuming data fd.  Everything is little-endian.
 *
 * The stream is a sequence of records.  Each record is a 16-byte software
 * header followed by record_size bytes of payload:
 *
 *   STOP_COPY_SIZE (OPTIONAL)  le64: the size of the largest image still to
 *                              come, so the target can allocate before the
 *                              stop-copy phase.  Always first.
 *   FW_DATA (MANDATORY)        one firmware image (struct mlx5c_image_header
 *                              and its body).  Images are applied in order.
 *
 * A reader skips OPTIONAL records it does not know and must refuse MANDATORY
 * ones it does not know.  See Documentation/mlx5c-stream.rst.
 */
#ifndef _UAPI_LINUX_MLX5C_VFIO_H
#define _UAPI_LINUX_MLX5C_VFIO_H

#include <linux/types.h>

/* struct mlx5c_mig_header.flags */
#define MLX5C_MIG_F_MANDATORY		0
#define MLX5C_MIG_F_OPTIONAL		(1 << 0)

/* struct mlx5c_mig_header.tag */
#define MLX5C_MIG_TAG_FW_DATA		0
#define MLX5C_MIG_TAG_STOP_COPY_SIZE	(1 << 0)

struct mlx5c_mig_header {
	__le64 record_size;	/* payload bytes after this header */
	__le32 flags;		/* MLX5C_MIG_F_* */
	__le32 tag;		/* MLX5C_MIG_TAG_* */
};

/* Payload of a MLX5C_MIG_TAG_STOP_COPY_SIZE record. */
struct mlx5c_mig_stop_copy_size {
	__le64 size;
};

#define MLX5C_IMAGE_MAGIC	0x4935434dU	/* "MC5I" */
#define MLX5C_IMAGE_VERSION	1

/* struct mlx5c_image_header.kind */
#define MLX5C_IMAGE_INITIAL	1	/* first image, saved at PRE_COPY */
#define MLX5C_IMAGE_MIDDLE	2	/* incremental, during PRE_COPY */
#define MLX5C_IMAGE_FINAL	3	/* saved at STOP_COPY */

/* struct mlx5c_image_header.flags */
#define MLX5C_IMAGE_F_FULL	(1 << 0)	/* every page, no index */

/*
 * A firmware image.  A full image's body is the whole device memory.  An
 * incremental image's body is nr_pages le32 page indexes in increasing
 * order, zero-padded to a multiple of 8 bytes, then the nr_pages pages.
 * checksum is the xxh64 (seed 0) of the whole image with checksum 0.
 */
struct mlx5c_image_header {
	__le32 magic;
	__le16 version;
	__le16 kind;
	__le32 flags;
	__le32 page_size;
	__le64 mem_size;	/* device memory the image was saved from */
	__le64 nr_pages;	/* pages in the body */
	__le64 seq;		/* image number in its session, from 0 */
	__le64 checksum;
};

#endif /* _UAPI_LINUX_MLX5C_VFIO_H */
