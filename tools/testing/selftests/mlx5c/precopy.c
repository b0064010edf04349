// SPDX-License-Identifier: GPL-2.0
/*
 * PRE_COPY through mlx5c-vfio-pci: a byte-exact migration while a writer
 * keeps dirtying BAR2, the precopy info accounting, ENOMSG, EAGAIN and
 * poll, fallback after a failed incremental save, abort, REINIT with and
 * without the PRECOPY_INFOv2 opt-in, and -EINVAL outside PRE_COPY.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include <xxhash.h>

#include "harness.h"
#include "mig_common.h"

#define PAGE 4096

FIXTURE(pre) {
	struct pair p;
};

FIXTURE_SETUP(pre)
{
	int ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	fill_pattern(self->p.src.bar2, self->p.src.bar2_size, getpid());
	memset(self->p.dst.bar2, 0, self->p.dst.bar2_size);
}

FIXTURE_TEARDOWN(pre)
{
	pair_close(&self->p);
}

struct writer {
	uint8_t *mem;
	size_t size;
	atomic_bool stop;
	unsigned long writes;
};

/* Keeps writing random pages (not the context page) until told to stop. */
static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	uint64_t x = 88172645463325252ull;
	size_t pages = w->size / PAGE;

	while (!atomic_load(&w->stop)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t pg = 1 + x % (pages - 1);

		memcpy(w->mem + pg * PAGE + (x >> 52) % (PAGE - 8), &x, 8);
		w->writes++;
	}
	return NULL;
}

/* Dirty @n distinct pages, from page @first on, with a new value. */
static void dirty_pages(uint8_t *mem, size_t first, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		mem[(first + i) * PAGE + 17] = v + i;
}

TEST_F(pre, migrate_while_dirtying)
{
	struct writer w = { .mem = self->p.src.bar2, .size = self->p.src.bar2_size };
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	pthread_t thread;
	int src_fd, dst_fd, rounds = 0;
	size_t written = 0;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &src_fd));
	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &dst_fd));
	ASSERT_EQ(0, pthread_create(&thread, NULL, writer_fn, &w));
	/* Move everything PRE_COPY offers, a few rounds, while dirtying. */
	for (rounds = 0; rounds < 6; rounds++) {
		ASSERT_LE(0, stream_drain(&s, src_fd));
		ASSERT_EQ(0, precopy_info(src_fd, &info));
		ASSERT_EQ(0, stream_write(dst_fd, s.data + written,
					  s.len - written, 0));
		written = s.len;
		usleep(20000);
	}
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	TH_LOG("%lu writes, %zu precopy bytes", w.writes, s.len);
	ASSERT_GT(w.writes, 0);

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(&s, src_fd));
	ASSERT_EQ(0, stream_write(dst_fd, s.data + written, s.len - written, 0));
	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RUNNING), NULL));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_GE(stream_images(&s, NULL), 2);
	ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->p.src.bar2,
			    self->p.src.bar2_size));
	close(src_fd);
	close(dst_fd);
	stream_free(&s);
}

TEST_F(pre, accounting)
{
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	uint64_t initial, prev;
	char buf[1 << 16];
	ssize_t n;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_EQ(0, precopy_info(fd, &info));
	initial = prev = info.initial_bytes;
	ASSERT_GT(initial, self->p.src.bar2_size);
	ASSERT_EQ(0, info.dirty_bytes);
	/* initial_bytes only falls as the stream is read, dirty stays 0. */
	for (int i = 0; i < 50; i++) {
		n = read(fd, buf, sizeof(buf));
		ASSERT_GT(n, 0);
		ASSERT_EQ(0, precopy_info(fd, &info));
		ASSERT_EQ(prev - n, info.initial_bytes);
		ASSERT_EQ(0, info.dirty_bytes);
		prev = info.initial_bytes;
	}
	ASSERT_EQ(prev, stream_drain(&s, fd));
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_EQ(0, info.dirty_bytes);

	/* 10 pages dirty: the info starts an image of exactly that. */
	dirty_pages(self->p.src.bar2, 100, 10, 1);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_EQ(PART_OVERHEAD + 10 * 4 + 10 * PAGE, info.dirty_bytes);
	ASSERT_EQ(info.dirty_bytes, stream_drain(&s, fd));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENOMSG, errno);
	close(fd);
	stream_free(&s);
}

