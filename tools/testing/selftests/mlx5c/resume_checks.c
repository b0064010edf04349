// SPDX-License-Identifier: GPL-2.0
/*
 * The resuming side's checks on an image, one directed case each: every
 * crafted image carries a correct checksum (the checksum is no MAC: the
 * stream is untrusted), is refused with the documented errno, and leaves
 * the function's memory untouched.  Also: a delta needs a full image in
 * the same session, and images must come in order (seq, kind).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <xxhash.h>

#include "harness.h"
#include "mig_common.h"

#define PAGE 4096

struct img {
	uint8_t *buf;		/* record header, then the image */
	size_t len;
};

static struct mlx5c_image_header *ih(struct img *m)
{
	return (void *)(m->buf + HDR_SIZE);
}

/* Set the record size and a correct checksum over the image. */
static void seal(struct img *m)
{
	struct mlx5c_mig_header *h = (void *)m->buf;

	h->record_size = m->len - HDR_SIZE;
	h->flags = MLX5C_MIG_F_MANDATORY;
	h->tag = MLX5C_MIG_TAG_FW_DATA;
	ih(m)->checksum = 0;
	ih(m)->checksum = XXH64(m->buf + HDR_SIZE, m->len - HDR_SIZE, 0);
}

static int img_alloc(struct img *m, size_t body, uint64_t mem, bool full,
		     uint16_t kind, uint64_t seq, uint64_t nr)
{
	m->len = HDR_SIZE + IMG_HDR_SIZE + body;
	m->buf = calloc(1, m->len);
	if (!m->buf)
		return -ENOMEM;
	ih(m)->magic = MLX5C_IMAGE_MAGIC;
	ih(m)->version = MLX5C_IMAGE_VERSION;
	ih(m)->kind = kind;
	ih(m)->flags = full ? MLX5C_IMAGE_F_FULL : 0;
	ih(m)->page_size = PAGE;
	ih(m)->mem_size = mem;
	ih(m)->nr_pages = nr;
	ih(m)->seq = seq;
	return 0;
}

static int make_full(struct img *m, uint64_t mem, uint16_t kind,
		     uint64_t seq, uint64_t seed)
{
	int ret = img_alloc(m, mem, mem, true, kind, seq, mem / PAGE);

	if (!ret) {
		fill_pattern(m->buf + HDR_SIZE + IMG_HDR_SIZE, mem, seed);
		seal(m);
	}
	return ret;
}

static size_t index_len(uint64_t nr)
{
	return (nr * 4 + 7) & ~(size_t)7;
}

/* A delta of @nr pages at @idx; each page is filled from its index. */
static int make_delta(struct img *m, uint64_t mem, uint16_t kind,
		      uint64_t seq, const uint32_t *idx, uint64_t nr)
{
	uint8_t *body;
	int ret = img_alloc(m, index_len(nr) + nr * PAGE, mem, false, kind,
			    seq, nr);

	if (ret)
		return ret;
	body = m->buf + HDR_SIZE + IMG_HDR_SIZE;
	memcpy(body, idx, nr * 4);
	for (uint64_t i = 0; i < nr; i++)
		fill_pattern(body + index_len(nr) + i * PAGE, PAGE,
			     0x1000 + idx[i]);
	seal(m);
	return 0;
}

/* Apply a (valid) delta to a shadow copy of the memory. */
static void apply_delta(uint8_t *shadow, struct img *m)
{
	uint64_t nr = ih(m)->nr_pages;
	uint8_t *body = m->buf + HDR_SIZE + IMG_HDR_SIZE;
	uint32_t *idx = (uint32_t *)body;

	for (uint64_t i = 0; i < nr; i++)
		memcpy(shadow + (size_t)idx[i] * PAGE,
		       body + index_len(nr) + i * PAGE, PAGE);
}

FIXTURE(rc) {
	struct pair p;
	struct vdev *d;
	uint64_t mem, nr;
	struct img full;	/* a valid INITIAL, seq 0 */
	uint8_t *expect;	/* what the memory must hold */
};

FIXTURE_SETUP(rc)
{
	int ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	self->d = &self->p.dst;
	self->mem = self->d->bar2_size;
	self->nr = self->mem / PAGE;
	ASSERT_EQ(0, make_full(&self->full, self->mem, MLX5C_IMAGE_INITIAL,
			       0, 77));
	self->expect = malloc(self->mem);
	ASSERT_NE(NULL, self->expect);
}

FIXTURE_TEARDOWN(rc)
{
	free(self->full.buf);
	free(self->expect);
	pair_close(&self->p);
}

/*
 * One RESUMING session: write @n images, each in one write.  Returns 0
 * when all were accepted and the session ended (RESUMING -> STOP ->
 * RUNNING), else the -errno of the first refused write; then the error is
 * sticky, the session cannot end, and a reset returns to RUNNING.
 */
