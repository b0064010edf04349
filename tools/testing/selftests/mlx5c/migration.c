// SPDX-License-Identifier: GPL-2.0
/*
 * STOP_COPY migration through mlx5c-vfio-pci: the state machine arcs, a
 * byte-exact round trip between two functions, write splits, malformed
 * streams, data fd life cycle, poll and O_NONBLOCK, reset and close in
 * the middle of a save, and injected firmware failures.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include <xxhash.h>

#include "harness.h"
#include "mig_common.h"

FIXTURE(mig) {
	struct pair p;
	uint8_t *pattern;
};

FIXTURE_SETUP(mig)
{
	int ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	self->pattern = malloc(self->p.src.bar2_size);
	ASSERT_NE(NULL, self->pattern);
	fill_pattern(self->pattern, self->p.src.bar2_size, getpid());
	memcpy(self->p.src.bar2, self->pattern, self->p.src.bar2_size);
	memset(self->p.dst.bar2, 0x5a, self->p.dst.bar2_size);
}

#define PRECOPY_PARAM "/sys/module/mlx5c_vfio_pci/parameters/precopy"

FIXTURE_TEARDOWN(mig)
{
	sysfs_write(PRECOPY_PARAM, "Y");
	pair_close(&self->p);
	free(self->pattern);
}

static int save_stop_copy(struct vdev *d, struct stream *s)
{
	int fd, ret;

	ret = mig_set_state(d, ST(STOP_COPY), &fd);
	if (ret)
		return ret;
	ret = stream_read(s, fd);
	close(fd);
	if (!ret)
		ret = mig_set_state(d, ST(RUNNING), NULL);
	return ret;
}

TEST_F(mig, flags)
{
	uint64_t flags;

	ASSERT_EQ(0, mig_get_flags(&self->p.src, &flags));
	ASSERT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		  VFIO_MIGRATION_PRE_COPY, flags);
}

/*
 * precopy=N hides PRE_COPY from the next opener (make bench compares
 * QEMU's downtime with and without it): the core then refuses the PRE_COPY
 * states, and STOP_COPY still moves the function byte-exact.
 */
TEST_F(mig, precopy_param_hides_precopy)
{
	struct stream s = { 0 };
	uint64_t flags;
	int fd = -1;

	ASSERT_EQ(0, sysfs_write(PRECOPY_PARAM, "N"));
	/* Open devices keep what they were offered. */
	ASSERT_EQ(0, mig_get_flags(&self->p.src, &flags));
	ASSERT_NE(0, flags & VFIO_MIGRATION_PRE_COPY);

	vdev_close(&self->p.src);
	ASSERT_EQ(0, vdev_open(&self->p.src, self->p.bdf[0]));
	ASSERT_EQ(0, vdev_map_bar2(&self->p.src));
	ASSERT_EQ(0, mig_get_flags(&self->p.src, &flags));
	ASSERT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P, flags);
	ASSERT_EQ(-EINVAL, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_EQ(-1, fd);
	ASSERT_EQ(0, memcmp(self->pattern, self->p.src.bar2,
			    self->p.src.bar2_size));
	ASSERT_EQ(0, save_stop_copy(&self->p.src, &s));
	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 0));
	ASSERT_EQ(0, memcmp(self->pattern, self->p.dst.bar2,
			    self->p.dst.bar2_size));
	stream_free(&s);

	ASSERT_EQ(0, sysfs_write(PRECOPY_PARAM, "Y"));
	vdev_close(&self->p.src);
	ASSERT_EQ(0, vdev_open(&self->p.src, self->p.bdf[0]));
	ASSERT_EQ(0, mig_get_flags(&self->p.src, &flags));
	ASSERT_NE(0, flags & VFIO_MIGRATION_PRE_COPY);
}

static const uint32_t states[] = {
	ST(RUNNING), ST(RUNNING_P2P), ST(STOP), ST(STOP_COPY),
	ST(RESUMING), ST(PRE_COPY), ST(PRE_COPY_P2P),
};