/* Dirtied pages wait for the initial data: dirty_bytes stays 0. */
TEST_F(pre, dirty_bytes_zero_while_initial_remains)
{
	struct vfio_precopy_info info;
	char buf[1 << 16];
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	/* Some of the initial data read (a read returns one record at most). */
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	dirty_pages(self->p.src.bar2, 100, 10, 3);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_GT(info.initial_bytes, 0);
	ASSERT_EQ(0, info.dirty_bytes);
	close(fd);
}

/* In PRE_COPY: the unread bytes plus an image of the pages dirty now. */
TEST_F(pre, data_size_in_precopy)
{
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	uint64_t size;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(0, mig_data_size(&self->p.src, &size));
	ASSERT_LE(info.initial_bytes, size);
	ASSERT_LT(0, stream_drain(&s, fd));
	dirty_pages(self->p.src.bar2, 200, 10, 4);
	ASSERT_EQ(0, mig_data_size(&self->p.src, &size));
	ASSERT_EQ(PART_OVERHEAD + 10 * 4 + 10 * PAGE, size);
	close(fd);
	stream_free(&s);
}

/* EPOLLRDHUP once the session has ended. */
TEST_F(pre, rdhup_after_session_ends)
{
	struct pollfd pfd;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN | POLLRDHUP };
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_EQ(0, pfd.revents & POLLRDHUP);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	pfd.revents = 0;
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_EQ(POLLRDHUP, pfd.revents & POLLRDHUP);
	close(fd);
}

/* Every page dirty: the final image is a full one, and loads exactly. */
TEST_F(pre, final_full_when_all_dirty)
{
	struct mlx5c_image_header *last = NULL;
	struct stream s = { 0 };
	size_t pages = self->p.src.bar2_size / PAGE;
	int fd, images;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LT(0, stream_drain(&s, fd));
	images = stream_images(&s, NULL);
	dirty_pages(self->p.src.bar2, 0, pages, 9);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(&s, fd));
	close(fd);
	ASSERT_EQ(images + 1, stream_images(&s, &last));
	ASSERT_EQ(MLX5C_IMAGE_F_FULL, last->flags & MLX5C_IMAGE_F_FULL);
	ASSERT_EQ(pages, last->nr_pages);
	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 0));
	ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->p.src.bar2,
			    self->p.src.bar2_size));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	stream_free(&s);
}

TEST_F(pre, enomsg_eagain_poll)
{
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	struct pollfd pfd;
	char buf[64];
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	/* Drained, nothing in flight: ENOMSG, and nothing to poll. */
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENOMSG, errno);
	pfd.fd = fd;
	pfd.events = POLLIN;
	ASSERT_EQ(0, poll(&pfd, 1, 0));

	ASSERT_EQ(0, knob_write(self->p.src.bdf, "latency_ms", "400"));
	dirty_pages(self->p.src.bar2, 5, 3, 2);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_GT(info.dirty_bytes, 0);
	/* A save is in flight: EAGAIN, never ENOMSG. */
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_TRUE(pfd.revents & POLLIN);
	/* A blocking read waits for the next one. */
	ASSERT_EQ(0, fcntl(fd, F_SETFL, 0));
	dirty_pages(self->p.src.bar2, 50, 1, 3);
	s.len = 0;
	ASSERT_EQ(info.dirty_bytes, stream_drain(&s, fd));
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_GT(info.dirty_bytes, 0);
	ASSERT_EQ(sizeof(buf), read(fd, buf, sizeof(buf)));
	close(fd);
	stream_free(&s);
}

TEST_F(pre, fallback_to_full_final)
{
	struct mlx5c_image_header *last = NULL;
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	ASSERT_EQ(0, knob_write(self->p.src.bdf, "save_middle/fail_count", "1"));
	dirty_pages(self->p.src.bar2, 10, 4, 4);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_GT(info.dirty_bytes, 0);
	/* The failed save leaves nothing to read and nothing more to come. */
	ASSERT_LE(0, stream_drain(&s, fd));
	dirty_pages(self->p.src.bar2, 30, 4, 5);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_EQ(0, info.dirty_bytes);

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(&s, fd));
	ASSERT_EQ(2, stream_images(&s, &last));
	ASSERT_EQ(MLX5C_IMAGE_FINAL, last->kind);
	ASSERT_EQ(MLX5C_IMAGE_F_FULL, last->flags);
	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 0));
	ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->p.src.bar2,
			    self->p.src.bar2_size));
	close(fd);
	stream_free(&s);
}

