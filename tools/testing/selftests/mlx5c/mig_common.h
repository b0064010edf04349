/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the migration selftests: a fixture of two bound functions
 * (source and destination) with BAR2 mapped, and stream helpers.
 */
#ifndef MIG_COMMON_H
#define MIG_COMMON_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/mlx5c_vfio.h>

#include "mlx5c_util.h"

#define ST(x) VFIO_DEVICE_STATE_##x
#define HDR_SIZE sizeof(struct mlx5c_mig_header)		/* v1, VERSION */
#define REC_HDR_SIZE sizeof(struct mlx5c_mig_header_v2)	/* v2 records */
#define IMG_HDR_SIZE sizeof(struct mlx5c_image_header)
#define PART_HDR_SIZE sizeof(struct mlx5c_image_part)
/* A version 3 part's headers: record, image, part. */
#define PART_OVERHEAD (REC_HDR_SIZE + IMG_HDR_SIZE + PART_HDR_SIZE)
/* What the driver puts in a part (Documentation/mlx5c-stream.rst). */
#define PART_DATA (256 << 10)
/* A saved (v2) stream starts with VERSION, then STOP_COPY_SIZE. */
#define VER_REC_SIZE (HDR_SIZE + sizeof(struct mlx5c_mig_version))
#define START_SIZE (VER_REC_SIZE + REC_HDR_SIZE + \
		    sizeof(struct mlx5c_mig_stop_copy_size))

/*
 * The stream bytes of a version 3 image of @nr pages of 4 KiB (full: the
 * whole @mem), as the driver cuts it: parts of PART_DATA bytes of pages,
 * an incremental part's index padded to 8 bytes; one empty part when
 * there are no pages.
 */
static inline size_t image_bytes(int full, size_t nr, size_t mem)
{
	size_t per = PART_DATA / 4096, n, bytes = 0;

	if (full)
		nr = mem / 4096;
	do {
		n = nr < per ? nr : per;
		bytes += PART_OVERHEAD + n * 4096 +
			 (full ? 0 : (n * 4 + 7) / 8 * 8);
		nr -= n;
	} while (nr);
	return bytes;
}

struct stream {
	uint8_t *data;
	size_t len;
	size_t cap;
};

static inline void stream_free(struct stream *s)
{
	free(s->data);
	memset(s, 0, sizeof(*s));
}

/*
 * Append everything readable from @fd until end of stream (0) or, in
 * PRE_COPY, until ENOMSG.  Returns 0, or -errno of the read that failed.
 */
static inline int stream_read(struct stream *s, int fd)
{
	ssize_t n;

	for (;;) {
		if (s->cap - s->len < (1 << 20)) {
			s->cap = s->cap ? s->cap * 2 : (8 << 20);
			s->data = realloc(s->data, s->cap);
			if (!s->data)
				return -ENOMEM;
		}
		n = read(fd, s->data + s->len, 1 << 20);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == ENOMSG ? 0 : -errno;
		s->len += n;
	}
}

/* Read until ENOMSG; returns bytes read or -errno. */
static inline ssize_t stream_drain(struct stream *s, int fd)
{
	size_t before = s->len;
	int ret = stream_read(s, fd);

	return ret ? ret : (ssize_t)(s->len - before);
}

/* A version 2 stream starts with a VERSION record. */
static inline int stream_is_v2(const uint8_t *data, size_t len)
{
	const struct mlx5c_mig_header *h = (const void *)data;

	return len >= HDR_SIZE && h->tag == MLX5C_MIG_TAG_VERSION;
}

/* The size of the header of the record at @off. */
static inline size_t stream_hdr_size(struct stream *s, size_t off)
{
	return off && stream_is_v2(s->data, s->len) ? REC_HDR_SIZE : HDR_SIZE;
}

/*
 * The record at @off: header pointer, or NULL past the end.  A version 2
 * header starts like a version 1 header (size, flags, tag).
 */
static inline struct mlx5c_mig_header *stream_rec(struct stream *s, size_t off)
{
	return off + stream_hdr_size(s, off) <= s->len ?
	       (void *)(s->data + off) : NULL;
}

/*
 * Is the FW_DATA payload at @img the start of an image?  In version 3 an
 * image comes in parts, one record each, and only its first part starts
 * it; before, every FW_DATA record is a whole image.
 */
static inline int image_starts(const struct mlx5c_image_header *img)
{
	const struct mlx5c_image_part *part = (const void *)(img + 1);

	return img->version != MLX5C_IMAGE_VERSION_3 || part->first == 0;
}