static bool is_precopy(uint32_t s)
{
	return s == ST(PRE_COPY) || s == ST(PRE_COPY_P2P);
}

static bool gives_fd(uint32_t from, uint32_t to)
{
	if (from == to)
		return false;
	if (is_precopy(to))
		return !is_precopy(from);
	if (to == ST(STOP_COPY))
		return !is_precopy(from);
	return to == ST(RESUMING);
}

/* -errno the arc fails with and stays in @from, or 0. */
static int arc_errno(uint32_t from, uint32_t to)
{
	if (from == to)
		return 0;
	if (from == ST(RESUMING))	/* an empty stream cannot end */
		return -EINVAL;
	if (from == ST(STOP_COPY) && is_precopy(to))
		return -EINVAL;
	return 0;
}

TEST_F(mig, every_arc)
{
	struct vdev *d = &self->p.src;
	uint32_t got;
	int fd, ret;

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		for (size_t j = 0; j < sizeof(states) / sizeof(states[0]); j++) {
			uint32_t from = states[i], to = states[j];
			int from_fd;

			ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
			ASSERT_EQ(0, mig_get_state(d, &got));
			ASSERT_EQ(ST(RUNNING), got);
			ASSERT_EQ(0, mig_set_state(d, from, &from_fd));
			ASSERT_EQ(gives_fd(ST(RUNNING), from), from_fd >= 0);

			ret = mig_set_state(d, to, &fd);
			TH_LOG("%u -> %u: %d fd %d", from, to, ret, fd);
			ASSERT_EQ(arc_errno(from, to), ret);
			ASSERT_EQ(0, mig_get_state(d, &got));
			ASSERT_EQ(ret ? from : to, got);
			if (!ret) {
				ASSERT_EQ(gives_fd(from, to), fd >= 0);
			}
			if (fd >= 0)
				close(fd);
			if (from_fd >= 0)
				close(from_fd);
		}
	}
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, memcmp(d->bar2, self->pattern, d->bar2_size));
}

TEST_F(mig, error_until_reset)
{
	struct vdev *d = &self->p.src;
	uint32_t got;

	ASSERT_EQ(0, mig_set_state(d, ST(RUNNING_P2P), NULL));
	ASSERT_EQ(0, knob_write(d->bdf, "resume_initiator/fail_count", "1"));
	ASSERT_EQ(-EIO, mig_set_state(d, ST(RUNNING), NULL));
	ASSERT_EQ(0, mig_get_state(d, &got));
	ASSERT_EQ(ST(ERROR), got);
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		ASSERT_EQ(-EINVAL, mig_set_state(d, states[i], NULL));
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, mig_get_state(d, &got));
	ASSERT_EQ(ST(RUNNING), got);
	ASSERT_EQ(0, memcmp(d->bar2, self->pattern, d->bar2_size));
}

TEST_F(mig, round_trip_byte_exact)
{
	struct mlx5c_mig_header *h;
	struct mlx5c_image_header *img = NULL;
	struct stream s = { 0 };
	uint64_t size;
	uint32_t got;

	ASSERT_EQ(0, mig_data_size(&self->p.src, &size));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, save_stop_copy(&self->p.src, &s));
	/* The estimate is honest: exactly what STOP_COPY produced. */
	ASSERT_EQ(size, s.len);

	h = stream_rec(&s, 0);
	ASSERT_NE(NULL, h);
	ASSERT_EQ(MLX5C_MIG_TAG_VERSION, h->tag);
	ASSERT_EQ(MLX5C_MIG_F_MANDATORY, h->flags);
	ASSERT_EQ(MLX5C_STREAM_V3,
		  ((struct mlx5c_mig_version *)(h + 1))->version);
	h = stream_rec(&s, VER_REC_SIZE);
	ASSERT_NE(NULL, h);
	ASSERT_EQ(MLX5C_MIG_TAG_STOP_COPY_SIZE, h->tag);
	ASSERT_EQ(MLX5C_MIG_F_OPTIONAL, h->flags);
	ASSERT_EQ(1, stream_images(&s, &img));
	ASSERT_EQ(MLX5C_IMAGE_F_FULL, img->flags);
	ASSERT_EQ(self->p.src.bar2_size, img->mem_size);

	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 0));
	ASSERT_EQ(0, mig_get_state(&self->p.dst, &got));
	ASSERT_EQ(ST(RUNNING), got);
	ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->pattern,
			    self->p.dst.bar2_size));
	ASSERT_EQ(0, memcmp(self->p.src.bar2, self->pattern,
			    self->p.src.bar2_size));
	stream_free(&s);
}