TEST_F(pre, initial_save_failure)
{
	uint8_t *copy = malloc(self->p.src.bar2_size);
	struct stream s = { 0 };
	uint32_t got;
	int fd;

	ASSERT_NE(NULL, copy);
	memcpy(copy, self->p.src.bar2, self->p.src.bar2_size);
	ASSERT_EQ(0, knob_write(self->p.src.bdf, "save_initial/fail_count", "1"));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_EQ(-EIO, stream_read(&s, fd));
	/* STOP_COPY cannot follow a failed stream: back in PRE_COPY_P2P. */
	ASSERT_EQ(-EIO, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, mig_get_state(&self->p.src, &got));
	ASSERT_EQ(ST(PRE_COPY_P2P), got);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, memcmp(copy, self->p.src.bar2, self->p.src.bar2_size));
	close(fd);
	free(copy);
	stream_free(&s);
}

TEST_F(pre, abort_keeps_state)
{
	struct vfio_precopy_info info;
	uint8_t *copy = malloc(self->p.src.bar2_size);
	struct stream s = { 0 };
	uint32_t got;
	char buf[64];
	int fd;

	ASSERT_NE(NULL, copy);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	dirty_pages(self->p.src.bar2, 7, 3, 6);
	ASSERT_EQ(0, precopy_info(fd, &info));
	memcpy(copy, self->p.src.bar2, self->p.src.bar2_size);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, mig_get_state(&self->p.src, &got));
	ASSERT_EQ(ST(RUNNING), got);
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(-ENODEV, precopy_info(fd, &info));
	ASSERT_EQ(0, memcmp(copy, self->p.src.bar2, self->p.src.bar2_size));
	close(fd);
	free(copy);
	stream_free(&s);
}

TEST_F(pre, reinit_needs_opt_in)
{
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	int fd;

	/* Without the opt-in: a context change is dirty data, flags 0. */
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	dirty_pages(self->p.src.bar2, 0, 1, 7);
	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	info.flags = 0xffff;
	ASSERT_EQ(0, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(0, info.flags);
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_GT(info.dirty_bytes, 0);
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));

	/* With it: REINIT, new initial bytes, no dirty bytes. */
	ASSERT_EQ(0, mig_precopy_v2(&self->p.src));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	s.len = 0;
	ASSERT_LE(0, stream_drain(&s, fd));
	dirty_pages(self->p.src.bar2, 2, 1, 8);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(0, info.flags);	/* not the context: plain dirty */
	ASSERT_GT(info.dirty_bytes, 0);
	ASSERT_LE(0, stream_drain(&s, fd));
	dirty_pages(self->p.src.bar2, 0, 1, 9);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(VFIO_PRECOPY_INFO_REINIT, info.flags);
	ASSERT_GT(info.initial_bytes, 0);
	ASSERT_EQ(0, info.dirty_bytes);
	ASSERT_EQ(info.initial_bytes, stream_drain(&s, fd));
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(0, info.flags);
	ASSERT_EQ(0, info.initial_bytes);

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(&s, fd));
	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 0));
	ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->p.src.bar2,
			    self->p.src.bar2_size));
	close(fd);
	stream_free(&s);
}

/*
 * An incremental image naming the page just past the end of the memory,
 * its record checksum resealed, is refused as invalid (EINVAL).  Without
 * the reseal the record checksum refuses the edit first (EBADMSG), also
 * for the last page, a valid index.
 */