static int session(struct __test_metadata *_metadata, struct vdev *d,
		   struct img *imgs, int n)
{
	uint32_t st;
	int fd, ret = 0;

	ASSERT_EQ(0, mig_set_state(d, ST(RESUMING), &fd));
	for (int i = 0; i < n && !ret; i++)
		ret = stream_write(fd, imgs[i].buf, imgs[i].len, 0);
	if (!ret) {
		EXPECT_EQ(0, mig_set_state(d, ST(STOP), NULL));
		EXPECT_EQ(0, mig_set_state(d, ST(RUNNING), NULL));
	} else {
		EXPECT_EQ(-1, write(fd, imgs[0].buf, HDR_SIZE));
		EXPECT_EQ(ENODEV, errno);
		EXPECT_EQ(-EINVAL, mig_set_state(d, ST(STOP), NULL));
		EXPECT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	}
	close(fd);
	EXPECT_EQ(0, mig_get_state(d, &st));
	EXPECT_EQ(ST(RUNNING), st);
	return ret;
}

/* The first image of a session, refused: memory keeps its 0x5a. */
static void refuse_first(struct __test_metadata *_metadata,
			 FIXTURE_DATA(rc) *self, struct img *m, int err)
{
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(-err, session(_metadata, self->d, m, 1));
	memset(self->expect, 0x5a, self->mem);
	ASSERT_EQ(0, memcmp(self->d->bar2, self->expect, self->mem));
}

/* A full header field changed (checksum resealed) is refused. */
#define FULL_CASE(name, field, value, err)				\
TEST_F(rc, name)							\
{									\
	ih(&self->full)->field = (value);				\
	seal(&self->full);						\
	refuse_first(_metadata, self, &self->full, (err));		\
}

FULL_CASE(version, version, MLX5C_IMAGE_VERSION + 1, EINVAL)
FULL_CASE(kind_zero, kind, 0, EINVAL)
FULL_CASE(kind_unknown, kind, MLX5C_IMAGE_FINAL + 1, EINVAL)
FULL_CASE(unknown_image_flag, flags, MLX5C_IMAGE_F_FULL | 2, EINVAL)
FULL_CASE(page_size, page_size, 2 * PAGE, EINVAL)
FULL_CASE(mem_size, mem_size, self->mem * 2, EINVAL)
FULL_CASE(full_nr_pages, nr_pages, self->nr - 1, EINVAL)
/* Order: a session starts with image 0, a full INITIAL or FINAL one. */
FULL_CASE(first_seq_not_zero, seq, 1, EINVAL)
FULL_CASE(first_kind_middle, kind, MLX5C_IMAGE_MIDDLE, EINVAL)

TEST_F(rc, bad_checksum)
{
	ih(&self->full)->checksum ^= 1;
	refuse_first(_metadata, self, &self->full, EBADMSG);
}

TEST_F(rc, full_body_short)
{
	self->full.len -= 8;
	seal(&self->full);
	refuse_first(_metadata, self, &self->full, EINVAL);
}

TEST_F(rc, valid_full_loads)
{
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(0, session(_metadata, self->d, &self->full, 1));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->full.buf + HDR_SIZE +
			    IMG_HDR_SIZE, self->mem));
}

/*
 * After the valid full image, @bad is refused with @err and memory holds
 * exactly the full image.
 */
static void refuse_after_full(struct __test_metadata *_metadata,
			      FIXTURE_DATA(rc) *self, struct img *bad, int err)
{
	struct img imgs[2] = { self->full, *bad };

	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(-err, session(_metadata, self->d, imgs, 2));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->full.buf + HDR_SIZE +
			    IMG_HDR_SIZE, self->mem));
	free(bad->buf);
}

TEST_F(rc, delta_nr_pages_too_big)
{
	uint32_t idx[1] = { 3 };
	struct img m;

	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx, 1));
	ih(&m)->nr_pages = self->nr;
	seal(&m);
	refuse_after_full(_metadata, self, &m, EINVAL);
}

/* A delta of every page, valid in all else, must be a full image. */
TEST_F(rc, delta_of_every_page)
{
	uint32_t *idx = malloc(self->nr * sizeof(*idx));
	struct img m;

	ASSERT_NE(NULL, idx);
	for (uint64_t i = 0; i < self->nr; i++)
		idx[i] = (uint32_t)i;
	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx,
				self->nr));
	free(idx);
	refuse_after_full(_metadata, self, &m, EINVAL);
}

TEST_F(rc, delta_body_length)
{
	uint32_t idx[2] = { 3, 4 };
	struct img m;

	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx, 2));
	m.len -= PAGE;
	seal(&m);
	refuse_after_full(_metadata, self, &m, EINVAL);
}

TEST_F(rc, delta_index_out_of_range)
{
	uint32_t idx[2] = { 3, (uint32_t)self->nr };
	struct img m;

	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx, 2));
	refuse_after_full(_metadata, self, &m, EINVAL);
}