/* Small pieces across the record boundaries, large ones in between. */
static int write_split(int fd, const uint8_t *data, size_t len, size_t split)
{
	size_t edge = 64 << 10;
	int ret;

	if (len < 2 * edge)
		return stream_write(fd, data, len, split);
	ret = stream_write(fd, data, edge, split);
	if (!ret)
		ret = stream_write(fd, data + edge, len - 2 * edge, 1 << 20);
	if (!ret)
		ret = stream_write(fd, data + len - edge, edge, split);
	return ret;
}

static int write_random(int fd, const uint8_t *data, size_t len)
{
	size_t off = 0, n;
	ssize_t w;

	srandom(42);
	while (off < len) {
		n = 1 + random() % 8192;
		if (n > len - off)
			n = len - off;
		w = write(fd, data + off, n);
		if (w < 0)
			return -errno;
		off += w;
	}
	return 0;
}

TEST_F(mig, write_splits)
{
	static const size_t splits[] = { 1, 7, 16, 4096, 0 };
	struct stream s = { 0 };
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, save_stop_copy(&self->p.src, &s));
	for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		TH_LOG("split %zu", splits[i]);
		memset(self->p.dst.bar2, 0, self->p.dst.bar2_size);
		ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &fd));
		if (splits[i]) {
			ASSERT_EQ(0, write_split(fd, s.data, s.len, splits[i]));
		} else {
			ASSERT_EQ(0, write_random(fd, s.data, s.len));
		}
		ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RUNNING), NULL));
		close(fd);
		ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->pattern,
				    self->p.dst.bar2_size));
	}
	stream_free(&s);
}

enum bad { BAD_TAG, BAD_FLAGS, BAD_HUGE, BAD_SCS_SIZE, BAD_MAGIC,
	   BAD_CHECKSUM, BAD_LATE_CHECKSUM, BAD_MEMSIZE, BAD_TRUNCATED,
	   BAD_EMPTY, BAD_NR };

static const struct {
	const char *name;
	int write_errno;	/* of the write that carries the fault */
} bad_cases[BAD_NR] = {
	[BAD_TAG] = { "unknown mandatory tag", -EOPNOTSUPP },
	[BAD_FLAGS] = { "unknown header flag", -EINVAL },
	[BAD_HUGE] = { "record larger than any image", -EINVAL },
	[BAD_SCS_SIZE] = { "STOP_COPY_SIZE of 4 bytes", -EINVAL },
	[BAD_MAGIC] = { "image magic (record resealed)", -EINVAL },
	[BAD_CHECKSUM] = { "record checksum of the first part", -EBADMSG },
	[BAD_LATE_CHECKSUM] = { "record checksum of the last part", -EBADMSG },
	[BAD_MEMSIZE] = { "image for another memory size (resealed)", -EINVAL },
	[BAD_TRUNCATED] = { "stream cut inside the image", 0 },
	[BAD_EMPTY] = { "no image at all", 0 },
};

