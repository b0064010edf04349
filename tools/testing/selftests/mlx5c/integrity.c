// SPDX-License-Identifier: GPL-2.0
/*
 * No write to the device memory is lost, on any path: a write() to the
 * BAR2 region racing incremental saves, an ioeventfd aimed at BAR2; and
 * only what must be is write-protected after an image, so a guest that
 * only reads pages keeps its mappings; and a failed PRE_COPY_P2P ->
 * STOP_COPY keeps tracking, so that a retry moves every write.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "harness.h"
#include "mig_common.h"

#define PAGE 4096

FIXTURE(integ) {
	struct pair p;
};

FIXTURE_SETUP(integ)
{
	int ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	fill_pattern(self->p.src.bar2, self->p.src.bar2_size, getpid());
	memset(self->p.dst.bar2, 0, self->p.dst.bar2_size);
}

FIXTURE_TEARDOWN(integ)
{
	pair_close(&self->p);
}

struct rw_writer {
	struct vdev *d;
	size_t len;
	int rounds;
	atomic_bool done;
	int err;
};

/* Big pwrite()s to the BAR2 region, each with a new pattern. */
static void *rw_writer_fn(void *arg)
{
	struct rw_writer *w = arg;
	uint8_t *buf = malloc(w->len);

	if (!buf) {
		w->err = ENOMEM;
		goto out;
	}
	for (int i = 0; i < w->rounds; i++) {
		fill_pattern(buf, w->len, 1000 + i);
		if (pwrite(w->d->fd, buf, w->len, w->d->bar2_offset + PAGE) !=
		    (ssize_t)w->len) {
			w->err = errno;
			break;
		}
	}
	free(buf);
out:
	atomic_store(&w->done, true);
	return NULL;
}

static size_t pages_differ(const uint8_t *a, const uint8_t *b, size_t size)
{
	size_t n = 0;

	for (size_t off = 0; off < size; off += PAGE)
		n += !!memcmp(a + off, b + off, PAGE);
	return n;
}

/* Finish a PRE_COPY migration of src into dst; returns 0 or -errno. */
static int finish_precopy(struct pair *p, struct stream *s, int fd)
{
	int ret;

	ret = mig_set_state(&p->src, ST(STOP_COPY), NULL);
	if (ret)
		return ret;
	ret = stream_read(s, fd);
	close(fd);
	if (ret)
		return ret;
	ret = mig_set_state(&p->src, ST(STOP), NULL);
	if (ret)
		return ret;
	ret = load_stream(&p->dst, s->data, s->len, 0);
	if (ret)
		return ret;
	return mig_set_state(&p->src, ST(RUNNING), NULL);
}

/*
 * A 16 MiB pwrite() to BAR2 during PRE_COPY while incremental saves take
 * the dirty pages: every byte written reaches the destination.
 */
TEST_F(integ, region_write_during_precopy)
{
	struct rw_writer w = { .d = &self->p.src, .rounds = 6 };
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	unsigned long images = 0;
	pthread_t th;
	size_t bad;
	int fd;

	w.len = 16 << 20;
	if (w.len + PAGE > self->p.src.bar2_size)
		w.len = self->p.src.bar2_size / 2;
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	ASSERT_EQ(0, pthread_create(&th, NULL, rw_writer_fn, &w));
	while (!atomic_load(&w.done)) {
		ASSERT_EQ(0, precopy_info(fd, &info));
		if (info.dirty_bytes)
			images++;
		ASSERT_LE(0, stream_drain(&s, fd));
	}
	pthread_join(th, NULL);
	ASSERT_EQ(0, w.err);
	TH_LOG("%lu incremental images during the writes", images);
	ASSERT_EQ(0, finish_precopy(&self->p, &s, fd));
	bad = pages_differ(self->p.src.bar2, self->p.dst.bar2,
			   self->p.src.bar2_size);
	if (bad)
		TH_LOG("%zu of %zu pages differ", bad,
		       self->p.src.bar2_size / PAGE);
	ASSERT_EQ(0, bad);
	stream_free(&s);
}

/*
 * An ioeventfd aimed at BAR2 writes without the driver seeing it: either
 * the driver refuses it, or the write it makes is tracked.
 */