TEST_F(rc, delta_index_repeated)
{
	uint32_t idx[2] = { 3, 3 };
	struct img m;

	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx, 2));
	refuse_after_full(_metadata, self, &m, EINVAL);
}

TEST_F(rc, delta_index_decreasing)
{
	uint32_t idx[2] = { 5, 3 };
	struct img m;

	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx, 2));
	refuse_after_full(_metadata, self, &m, EINVAL);
}

TEST_F(rc, delta_index_padding)
{
	uint32_t idx[1] = { 3 };
	struct img m;

	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx, 1));
	m.buf[HDR_SIZE + IMG_HDR_SIZE + 5] = 1;
	seal(&m);
	refuse_after_full(_metadata, self, &m, EINVAL);
}

TEST_F(rc, delta_seq_not_increasing)
{
	uint32_t idx[1] = { 3 };
	struct img m;

	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 0, idx, 1));
	refuse_after_full(_metadata, self, &m, EINVAL);
}

TEST_F(rc, second_initial)
{
	uint32_t idx[1] = { 3 };
	struct img m;

	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_INITIAL, 1, idx, 1));
	refuse_after_full(_metadata, self, &m, EINVAL);
}

TEST_F(rc, image_after_final)
{
	uint32_t idx[1] = { 3 };
	struct img m;

	ih(&self->full)->kind = MLX5C_IMAGE_FINAL;
	seal(&self->full);
	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx, 1));
	refuse_after_full(_metadata, self, &m, EINVAL);
}

/* The full image of an earlier session is no base for a delta. */
TEST_F(rc, delta_without_full_in_session)
{
	uint32_t idx[1] = { 3 };
	struct img m;

	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(0, session(_metadata, self->d, &self->full, 1));
	ASSERT_EQ(0, make_delta(&m, self->mem, MLX5C_IMAGE_MIDDLE, 1, idx, 1));
	memcpy(self->expect, self->d->bar2, self->mem);
	ASSERT_EQ(-EINVAL, session(_metadata, self->d, &m, 1));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->expect, self->mem));
	free(m.buf);
}

/*
 * A delta as a session's first image, with seq 0 and kind INITIAL or
 * FINAL: refused, though an earlier session loaded a full image.
 */
TEST_F(rc, first_image_delta)
{
	static const uint16_t kinds[] = { MLX5C_IMAGE_INITIAL, MLX5C_IMAGE_FINAL };
	uint32_t idx[1] = { 3 };
	struct img m;

	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(0, session(_metadata, self->d, &self->full, 1));
	memcpy(self->expect, self->d->bar2, self->mem);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		ASSERT_EQ(0, make_delta(&m, self->mem, kinds[i], 0, idx, 1));
		EXPECT_EQ(-EINVAL, session(_metadata, self->d, &m, 1));
		EXPECT_EQ(0, memcmp(self->d->bar2, self->expect, self->mem));
		free(m.buf);
	}
}

/* In order, with a gap in seq (a failed save): accepted and applied. */
TEST_F(rc, valid_full_and_deltas)
{
	uint32_t a[2] = { 3, 9 }, b[3] = { 0, 9, (uint32_t)self->nr - 1 };
	struct img imgs[3] = { self->full };

	ASSERT_EQ(0, make_delta(&imgs[1], self->mem, MLX5C_IMAGE_MIDDLE, 1,
				a, 2));
	ASSERT_EQ(0, make_delta(&imgs[2], self->mem, MLX5C_IMAGE_FINAL, 3,
				b, 3));
	memcpy(self->expect, self->full.buf + HDR_SIZE + IMG_HDR_SIZE,
	       self->mem);
	apply_delta(self->expect, &imgs[1]);
	apply_delta(self->expect, &imgs[2]);
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(0, session(_metadata, self->d, imgs, 3));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->expect, self->mem));
	free(imgs[1].buf);
	free(imgs[2].buf);
}

/*
 * Stream formats (Documentation/mlx5c-stream.rst): a real (version 3)
 * stream from the source, decoded and re-encoded by the tests below,
 * also as the versions earlier drivers wrote.
 */

/* A growing buffer to encode streams into. */
struct enc {
	uint8_t *buf;
	size_t len, cap;
};

static void *enc_put(struct enc *e, const void *p, size_t n)
{
	void *at;

	if (e->len + n > e->cap) {
		e->cap = (e->len + n) * 2;
		e->buf = realloc(e->buf, e->cap);
		if (!e->buf)
			abort();
	}
	at = e->buf + e->len;
	if (p)
		memcpy(at, p, n);
	else
		memset(at, 0, n);
	e->len += n;
	return at;
}

static void enc_version(struct enc *e, uint32_t version)
{
	struct mlx5c_mig_header h = {
		.record_size = sizeof(struct mlx5c_mig_version),
		.flags = MLX5C_MIG_F_MANDATORY, .tag = MLX5C_MIG_TAG_VERSION,
	};
	struct mlx5c_mig_version v = { .version = version };

	enc_put(e, &h, sizeof(h));
	enc_put(e, &v, sizeof(v));
}