/* Damage a copy of a good STOP_COPY stream; returns its new length. */
static size_t damage(uint8_t *buf, size_t len, enum bad kind)
{
	struct mlx5c_mig_header *scs = (void *)(buf + VER_REC_SIZE);
	size_t img_off = START_SIZE;
	struct mlx5c_mig_header *fw = (void *)(buf + img_off);
	struct mlx5c_image_header *img = (void *)(buf + img_off + REC_HDR_SIZE);

	switch (kind) {
	case BAD_TAG:
		fw->tag = 0x1234;
		break;
	case BAD_FLAGS:
		fw->flags = 0x2;
		break;
	case BAD_HUGE:
		fw->record_size = 1ull << 40;
		break;
	case BAD_SCS_SIZE:
		scs->record_size = 4;
		break;
	case BAD_MAGIC:
		img->magic ^= 1;
		rec_seal(fw);
		break;
	case BAD_CHECKSUM:
		buf[img_off + PART_OVERHEAD + 100] ^= 0x40;
		break;
	case BAD_LATE_CHECKSUM:
		buf[len - 100] ^= 0x40;
		break;
	case BAD_MEMSIZE:
		img->mem_size /= 2;
		rec_seal(fw);
		break;
	case BAD_TRUNCATED:
		return len - 4096;
	case BAD_EMPTY:
		return img_off;
	default:
		break;
	}
	return len;
}

TEST_F(mig, malformed_streams)
{
	struct stream s = { 0 };
	uint8_t *copy;
	uint32_t got;
	int fd, ret;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, save_stop_copy(&self->p.src, &s));
	copy = malloc(s.len);
	ASSERT_NE(NULL, copy);

	for (int k = 0; k < BAD_NR; k++) {
		size_t len;

		TH_LOG("%s", bad_cases[k].name);
		memcpy(copy, s.data, s.len);
		len = damage(copy, s.len, k);
		memset(self->p.dst.bar2, 0x5a, self->p.dst.bar2_size);
		ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &fd));
		ret = stream_write(fd, copy, len, 0);
		ASSERT_EQ(bad_cases[k].write_errno, ret);
		/* The error is sticky. */
		if (ret) {
			ASSERT_EQ(-1, write(fd, copy, 16));
			ASSERT_EQ(ENODEV, errno);
		}
		/* The stream cannot end: the device stays in RESUMING. */
		ASSERT_EQ(-EINVAL, mig_set_state(&self->p.dst, ST(STOP), NULL));
		ASSERT_EQ(0, mig_get_state(&self->p.dst, &got));
		ASSERT_EQ(ST(RESUMING), got);
		/*
		 * A bad first record: nothing was loaded, it was refused
		 * before it touched memory.  The parts before a bad or
		 * missing one were applied (the load streams), which is why
		 * the device must stay in RESUMING.
		 */
		if (k == BAD_TRUNCATED || k == BAD_LATE_CHECKSUM) {
			ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->pattern,
					    PART_DATA));
		} else if (k != BAD_EMPTY) {
			ASSERT_EQ(0x5a5a5a5a, *(uint32_t *)self->p.dst.bar2);
		}
		close(fd);
		ASSERT_EQ(0, ioctl(self->p.dst.fd, VFIO_DEVICE_RESET));
		ASSERT_EQ(0, mig_get_state(&self->p.dst, &got));
		ASSERT_EQ(ST(RUNNING), got);
	}
	/* The source never noticed. */
	ASSERT_EQ(0, memcmp(self->p.src.bar2, self->pattern,
			    self->p.src.bar2_size));
	free(copy);
	stream_free(&s);
}

/*
 * An unknown OPTIONAL record after the VERSION record is skipped, its
 * checksum verified all the same: a flipped payload byte is EBADMSG.
 */