TEST_F(integ, ioeventfd_into_bar2)
{
	struct vfio_device_ioeventfd ev = {
		.argsz = sizeof(ev),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
		.offset = self->p.src.bar2_offset + 5 * PAGE,
		.data = 0xdeadbeef,
	};
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	uint64_t one = 1;
	int fd, efd, ret;

	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ev.fd = efd;
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	ret = ioctl(self->p.src.fd, VFIO_DEVICE_IOEVENTFD, &ev);
	if (ret) {
		/* Refused: the documented errno, and no write happens. */
		ASSERT_EQ(EINVAL, errno);
		ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
		usleep(100000);
		ASSERT_NE(0xdeadbeef, *(volatile uint32_t *)
			  (self->p.src.bar2 + 5 * PAGE));
	} else {
		ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
		for (int i = 0; i < 100; i++) {
			if (*(volatile uint32_t *)(self->p.src.bar2 + 5 * PAGE) ==
			    0xdeadbeef)
				break;
			usleep(10000);
		}
		ASSERT_EQ(0xdeadbeef, *(volatile uint32_t *)
			  (self->p.src.bar2 + 5 * PAGE));
		ASSERT_EQ(0, precopy_info(fd, &info));
		TH_LOG("after the eventfd: dirty_bytes %llu",
		       (unsigned long long)info.dirty_bytes);
		ASSERT_NE(0, info.dirty_bytes);
	}
	ASSERT_EQ(0, finish_precopy(&self->p, &s, fd));
	ASSERT_EQ(0, pages_differ(self->p.src.bar2, self->p.dst.bar2,
				  self->p.src.bar2_size));
	ev.fd = -1;
	ioctl(self->p.src.fd, VFIO_DEVICE_IOEVENTFD, &ev);
	close(efd);
	stream_free(&s);
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static uint64_t touch_read(const uint8_t *mem, size_t size)
{
	uint64_t sum = 0;

	for (size_t off = 0; off < size; off += PAGE)
		sum += *(volatile const uint64_t *)(mem + off);
	return sum;
}

/*
 * An incremental image write-protects the pages it takes, not the whole
 * BAR: pages the guest only reads stay mapped.  The written page still
 * reaches the destination.
 */
TEST_F(integ, image_keeps_read_mappings)
{
	size_t pages = self->p.src.bar2_size / PAGE;
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	long before, faults;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	touch_read(self->p.src.bar2, self->p.src.bar2_size);
	self->p.src.bar2[7 * PAGE + 3] ^= 0xff;
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_NE(0, info.dirty_bytes);
	ASSERT_LE(0, stream_drain(&s, fd));

	before = minflt();
	touch_read(self->p.src.bar2, self->p.src.bar2_size);
	faults = minflt() - before;
	TH_LOG("%ld faults reading %zu pages after an incremental image",
	       faults, pages);
	ASSERT_LT(faults, (long)pages / 16);

	/* The written page is protected again: a new write is seen. */
	self->p.src.bar2[9 * PAGE] ^= 0xff;
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_NE(0, info.dirty_bytes);
	ASSERT_LE(0, stream_drain(&s, fd));
	self->p.src.bar2[7 * PAGE + 5] ^= 0xff;
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_NE(0, info.dirty_bytes);
	ASSERT_LE(0, stream_drain(&s, fd));
	ASSERT_EQ(0, finish_precopy(&self->p, &s, fd));
	ASSERT_EQ(0, pages_differ(self->p.src.bar2, self->p.dst.bar2,
				  self->p.src.bar2_size));
	stream_free(&s);
}

/*
 * A PRE_COPY_P2P -> STOP_COPY that fails before the final image is queued
 * (here the firmware refuses the final save when it is submitted, with
 * ENOMEM) leaves the session and its dirty tracking intact: a direct retry
 * succeeds and the page written during PRE_COPY arrives.
 */
TEST_F(integ, retry_after_failed_stop_copy)
{
	const char *bdf = self->p.bdf[0];
	struct stream s = { 0 };
	long long failed;
	uint32_t st;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LE(0, stream_drain(&s, fd));
	self->p.src.bar2[11 * PAGE + 1] ^= 0xff;
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY_P2P), NULL));

	failed = knob_read(bdf, "save_final/failed");
	ASSERT_LE(0, failed);
	ASSERT_EQ(0, knob_write(bdf, "save_final/fail_submit", "Y"));
	ASSERT_EQ(0, knob_write(bdf, "save_final/fail_errno", "12"));
	ASSERT_EQ(0, knob_write(bdf, "save_final/fail_count", "1"));
	ASSERT_EQ(-ENOMEM, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(failed + 1, knob_read(bdf, "save_final/failed"));
	ASSERT_EQ(0, mig_get_state(&self->p.src, &st));
	ASSERT_EQ(ST(PRE_COPY_P2P), st);

	/* The retry, directly: the final image is still an incremental one. */
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(&s, fd));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 0));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, pages_differ(self->p.src.bar2, self->p.dst.bar2,
				  self->p.src.bar2_size));
	close(fd);
	stream_free(&s);
}

TEST_HARNESS_MAIN