/* A sealed v2 record; the payload is copied (or zeroed if NULL). */
static size_t enc_rec(struct enc *e, uint32_t flags, uint32_t tag,
		      const void *payload, size_t n)
{
	struct mlx5c_mig_header_v2 h = {
		.record_size = n, .flags = flags, .tag = tag,
	};
	size_t off = e->len;

	enc_put(e, &h, sizeof(h));
	enc_put(e, payload, n);
	rec_seal(e->buf + off);
	return off;
}

/* The source's PRE_COPY stream: initial, one delta, an empty final. */
static void save_real(struct __test_metadata *_metadata,
		      FIXTURE_DATA(rc) *self, struct stream *s)
{
	static const uint32_t dirty[] = { 3, 4, 5, 200 };
	struct vdev *src = &self->p.src;
	struct vfio_precopy_info info;
	int fd;

	fill_pattern(src->bar2, self->mem, 1234);
	ASSERT_EQ(0, mig_set_state(src, ST(PRE_COPY), &fd));
	ASSERT_LT(0, stream_drain(s, fd));
	for (size_t i = 0; i < 4; i++)
		src->bar2[(size_t)dirty[i] * PAGE + 100] ^= 0xff;
	src->bar2[self->mem - 1] ^= 0xff;
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_LT(0, stream_drain(s, fd));
	ASSERT_EQ(0, mig_set_state(src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(s, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(src, ST(STOP), NULL));
	ASSERT_EQ(0, mig_set_state(src, ST(RUNNING), NULL));
	ASSERT_TRUE(stream_is_v2(s->data, s->len));
	ASSERT_EQ(MLX5C_STREAM_V3,
		  ((struct mlx5c_mig_version *)(s->data + HDR_SIZE))->version);
	ASSERT_EQ(3, stream_images(s, NULL));
}

/*
 * Emit one image as version 3 parts of at most PART_DATA page bytes:
 * @hdr (version 3, nr_pages of the whole image), then for each part its
 * place, its indexes (incremental) and its pages, from @body laid out as
 * a whole image's.
 */
static void enc_parts(struct enc *e, const struct mlx5c_image_header *hdr,
		      const uint8_t *body)
{
	uint64_t nr = hdr->nr_pages, ps = hdr->page_size, first = 0, n;
	uint64_t per = ps >= PART_DATA ? 1 : PART_DATA / ps;
	bool full = hdr->flags & MLX5C_IMAGE_F_FULL;
	const uint8_t *data = full ? body : body + index_len(nr);
	struct mlx5c_image_part part = { 0 };
	size_t rec, ilen;
	uint8_t *p;

	do {
		n = nr - first < per ? nr - first : per;
		ilen = full ? 0 : index_len(n);
		rec = enc_rec(e, MLX5C_MIG_F_MANDATORY, MLX5C_MIG_TAG_FW_DATA,
			      NULL, IMG_HDR_SIZE + PART_HDR_SIZE + ilen + n * ps);
		p = e->buf + rec + REC_HDR_SIZE;
		memcpy(p, hdr, IMG_HDR_SIZE);
		((struct mlx5c_image_header *)p)->version =
			MLX5C_IMAGE_VERSION_3;
		part.first = first;
		part.nr_pages = n;
		memcpy(p + IMG_HDR_SIZE, &part, sizeof(part));
		p += IMG_HDR_SIZE + PART_HDR_SIZE;
		if (!full)
			memcpy(p, body + first * 4, n * 4);
		memcpy(p + ilen, data + first * ps, n * ps);
		rec_seal(e->buf + rec);
		first += n;
	} while (first < nr);
}

/*
 * The version 3 stream @s as version 2 (what earlier drivers wrote): each
 * image's parts joined into one FW_DATA record, STOP_COPY_SIZE the size
 * of a full image.
 */
static void wholes(struct __test_metadata *_metadata, FIXTURE_DATA(rc) *self,
		   struct stream *s, struct enc *e)
{
	struct mlx5c_mig_stop_copy_size scs = { IMG_HDR_SIZE + self->mem };
	struct mlx5c_image_header *in, cur = { 0 };
	struct mlx5c_image_part *part;
	struct mlx5c_mig_header *h;
	size_t off = VER_REC_SIZE, rec = 0;
	uint8_t *out = NULL, *p;
	uint64_t ilen = 0, ps;
	bool full;

	enc_version(e, MLX5C_STREAM_V2);
	enc_rec(e, MLX5C_MIG_F_OPTIONAL, MLX5C_MIG_TAG_STOP_COPY_SIZE, &scs,
		sizeof(scs));
	while ((h = stream_rec(s, off))) {
		in = (void *)(s->data + off + REC_HDR_SIZE);
		part = (void *)(in + 1);
		p = (uint8_t *)(part + 1);
		off += REC_HDR_SIZE + h->record_size;
		if (h->tag != MLX5C_MIG_TAG_FW_DATA)
			continue;
		ASSERT_EQ(MLX5C_IMAGE_VERSION_3, in->version);
		full = in->flags & MLX5C_IMAGE_F_FULL;
		ps = in->page_size;
		if (!part->first) {
			cur = *in;
			cur.version = MLX5C_IMAGE_VERSION_2;
			ilen = full ? 0 : index_len(cur.nr_pages);
			rec = enc_rec(e, MLX5C_MIG_F_MANDATORY,
				      MLX5C_MIG_TAG_FW_DATA, NULL,
				      IMG_HDR_SIZE + ilen + cur.nr_pages * ps);
		}
		out = e->buf + rec + REC_HDR_SIZE;
		memcpy(out, &cur, sizeof(cur));
		out += IMG_HDR_SIZE;
		if (!full)
			memcpy(out + part->first * 4, p, part->nr_pages * 4);
		memcpy(out + ilen + part->first * ps,
		       p + (full ? 0 : index_len(part->nr_pages)),
		       part->nr_pages * ps);
		if (part->first + part->nr_pages == cur.nr_pages)
			rec_seal(e->buf + rec);
	}
}

/* The source's stream, as a version 2 stream (see wholes()). */
static void save_real_v2(struct __test_metadata *_metadata,
			 FIXTURE_DATA(rc) *self, struct stream *s)
{
	struct stream v3 = { 0 };
	struct enc e = { 0 };

	save_real(_metadata, self, &v3);
	wholes(_metadata, self, &v3, &e);
	stream_free(&v3);
	s->data = e.buf;
	s->len = e.len;
	s->cap = e.cap;
	ASSERT_EQ(3, stream_images(s, NULL));
}

/* An earlier driver's (version 2) stream loads byte-exact. */
TEST_F(rc, v2_stream_loads_byte_exact)
{
	struct stream s = { 0 };

	save_real_v2(_metadata, self, &s);
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(0, session(_metadata, self->d,
			     &(struct img){ .buf = s.data, .len = s.len }, 1));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->p.src.bar2, self->mem));
	stream_free(&s);
}