TEST_F(mig, unknown_optional_record_skipped)
{
	struct stream s = { 0 };
	struct mlx5c_mig_header_v2 *extra;
	size_t len, xlen = REC_HDR_SIZE + 100;
	uint8_t *buf;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, save_stop_copy(&self->p.src, &s));
	len = s.len + xlen;
	buf = calloc(1, len);
	ASSERT_NE(NULL, buf);
	memcpy(buf, s.data, VER_REC_SIZE);
	extra = (void *)(buf + VER_REC_SIZE);
	extra->record_size = 100;
	extra->flags = MLX5C_MIG_F_OPTIONAL;
	extra->tag = 0x40;
	memset(extra + 1, 0xab, 100);
	rec_seal(extra);
	memcpy(buf + VER_REC_SIZE + xlen, s.data + VER_REC_SIZE,
	       s.len - VER_REC_SIZE);
	/* 7-byte pieces across the records, as write_splits does. */
	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &fd));
	ASSERT_EQ(0, write_split(fd, buf, len, 7));
	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RUNNING), NULL));
	close(fd);
	ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->pattern,
			    self->p.dst.bar2_size));

	((uint8_t *)(extra + 1))[50] ^= 1;
	memset(self->p.dst.bar2, 0x5a, self->p.dst.bar2_size);
	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &fd));
	ASSERT_EQ(-EBADMSG, write_split(fd, buf, len, 7));
	ASSERT_EQ(-EINVAL, mig_set_state(&self->p.dst, ST(STOP), NULL));
	close(fd);
	ASSERT_EQ(0x5a5a5a5a, *(uint32_t *)self->p.dst.bar2);
	ASSERT_EQ(0, ioctl(self->p.dst.fd, VFIO_DEVICE_RESET));
	free(buf);
	stream_free(&s);
}

TEST_F(mig, read_after_stop_copy_fails)
{
	char buf[64];
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(-1, pread(fd, buf, sizeof(buf), 0));
	ASSERT_EQ(ESPIPE, errno);
	close(fd);
}

TEST_F(mig, poll_and_nonblock)
{
	struct pollfd pfd;
	struct stream s = { 0 };
	char buf[4096];
	ssize_t n;
	int fd;

	ASSERT_EQ(0, knob_write(self->p.src.bdf, "latency_ms", "400"));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
	/* Version and size are there at once; the image is being saved. */
	n = read(fd, buf, sizeof(buf));
	ASSERT_EQ(START_SIZE, n);
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(EAGAIN, errno);
	pfd.fd = fd;
	pfd.events = POLLIN;
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_TRUE(pfd.revents & POLLIN);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, 0));
	ASSERT_EQ(0, stream_read(&s, fd));
	ASSERT_EQ(image_bytes(1, 0, self->p.src.bar2_size), s.len);
	/* The end is permanent and readable. */
	ASSERT_EQ(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	close(fd);
	stream_free(&s);
}

