/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The migration stream of mlx5c-vfio-pci, as read from the saving data fd
 * and written to the resuming data fd.  Everything is little-endian.
 *
 * The stream is a sequence of records, each a header followed by
 * record_size bytes of payload.  Versions 2 and 3 (3 is what the driver
 * writes) start with a VERSION record in the 16-byte struct
 * mlx5c_mig_header, which every reader can parse; every later record has
 * the 24-byte struct mlx5c_mig_header_v2 and its xxh64 checksum.  A stream
 * that does not start with a VERSION record is version 1: 16-byte headers,
 * no record checksum.
 *
 *   VERSION (MANDATORY)        struct mlx5c_mig_version.  First, only there.
 *   STOP_COPY_SIZE (OPTIONAL)  le64: the size of the largest image still to
 *                              come (versions 1, 2: so the target can
 *                              allocate before the stop-copy phase;
 *                              version 3: advice only).
 *   FW_DATA (MANDATORY)        version 3: one part of a firmware image
 *                              (struct mlx5c_image_header, struct
 *                              mlx5c_image_part, the part's body); versions
 *                              1, 2: one whole image.  Applied in order.
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
#define MLX5C_MIG_TAG_VERSION		(1 << 1)

/* Stream versions (struct mlx5c_mig_version.version). */
#define MLX5C_STREAM_V1			1	/* no VERSION record */
#define MLX5C_STREAM_V2			2
#define MLX5C_STREAM_V3			3	/* images in parts */
#define MLX5C_STREAM_VERSION		MLX5C_STREAM_V3	/* what is written */

/* A version 1 record header, and the header of the VERSION record. */
struct mlx5c_mig_header {
	__le64 record_size;	/* payload bytes after this header */
	__le32 flags;		/* MLX5C_MIG_F_* */
	__le32 tag;		/* MLX5C_MIG_TAG_* */
};

/*
 * The header of every record after the VERSION record in a version 2
 * stream.  checksum is the xxh64 (seed 0) of this header with checksum 0,
 * followed by the payload.
 */
struct mlx5c_mig_header_v2 {
	__le64 record_size;	/* payload bytes after this header */
	__le32 flags;		/* MLX5C_MIG_F_* */
	__le32 tag;		/* MLX5C_MIG_TAG_* */
	__le64 checksum;
};

/* Payload of a MLX5C_MIG_TAG_VERSION record. */
struct mlx5c_mig_version {
	__le32 version;		/* MLX5C_STREAM_V* */
	__le32 reserved;	/* 0 */
};

/* Payload of a MLX5C_MIG_TAG_STOP_COPY_SIZE record. */
struct mlx5c_mig_stop_copy_size {
	__le64 size;
};

#define MLX5C_IMAGE_MAGIC	0x4935434dU	/* "MC5I" */
#define MLX5C_IMAGE_VERSION	1	/* in a version 1 stream */
#define MLX5C_IMAGE_VERSION_2	2	/* in a version 2 stream */
#define MLX5C_IMAGE_VERSION_3	3	/* in a version 3 stream */

/* struct mlx5c_image_header.kind */
#define MLX5C_IMAGE_INITIAL	1	/* first image, saved at PRE_COPY */
#define MLX5C_IMAGE_MIDDLE	2	/* incremental, during PRE_COPY */
#define MLX5C_IMAGE_FINAL	3	/* saved at STOP_COPY */

/* struct mlx5c_image_header.flags */
#define MLX5C_IMAGE_F_FULL	(1 << 0)	/* every page, no index */

#define MLX5C_IMAGE_MIN_PAGE	512	/* smallest page_size */

/*
 * A firmware image.  A full image's body is the whole device memory.  An
 * incremental image's body is nr_pages le32 page indexes in increasing
 * order, zero-padded to a multiple of 8 bytes, then the nr_pages pages.
 * page_size is the source's granule, a power of two from
 * MLX5C_IMAGE_MIN_PAGE that divides mem_size: page i is the bytes from
 * i * page_size, whatever the target's own page size.  In a version 1
 * stream checksum is the xxh64 (seed 0) of the whole image with checksum 0;
 * in a version 2 or 3 stream it is 0 (the record checksum covers it).
 *
 * In a version 3 stream an image comes in parts, one FW_DATA record each:
 * every part repeats the image header (nr_pages is the whole image's) and
 * then has a struct mlx5c_image_part and the part's body, laid out as an
 * image body of the part's pages.  See Documentation/mlx5c-stream.rst.
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

/*
 * A part of a version 3 image, after the image header in its FW_DATA
 * record.  first is the position in the image of the part's first page
 * (the pages of the parts before it); parts come in order, without gap,
 * and the image ends with the part that reaches nr_pages.  A part carries
 * at most MLX5C_PART_MAX_DATA bytes of pages and at least one page, but
 * for an image of no pages, which is one part of none.
 */
struct mlx5c_image_part {
	__le64 first;
	__le32 nr_pages;	/* pages in this part */
	__le32 reserved;	/* 0 */
};

#define MLX5C_PART_MAX_DATA	(1U << 20)	/* page bytes in one part */

#endif /* _UAPI_LINUX_MLX5C_VFIO_H */