/* Offset of the first FW_DATA record after offset @after (0: none). */
static size_t find_fw(struct stream *s, size_t after)
{
	struct mlx5c_mig_header *h;
	size_t off = 0;

	while ((h = stream_rec(s, off))) {
		if (off > after && h->tag == MLX5C_MIG_TAG_FW_DATA)
			return off;
		off += stream_hdr_size(s, off) + h->record_size;
	}
	return 0;
}

/* Write @len bytes as one session of @d (see session()). */
static int load_buf(struct __test_metadata *_metadata, struct vdev *d,
		    uint8_t *buf, size_t len)
{
	struct img m = { .buf = buf, .len = len };

	return session(_metadata, d, &m, 1);
}

/*
 * The same stream as version 1: 16-byte headers, no VERSION record,
 * image version 1 with its own checksum.  A newer driver reads it.
 */
TEST_F(rc, v1_stream_loads_byte_exact)
{
	struct stream s = { 0 };
	struct mlx5c_mig_header *h;
	struct enc e = { 0 };
	size_t off = VER_REC_SIZE;

	save_real_v2(_metadata, self, &s);
	while ((h = stream_rec(&s, off))) {
		struct mlx5c_mig_header v1 = {
			.record_size = h->record_size, .flags = h->flags,
			.tag = h->tag,
		};
		uint8_t *payload;

		enc_put(&e, &v1, sizeof(v1));
		payload = enc_put(&e, s.data + off + REC_HDR_SIZE,
				  h->record_size);
		if (h->tag == MLX5C_MIG_TAG_FW_DATA) {
			struct mlx5c_image_header *img = (void *)payload;

			ASSERT_EQ(MLX5C_IMAGE_VERSION_2, img->version);
			ASSERT_EQ(0, img->checksum);
			img->version = MLX5C_IMAGE_VERSION;
			img->checksum = XXH64(payload, h->record_size, 0);
		}
		off += REC_HDR_SIZE + h->record_size;
	}
	ASSERT_FALSE(stream_is_v2(e.buf, e.len));
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(0, load_buf(_metadata, self->d, e.buf, e.len));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->p.src.bar2, self->mem));
	free(e.buf);
	stream_free(&s);
}

/* A VERSION record naming @version: refused, memory untouched. */
static void refuse_version(struct __test_metadata *_metadata,
			   FIXTURE_DATA(rc) *self, struct stream *s,
			   uint32_t version)
{
	struct mlx5c_mig_version *v = (void *)(s->data + HDR_SIZE);
	char cmd[128];
	FILE *f;
	int n = -1;

	TH_LOG("version %u", version);
	v->version = version;
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(-EPROTONOSUPPORT, load_buf(_metadata, self->d, s->data,
					     s->len));
	memset(self->expect, 0x5a, self->mem);
	ASSERT_EQ(0, memcmp(self->d->bar2, self->expect, self->mem));
	/* The kernel log names the version. */
	snprintf(cmd, sizeof(cmd),
		 "dmesg | grep -c 'migration stream announces version %u: '",
		 version);
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	EXPECT_LT(0, n);
}