TEST_F(mig, reset_during_save)
{
	char buf[64];
	uint32_t got;
	int fd;

	ASSERT_EQ(0, knob_write(self->p.src.bdf, "latency_ms", "500"));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_EQ(0, ioctl(self->p.src.fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, mig_get_state(&self->p.src, &got));
	ASSERT_EQ(ST(RUNNING), got);
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
	ASSERT_EQ(0, memcmp(self->p.src.bar2, self->pattern,
			    self->p.src.bar2_size));
}

TEST_F(mig, close_device_during_save)
{
	char buf[64];
	uint32_t got;
	int fd;

	ASSERT_EQ(0, knob_write(self->p.src.bdf, "latency_ms", "500"));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	vdev_close(&self->p.src);
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
	ASSERT_EQ(0, vdev_open(&self->p.src, self->p.bdf[0]));
	ASSERT_EQ(0, vdev_map_bar2(&self->p.src));
	ASSERT_EQ(0, mig_get_state(&self->p.src, &got));
	ASSERT_EQ(ST(RUNNING), got);
	ASSERT_EQ(0, memcmp(self->p.src.bar2, self->pattern,
			    self->p.src.bar2_size));
}

/* One injected failure per command: where it leaves the device. */
TEST_F(mig, injected_failures)
{
	static const struct {
		const char *cmd;
		uint32_t from, to;
		int err;		/* of the set_state */
		uint32_t end;		/* state after */
	} cases[] = {
		{ "suspend_initiator", ST(RUNNING), ST(STOP), -EIO, ST(RUNNING) },
		{ "suspend_responder", ST(RUNNING), ST(STOP), -EIO, ST(RUNNING_P2P) },
		{ "resume_responder", ST(STOP), ST(RUNNING), -EIO, ST(ERROR) },
		{ "resume_initiator", ST(STOP), ST(RUNNING), -EIO, ST(ERROR) },
		{ "query_size", ST(STOP), ST(STOP_COPY), -EIO, ST(STOP) },
		{ "query_size", ST(RUNNING), ST(PRE_COPY), -EIO, ST(RUNNING) },
	};
	struct vdev *d = &self->p.src;
	char knob[64];
	uint32_t got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TH_LOG("%s: %u -> %u", cases[i].cmd, cases[i].from, cases[i].to);
		ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
		ASSERT_EQ(0, mig_set_state(d, cases[i].from, NULL));
		snprintf(knob, sizeof(knob), "%s/fail_count", cases[i].cmd);
		ASSERT_EQ(0, knob_write(d->bdf, knob, "1"));
		ASSERT_EQ(cases[i].err, mig_set_state(d, cases[i].to, NULL));
		ASSERT_EQ(0, mig_get_state(d, &got));
		ASSERT_EQ(cases[i].end, got);
		ASSERT_EQ(0, memcmp(d->bar2, self->pattern, d->bar2_size));
	}
	ASSERT_EQ(0, ioctl(d->fd, VFIO_DEVICE_RESET));
}

TEST_F(mig, injected_save_failure_fails_the_stream)
{
	struct stream s = { 0 };
	uint32_t got;
	char c;
	int fd;

	/* Not EIO, the default: the knob's errno is what reads return. */
	ASSERT_EQ(0, knob_write(self->p.src.bdf, "save_final/fail_count", "1"));
	ASSERT_EQ(0, knob_write(self->p.src.bdf, "save_final/fail_errno", "28"));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_EQ(-ENOSPC, stream_read(&s, fd));
	/* Every later read fails the same way. */
	ASSERT_EQ(-1, read(fd, &c, 1));
	ASSERT_EQ(ENOSPC, errno);
	close(fd);
	/* The source goes back to running with its memory intact. */
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, mig_get_state(&self->p.src, &got));
	ASSERT_EQ(ST(RUNNING), got);
	ASSERT_EQ(0, memcmp(self->p.src.bar2, self->pattern,
			    self->p.src.bar2_size));
	stream_free(&s);
}

TEST_F(mig, injected_load_failure)
{
	struct stream s = { 0 };
	long long failed;
	uint32_t got;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, save_stop_copy(&self->p.src, &s));
	failed = knob_read(self->p.dst.bdf, "load/failed");
	ASSERT_LE(0, failed);
	ASSERT_EQ(0, knob_write(self->p.dst.bdf, "load/fail_count", "1"));
	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &fd));
	ASSERT_EQ(-EIO, stream_write(fd, s.data, s.len, 0));
	ASSERT_EQ(-EINVAL, mig_set_state(&self->p.dst, ST(RUNNING), NULL));
	ASSERT_EQ(0, mig_get_state(&self->p.dst, &got));
	ASSERT_EQ(ST(RESUMING), got);
	close(fd);
	ASSERT_EQ(failed + 1, knob_read(self->p.dst.bdf, "load/failed"));
	stream_free(&s);
}

TEST_F(mig, data_size_never_zero)
{
	uint64_t size;

	ASSERT_EQ(0, mig_data_size(&self->p.src, &size));
	ASSERT_GT(size, self->p.src.bar2_size);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, mig_data_size(&self->p.src, &size));
	ASSERT_GT(size, self->p.src.bar2_size);
}

TEST_HARNESS_MAIN