/* Count images; the last image's header in *last (may be NULL). */
static inline int stream_images(struct stream *s,
				struct mlx5c_image_header **last)
{
	struct mlx5c_image_header *img;
	struct mlx5c_mig_header *h;
	size_t off = 0;
	int n = 0;

	while ((h = stream_rec(s, off))) {
		img = (void *)(s->data + off + stream_hdr_size(s, off));
		if (h->tag == MLX5C_MIG_TAG_FW_DATA && image_starts(img)) {
			n++;
			if (last)
				*last = img;
		}
		off += stream_hdr_size(s, off) + h->record_size;
	}
	return n;
}

#ifdef XXH_VERSION_NUMBER
/* Recompute the checksum of the version 2 record at @rec (tests that edit). */
static inline void rec_seal(void *rec)
{
	struct mlx5c_mig_header_v2 *h = rec;
	uint8_t *buf = malloc(REC_HDR_SIZE + h->record_size);

	if (!buf)
		abort();
	h->checksum = 0;
	memcpy(buf, rec, REC_HDR_SIZE + h->record_size);
	h->checksum = XXH64(buf, REC_HDR_SIZE + h->record_size, 0);
	free(buf);
}
#endif

struct pair {
	char bdf[MLX5C_MAX_FUNCS][BDF_LEN];
	int nr;
	struct vdev src, dst;
	const char *why;	/* set when the test must skip: the reason */
};

/*
 * The first two functions given opened in @mode.  When they are not given
 * (or not bound), or in VDEV_CDEV mode the kernel has no vfio cdev or
 * iommufd, an error with the reason in p->why: the test skips.
 */
static inline int pair_open_mode(struct pair *p, enum vdev_mode mode)
{
	int ret;

	p->why = NULL;
	p->nr = mlx5c_functions(p->bdf, 2, &p->why);
	if (p->nr < 0)
		return p->nr;
	if (mode == VDEV_CDEV) {
		ret = vdev_cdev_available(p->bdf[0], &p->why);
		if (ret)
			return ret;
	}
	ret = vdev_open_mode(&p->src, p->bdf[0], mode);
	if (ret)
		return ret;
	ret = vdev_open_mode(&p->dst, p->bdf[1], mode);
	if (ret)
		return ret;
	return vdev_map_bar2(&p->src) ?: vdev_map_bar2(&p->dst);
}

static inline int pair_open(struct pair *p)
{
	return pair_open_mode(p, VDEV_GROUP);
}

static inline void pair_close(struct pair *p)
{
	static const char * const cmds[] = {
		"query_size", "suspend_initiator", "suspend_responder",
		"resume_initiator", "resume_responder", "save_initial",
		"save_middle", "save_final", "load",
	};
	char knob[64];

	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			snprintf(knob, sizeof(knob), "%s/fail_count", cmds[i]);
			knob_write(p->bdf[f], knob, "0");
			snprintf(knob, sizeof(knob), "%s/fail_skip", cmds[i]);
			knob_write(p->bdf[f], knob, "0");
			snprintf(knob, sizeof(knob), "%s/fail_submit", cmds[i]);
			knob_write(p->bdf[f], knob, "N");
			snprintf(knob, sizeof(knob), "%s/fail_errno", cmds[i]);
			knob_write(p->bdf[f], knob, "0");
		}
		knob_write(p->bdf[f], "latency_ms", "1");
	}
	vdev_close(&p->src);
	vdev_close(&p->dst);
}

/* Write @s to @fd in pieces of @split bytes (0: all at once). */
static inline int stream_write(int fd, const uint8_t *data, size_t len,
			       size_t split)
{
	size_t off = 0, n;
	ssize_t w;

	while (off < len) {
		n = split ? split : len - off;
		if (n > len - off)
			n = len - off;
		w = write(fd, data + off, n);
		if (w < 0)
			return -errno;
		off += w;
	}
	return 0;
}

/* Load @s into @d: RESUMING, write, STOP, RUNNING. */
static inline int load_stream(struct vdev *d, const uint8_t *data, size_t len,
			      size_t split)
{
	int fd, ret;

	ret = mig_set_state(d, ST(RESUMING), &fd);
	if (ret)
		return ret;
	ret = stream_write(fd, data, len, split);
	if (!ret)
		ret = mig_set_state(d, ST(STOP), NULL);
	close(fd);
	if (!ret)
		ret = mig_set_state(d, ST(RUNNING), NULL);
	return ret;
}

#endif