TEST_F(rc, unknown_version_refused)
{
	struct stream s = { 0 };

	save_real(_metadata, self, &s);
	refuse_version(_metadata, self, &s, 4);
	refuse_version(_metadata, self, &s, 1);
	refuse_version(_metadata, self, &s, 0xffffffff);
	stream_free(&s);
}

/* A byte flipped inside a record's payload: EBADMSG, memory untouched. */
TEST_F(rc, flipped_byte_in_first_records)
{
	struct stream s = { 0 };
	size_t fw, at[3];

	save_real(_metadata, self, &s);
	fw = find_fw(&s, 0);
	ASSERT_EQ(START_SIZE, fw);
	at[0] = VER_REC_SIZE + REC_HDR_SIZE + 3;	/* STOP_COPY_SIZE */
	at[1] = fw + PART_OVERHEAD + PART_DATA / 2;	/* first part */
	at[2] = fw + REC_HDR_SIZE + 8;			/* image header */
	for (int k = 0; k < 3; k++) {
		TH_LOG("byte %zu", at[k]);
		s.data[at[k]] ^= 0x10;
		memset(self->d->bar2, 0x5a, self->mem);
		ASSERT_EQ(-EBADMSG, load_buf(_metadata, self->d, s.data,
					     s.len));
		memset(self->expect, 0x5a, self->mem);
		ASSERT_EQ(0, memcmp(self->d->bar2, self->expect, self->mem));
		s.data[at[k]] ^= 0x10;
	}
	/* Unflipped, it loads. */
	ASSERT_EQ(0, load_buf(_metadata, self->d, s.data, s.len));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->p.src.bar2, self->mem));
	stream_free(&s);
}

/*
 * A later record with a bad checksum: the records before it are applied,
 * nothing of it or after it is, and the session cannot end.  Here in a
 * version 2 stream, whose records are whole images (migration.c has a
 * version 3 one).
 */
TEST_F(rc, flipped_byte_in_later_record)
{
	struct stream s = { 0 };
	size_t fw0, fw1;

	save_real_v2(_metadata, self, &s);
	fw0 = find_fw(&s, 0);
	fw1 = find_fw(&s, fw0);
	ASSERT_LT(fw0, fw1);
	memcpy(self->expect, s.data + fw0 + REC_HDR_SIZE + IMG_HDR_SIZE,
	       self->mem);
	s.data[fw1 + REC_HDR_SIZE + IMG_HDR_SIZE + 2] ^= 1;
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(-EBADMSG, load_buf(_metadata, self->d, s.data, s.len));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->expect, self->mem));
	stream_free(&s);
}

/*
 * Version 3 part checks, on the real stream's initial image (parts of
 * PART_DATA bytes from START_SIZE): each edit makes the write that
 * carries the edited part fail with EINVAL, the parts before it applied,
 * nothing of it.  The edited part's checksum is resealed: these are the
 * part checks, not the record checksum.
 */
enum part_edit {
	PART_SKIPPED,		/* the second part left out */
	PART_TWICE,		/* the first part sent again */
	PART_OTHER_SEQ,		/* the second part names another image */
	PART_RESERVED,		/* reserved not 0 */
	PART_EMPTY,		/* no pages in a part of a non-empty image */
	PART_EDIT_NR,
};

static void part_refused(struct __test_metadata *_metadata,
			 FIXTURE_DATA(rc) *self, enum part_edit k)
{
	static const char * const names[] = {
		"second part skipped", "first part twice",
		"second part of another image", "part reserved set",
		"part of no pages",
	};
	size_t rec = PART_OVERHEAD + PART_DATA, p1 = START_SIZE + rec;
	struct stream s = { 0 };
	struct enc e = { 0 };
	struct mlx5c_image_header *img;
	struct mlx5c_image_part *part;
	uint8_t *r;

	TH_LOG("%s", names[k]);
	save_real(_metadata, self, &s);
	/* The stream up to the end of the first part, then the edit. */
	enc_put(&e, s.data, p1);
	switch (k) {
	case PART_SKIPPED:
		enc_put(&e, s.data + p1 + rec, s.len - p1 - rec);
		break;
	case PART_TWICE:
		enc_put(&e, s.data + START_SIZE, rec);
		break;
	default:
		r = enc_put(&e, s.data + p1, rec);
		img = (void *)(r + REC_HDR_SIZE);
		part = (void *)(img + 1);
		ASSERT_EQ(PART_DATA / PAGE, part->first);
		if (k == PART_OTHER_SEQ)
			img->seq++;
		else if (k == PART_RESERVED)
			part->reserved = 1;
		else
			part->nr_pages = 0;
		rec_seal(r);
		break;
	}
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(-EINVAL, load_buf(_metadata, self->d, e.buf, e.len));
	/*
	 * The first part is in (as saved: the source has changed since),
	 * the second not.
	 */
	ASSERT_EQ(0, memcmp(self->d->bar2, s.data + START_SIZE + PART_OVERHEAD,
			    PART_DATA));
	memset(self->expect, 0x5a, PART_DATA);
	ASSERT_EQ(0, memcmp(self->d->bar2 + PART_DATA, self->expect,
			    PART_DATA));
	free(e.buf);
	stream_free(&s);
}