TEST_F(pre, page_index_past_the_end_refused)
{
	struct vfio_precopy_info info;
	struct mlx5c_image_header *img;
	struct mlx5c_mig_header *h;
	struct stream s = { 0 };
	uint32_t pages = self->p.src.bar2_size / PAGE, *index;
	static const struct { uint32_t delta; bool reseal; int err; } cases[] = {
		{ 0, false, -EBADMSG }, { 1, false, -EBADMSG },
		{ 0, true, -EINVAL },
	};
	size_t mid;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LT(0, stream_drain(&s, fd));
	mid = s.len;
	dirty_pages(self->p.src.bar2, 100, 2, 1);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(info.dirty_bytes, stream_drain(&s, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	h = stream_rec(&s, mid);
	ASSERT_NE(NULL, h);
	ASSERT_EQ(MLX5C_MIG_TAG_FW_DATA, h->tag);
	img = (void *)(s.data + mid + REC_HDR_SIZE);
	ASSERT_EQ(0, img->flags & MLX5C_IMAGE_F_FULL);
	ASSERT_EQ(2, img->nr_pages);
	index = (void *)((uint8_t *)img + IMG_HDR_SIZE + PART_HDR_SIZE);
	ASSERT_EQ(101, index[1]);

	for (int k = 0; k < 3; k++) {
		int rfd;

		index[1] = pages - cases[k].delta;
		if (cases[k].reseal)
			rec_seal(h);
		ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &rfd));
		ASSERT_EQ(cases[k].err, stream_write(rfd, s.data, s.len, 0));
		ASSERT_EQ(-EINVAL, mig_set_state(&self->p.dst, ST(STOP), NULL));
		close(rfd);
		ASSERT_EQ(0, ioctl(self->p.dst.fd, VFIO_DEVICE_RESET));
	}
	stream_free(&s);
}

/* The opt-in lasts for one open of the device: a reopen clears it. */
TEST_F(pre, precopy_v2_cleared_by_reopen)
{
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	int fd;

	ASSERT_EQ(0, mig_precopy_v2(&self->p.src));
	vdev_close(&self->p.src);
	ASSERT_EQ(0, vdev_open(&self->p.src, self->p.bdf[0]));
	ASSERT_EQ(0, vdev_map_bar2(&self->p.src));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	dirty_pages(self->p.src.bar2, 0, 1, 5);
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_EQ(0, info.flags);
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_GT(info.dirty_bytes, 0);
	close(fd);
	stream_free(&s);
}

TEST_F(pre, info_outside_precopy)
{
	struct vfio_precopy_info info;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_EQ(-EINVAL, precopy_info(fd, &info));
	info.argsz = 4;
	ASSERT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO + 1, &info));
	ASSERT_EQ(ENOTTY, errno);
	close(fd);
}

TEST_F(pre, final_image_carries_only_changes)
{
	struct mlx5c_image_header *last = NULL;
	struct stream s = { 0 };
	size_t pages = self->p.src.bar2_size / PAGE / 100;	/* 1% */
	size_t before;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	before = s.len;
	dirty_pages(self->p.src.bar2, 1, pages, 10);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(&s, fd));
	ASSERT_EQ(2, stream_images(&s, &last));
	ASSERT_EQ(0, last->flags);
	ASSERT_EQ(pages, last->nr_pages);
	ASSERT_LT(s.len - before, self->p.src.bar2_size / 20);
	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 4096));
	ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->p.src.bar2,
			    self->p.src.bar2_size));
	close(fd);
	stream_free(&s);
}

/*
 * MIG_DATA_SIZE in PRE_COPY is exactly what STOP_COPY still moves: with
 * nothing written since the last image (an empty incremental final image),
 * and with a few pages written.
 */
TEST_F(pre, data_size_exact)
{
	struct vfio_precopy_info info;
	struct vdev *d = &self->p.src;
	struct stream s = {};
	uint64_t size;
	size_t before;
	int fd;

	for (int dirty = 0; dirty < 2; dirty++) {
		ASSERT_EQ(0, mig_set_state(d, ST(PRE_COPY), &fd));
		ASSERT_LT(0, stream_drain(&s, fd));
		ASSERT_EQ(0, precopy_info(fd, &info));
		ASSERT_EQ(0, info.initial_bytes);
		ASSERT_EQ(0, info.dirty_bytes);
		if (dirty)
			for (size_t pg = 1; pg < 40; pg += 3)
				d->bar2[pg * PAGE] ^= 0xff;
		ASSERT_EQ(0, mig_set_state(d, ST(PRE_COPY_P2P), NULL));
		ASSERT_EQ(0, mig_data_size(d, &size));
		before = s.len;
		ASSERT_EQ(0, mig_set_state(d, ST(STOP_COPY), NULL));
		ASSERT_EQ(0, stream_read(&s, fd));
		close(fd);
		TH_LOG("%d dirty: MIG_DATA_SIZE %llu, STOP_COPY moved %zu",
		       dirty, (unsigned long long)size, s.len - before);
		EXPECT_EQ(size, s.len - before);
		ASSERT_EQ(0, mig_set_state(d, ST(RUNNING), NULL));
		stream_free(&s);
	}
}

TEST_HARNESS_MAIN