TEST_F(rc, v3_part_checks)
{
	for (int k = 0; k < PART_EDIT_NR; k++)
		part_refused(_metadata, self, k);
}

/*
 * A stream that ends between two parts of its second image (the first one
 * complete): STOP refused, the device stays in RESUMING; the rest of the
 * image ends it.  The second image is a full FINAL one of the source's
 * memory, in parts.
 */
TEST_F(rc, v3_ends_inside_an_image)
{
	size_t first_end = START_SIZE, cut = 2 * (PART_OVERHEAD + PART_DATA);
	struct mlx5c_image_header hdr, *img;
	struct stream s = { 0 };
	struct mlx5c_mig_header *h;
	struct enc fin = { 0 };
	uint32_t st;
	int fd;

	save_real(_metadata, self, &s);
	/* The end of the initial image's parts. */
	while ((h = stream_rec(&s, first_end))) {
		img = (void *)(s.data + first_end + REC_HDR_SIZE);
		if (img->seq)
			break;
		first_end += REC_HDR_SIZE + h->record_size;
	}
	hdr = *(struct mlx5c_image_header *)(s.data + START_SIZE +
					     REC_HDR_SIZE);
	hdr.kind = MLX5C_IMAGE_FINAL;
	hdr.seq = 1;
	enc_parts(&fin, &hdr, self->p.src.bar2);
	ASSERT_LT(cut, fin.len);

	ASSERT_EQ(0, mig_set_state(self->d, ST(RESUMING), &fd));
	ASSERT_EQ(0, stream_write(fd, s.data, first_end, 0));
	ASSERT_EQ(0, stream_write(fd, fin.buf, cut, 0));
	ASSERT_EQ(-EINVAL, mig_set_state(self->d, ST(STOP), NULL));
	ASSERT_EQ(0, mig_get_state(self->d, &st));
	ASSERT_EQ(ST(RESUMING), st);
	/* The rest of the image ends it. */
	ASSERT_EQ(0, stream_write(fd, fin.buf + cut, fin.len - cut, 0));
	ASSERT_EQ(0, mig_set_state(self->d, ST(STOP), NULL));
	ASSERT_EQ(0, mig_set_state(self->d, ST(RUNNING), NULL));
	close(fd);
	ASSERT_EQ(0, memcmp(self->d->bar2, self->p.src.bar2, self->mem));
	free(fin.buf);
	stream_free(&s);
}

/*
 * The real stream re-encoded with pages of @ps bytes, as a host with that
 * page size would write it: each image is decoded into a shadow memory
 * and the byte ranges it wrote; a delta becomes the @ps pages that touch
 * those ranges, taken from the shadow.
 */
static void repage(struct __test_metadata *_metadata, FIXTURE_DATA(rc) *self,
		   struct stream *s, uint32_t ps, uint32_t version,
		   struct enc *e)
{
	struct enc tmp = { 0 };
	const size_t gran = MLX5C_IMAGE_MIN_PAGE;
	uint64_t mem = self->mem, nr = mem / ps;
	uint8_t *shadow = malloc(mem), *touched = calloc(mem / gran, 1);
	struct mlx5c_mig_stop_copy_size scs = { IMG_HDR_SIZE + mem };
	struct mlx5c_mig_header *h;
	size_t off = VER_REC_SIZE;
	int deltas = 0;

	ASSERT_NE(NULL, shadow);
	ASSERT_NE(NULL, touched);
	enc_version(e, version);
	enc_rec(e, MLX5C_MIG_F_OPTIONAL, MLX5C_MIG_TAG_STOP_COPY_SIZE, &scs,
		sizeof(scs));
	while ((h = stream_rec(s, off))) {
		struct mlx5c_image_header *in = (void *)(s->data + off +
							 REC_HDR_SIZE);
		struct mlx5c_image_header *out;
		uint8_t *body = (uint8_t *)(in + 1), *ob;
		uint64_t sps = in->page_size, n = 0, j;
		size_t rec, ilen;

		off += REC_HDR_SIZE + h->record_size;
		if (h->tag != MLX5C_MIG_TAG_FW_DATA)
			continue;
		memset(touched, 0, mem / gran);
		if (in->flags & MLX5C_IMAGE_F_FULL) {
			memcpy(shadow, body, mem);
		} else {
			uint32_t *idx = (uint32_t *)body;
			uint8_t *data = body + index_len(in->nr_pages);

			for (j = 0; j < in->nr_pages; j++) {
				memcpy(shadow + idx[j] * sps, data + j * sps,
				       sps);
				memset(touched + idx[j] * sps / gran, 1,
				       sps / gran);
			}
		}
		/* The @ps pages this image writes. */
		for (j = 0; j < nr && !(in->flags & MLX5C_IMAGE_F_FULL); j++)
			n += !!memchr(touched + j * ps / gran, 1, ps / gran);
		ilen = in->flags & MLX5C_IMAGE_F_FULL ?
		       IMG_HDR_SIZE + mem :
		       IMG_HDR_SIZE + index_len(n) + n * ps;
		tmp.len = 0;
		rec = enc_rec(version == MLX5C_STREAM_V3 ? &tmp : e,
			      MLX5C_MIG_F_MANDATORY, MLX5C_MIG_TAG_FW_DATA,
			      NULL, ilen);
		out = (void *)((version == MLX5C_STREAM_V3 ? tmp.buf : e->buf) +
			       rec + REC_HDR_SIZE);
		*out = *in;
		out->page_size = ps;
		ob = (uint8_t *)(out + 1);
		if (in->flags & MLX5C_IMAGE_F_FULL) {
			out->nr_pages = nr;
			memcpy(ob, shadow, mem);
		} else {
			uint32_t *idx = (uint32_t *)ob;
			uint8_t *data = ob + index_len(n);
			uint64_t i = 0;

			ASSERT_LT(n, nr);
			deltas += n > 0;
			out->nr_pages = n;
			for (j = 0; j < nr; j++) {
				if (!memchr(touched + j * ps / gran, 1,
					    ps / gran))
					continue;
				idx[i] = j;
				memcpy(data + i * ps, shadow + j * ps, ps);
				i++;
			}
		}
		if (version == MLX5C_STREAM_V3)
			enc_parts(e, out, (uint8_t *)(out + 1));
		else
			rec_seal(e->buf + rec);
	}
	/* The delta was re-encoded, not just the full image. */
	ASSERT_EQ(1, deltas);
	free(tmp.buf);
	free(shadow);
	free(touched);
}

static void load_repaged(struct __test_metadata *_metadata,
			 FIXTURE_DATA(rc) *self, uint32_t ps, uint32_t version)
{
	struct stream s = { 0 };
	struct enc e = { 0 };

	save_real_v2(_metadata, self, &s);
	repage(_metadata, self, &s, ps, version, &e);
	memset(self->d->bar2, 0x5a, self->mem);
	ASSERT_EQ(0, load_buf(_metadata, self->d, e.buf, e.len));
	ASSERT_EQ(0, memcmp(self->d->bar2, self->p.src.bar2, self->mem));
	free(e.buf);
	stream_free(&s);
}

/* A 64 KiB host's stream loads on this (4 KiB) host, byte-exact. */
TEST_F(rc, v3_page_size_64k_loads)
{
	load_repaged(_metadata, self, 64 << 10, MLX5C_STREAM_V3);
}

/* And a stream with pages smaller than ours. */
TEST_F(rc, v3_page_size_1k_loads)
{
	load_repaged(_metadata, self, 1 << 10, MLX5C_STREAM_V3);
}

/* The same from an earlier driver's (version 2) stream. */
TEST_F(rc, v2_page_size_64k_loads)
{
	load_repaged(_metadata, self, 64 << 10, MLX5C_STREAM_V2);
}

TEST_F(rc, v2_page_size_1k_loads)
{
	load_repaged(_metadata, self, 1 << 10, MLX5C_STREAM_V2);
}

/* Page sizes the target refuses: not a power of two, or too small. */
TEST_F(rc, v2_page_size_invalid)
{
	static const uint32_t bad[] = { 3 << 12, 256, 0 };
	struct stream s = { 0 };
	struct enc e = { 0 };
	size_t fw;

	save_real_v2(_metadata, self, &s);
	repage(_metadata, self, &s, 64 << 10, MLX5C_STREAM_V2, &e);
	fw = START_SIZE;
	for (int k = 0; k < 3; k++) {
		struct mlx5c_image_header *img = (void *)(e.buf + fw +
							  REC_HDR_SIZE);

		img->page_size = bad[k];
		img->nr_pages = bad[k] ? self->mem / bad[k] : 0;
		rec_seal(e.buf + fw);
		memset(self->d->bar2, 0x5a, self->mem);
		ASSERT_EQ(-EINVAL, load_buf(_metadata, self->d, e.buf, e.len));
		memset(self->expect, 0x5a, self->mem);
		ASSERT_EQ(0, memcmp(self->d->bar2, self->expect, self->mem));
	}
	free(e.buf);
	stream_free(&s);
}

TEST_HARNESS_MAIN
