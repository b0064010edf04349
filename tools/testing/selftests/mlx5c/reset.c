// SPDX-License-Identifier: GPL-2.0
/*
 * A reset ends every migration session before it returns: after
 * VFIO_DEVICE_RESET, VFIO_DEVICE_PCI_HOT_RESET or a write to the sysfs
 * "reset" attribute has returned, a read of the saving fd gives no data,
 * a write to the resuming fd loads nothing, and the device is RUNNING.
 * After VFIO_DEVICE_RESET and VFIO_DEVICE_PCI_HOT_RESET also a write that
 * was already in progress changes nothing once the ioctl has returned.
 * MLX5C_RESET_TRIES sets the tries per case (default 8; each try resets the
 * function, and TCG QEMU 10.0 with two vCPUs now and then aborts on a
 * reset: see Documentation/mlx5c-testing.rst).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>

#include "harness.h"
#include "mig_common.h"

enum how { BY_IOCTL, BY_HOT_RESET, BY_SYSFS };

FIXTURE(rst) {
	struct pair p;
	struct stream full;	/* a complete stream saved from src */
	int tries;
};

FIXTURE_SETUP(rst)
{
	const char *env = getenv("MLX5C_RESET_TRIES");
	int fd, ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	self->tries = env ? atoi(env) : 8;
	fill_pattern(self->p.src.bar2, self->p.src.bar2_size, getpid());
	memset(&self->full, 0, sizeof(self->full));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_EQ(0, stream_read(&self->full, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
}

FIXTURE_TEARDOWN(rst)
{
	stream_free(&self->full);
	pair_close(&self->p);
}

/*
 * vfio-pci-core only tries memory_lock for a hot reset, so one that comes
 * while the firmware copies a chunk (PRE_COPY's initial image is being
 * saved) fails with EBUSY, as documented; the caller tries again, as a VMM
 * would, for up to 10 s.
 */
static int hot_reset(struct vdev *d)
{
	struct vfio_pci_hot_reset *hr;
	size_t sz = sizeof(*hr) + sizeof(int32_t);
	int ret, tries = 0;

	hr = calloc(1, sz);
	if (!hr)
		return -ENOMEM;
	hr->argsz = sz;
	hr->count = 1;
	hr->group_fds[0] = d->group;
	do {
		if (tries)
			usleep(5000);
		ret = ioctl(d->fd, VFIO_DEVICE_PCI_HOT_RESET, hr) ? -errno : 0;
	} while (ret == -EBUSY && ++tries < 2000);
	free(hr);
	return ret;
}

static int do_reset(struct vdev *d, enum how how)
{
	char path[128];

	switch (how) {
	case BY_IOCTL:
		return ioctl(d->fd, VFIO_DEVICE_RESET) ? -errno : 0;
	case BY_HOT_RESET:
		return hot_reset(d);
	case BY_SYSFS:
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset",
			 d->bdf);
		return sysfs_write(path, "1");
	}
	return -EINVAL;
}

static const char * const how_name[] = { "VFIO_DEVICE_RESET",
	"VFIO_DEVICE_PCI_HOT_RESET", "sysfs reset" };

/*
 * A saving fd gives no data once the reset has returned, and its session
 * has ended: precopy info says ENODEV (not EINVAL for a device that is
 * RUNNING again, which is what a session the reset left open would say).
 */
static void read_after_reset(struct __test_metadata *_metadata,
			     FIXTURE_DATA(rst) *self, enum how how)
{
	static char buf[1 << 16];
	struct vfio_precopy_info info;
	int leaks = 0;

	for (int i = 0; i < self->tries; i++) {
		int fd;
		ssize_t n;

		ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
		ASSERT_EQ(0, do_reset(&self->p.src, how));
		n = read(fd, buf, sizeof(buf));
		if (n >= 0)
			leaks++;
		else
			ASSERT_EQ(ENODEV, errno);
		ASSERT_EQ(-ENODEV, precopy_info(fd, &info));
		close(fd);
		uint32_t st;

		ASSERT_EQ(0, mig_get_state(&self->p.src, &st));
		ASSERT_EQ(ST(RUNNING), st);
	}
	if (leaks)
		TH_LOG("%s: %d of %d reads returned data after the reset",
		       how_name[how], leaks, self->tries);
	ASSERT_EQ(0, leaks);
}

struct inflight {
	int fd;
	const uint8_t *data;
	size_t len;
	atomic_bool started;
	ssize_t ret;
};

static void *inflight_write(void *arg)
{
	struct inflight *w = arg;

	atomic_store(&w->started, true);
	w->ret = write(w->fd, w->data, w->len);
	return NULL;
}

/*
 * A resuming fd loads nothing once the reset has returned: neither a
 * write made after it, nor (@inflight) a write of the whole stream that
 * was in progress when the reset came: memory does not change after the
 * reset has returned.
 */
static void write_after_reset(struct __test_metadata *_metadata,
			      FIXTURE_DATA(rst) *self, enum how how,
			      bool inflight)
{
	struct vdev *d = &self->p.dst;
	volatile uint32_t *probe = (volatile uint32_t *)(d->bar2 + 8192);
	int loads = 0;

	for (int i = 0; i < self->tries; i++) {
		struct inflight w = { .data = self->full.data,
				      .len = self->full.len };
		uint32_t st, seen;
		pthread_t th;
		ssize_t n;
		int fd;

		memset(d->bar2, 0x5a, d->bar2_size);
		ASSERT_EQ(0, mig_set_state(d, ST(RESUMING), &fd));
		if (inflight) {
			w.fd = fd;
			ASSERT_EQ(0, pthread_create(&th, NULL, inflight_write,
						    &w));
			while (!atomic_load(&w.started))
				;
			usleep(rand() % 150000);
			ASSERT_EQ(0, do_reset(d, how));
			seen = *probe;
			pthread_join(th, NULL);
			if (*probe != seen)
				loads++;
		} else {
			ASSERT_EQ(0, do_reset(d, how));
			n = write(fd, self->full.data, self->full.len);
			if (n >= 0 || *probe != 0x5a5a5a5a)
				loads++;
			else
				ASSERT_EQ(ENODEV, errno);
		}
		close(fd);
		ASSERT_EQ(0, mig_get_state(d, &st));
		ASSERT_EQ(ST(RUNNING), st);
	}
	if (loads)
		TH_LOG("%s: %d of %d writes loaded after the reset returned",
		       how_name[how], loads, self->tries);
	ASSERT_EQ(0, loads);
}

TEST_F(rst, inflight_write_during_device_reset)
{
	write_after_reset(_metadata, self, BY_IOCTL, true);
}

TEST_F(rst, read_after_device_reset)
{
	read_after_reset(_metadata, self, BY_IOCTL);
}

TEST_F(rst, write_after_device_reset)
{
	write_after_reset(_metadata, self, BY_IOCTL, false);
}

TEST_F(rst, inflight_write_during_hot_reset)
{
	write_after_reset(_metadata, self, BY_HOT_RESET, true);
}

TEST_F(rst, read_after_hot_reset)
{
	read_after_reset(_metadata, self, BY_HOT_RESET);
}

TEST_F(rst, write_after_hot_reset)
{
	write_after_reset(_metadata, self, BY_HOT_RESET, false);
}

TEST_F(rst, read_after_sysfs_reset)
{
	read_after_reset(_metadata, self, BY_SYSFS);
}

TEST_F(rst, write_after_sysfs_reset)
{
	write_after_reset(_metadata, self, BY_SYSFS, false);
}

struct delayed_reset {
	struct vdev *d;
	int delay_ms;
	int ret;
	double took_ms;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *reset_later(void *arg)
{
	struct delayed_reset *r = arg;
	struct timespec ts = { 0, r->delay_ms * 1000000L };
	double t0;

	nanosleep(&ts, NULL);
	t0 = now_ms();
	r->ret = do_reset(r->d, BY_IOCTL);
	r->took_ms = now_ms() - t0;
	return NULL;
}

/*
 * The firmware holds memory_lock a chunk at a time, and the saving fd
 * copies device memory one part at a time as it is read: a
 * VFIO_DEVICE_RESET issued while a full image is being read waits for one
 * chunk at most, and the stream stops there: the read fails with ENODEV
 * with fewer bytes than the whole stream.  Resets are issued at times
 * spread over the read (the save starts at once: latency 0): some must
 * cut the stream.  Each ends the session all the same: the read fails with
 * ENODEV unless the whole stream was read before the reset, and the device
 * is RUNNING.
 */
TEST_F(rst, device_reset_cuts_save)
{
	static const int delays_ms[] = { 1, 2, 4, 8, 16, 32 };
	struct vdev *d = &self->p.src;
	uint64_t whole;
	int cut = 0;

	ASSERT_EQ(0, knob_write(d->bdf, "latency_ms", "0"));
	ASSERT_EQ(0, mig_data_size(d, &whole));
	for (size_t i = 0; i < ARRAY_SIZE(delays_ms); i++) {
		struct delayed_reset r = { .d = d, .delay_ms = delays_ms[i] };
		struct stream s = {};
		pthread_t th;
		uint32_t st;
		int fd, ret;

		ASSERT_EQ(0, mig_set_state(d, ST(STOP), NULL));
		ASSERT_EQ(0, mig_set_state(d, ST(STOP_COPY), &fd));
		ASSERT_EQ(0, pthread_create(&th, NULL, reset_later, &r));
		ret = stream_read(&s, fd);
		ASSERT_EQ(0, pthread_join(th, NULL));
		close(fd);
		ASSERT_EQ(0, r.ret);
		if (ret) {
			ASSERT_EQ(-ENODEV, ret);
		} else {
			ASSERT_EQ(whole, s.len);
		}
		ASSERT_EQ(0, mig_get_state(d, &st));
		ASSERT_EQ(ST(RUNNING), st);
		TH_LOG("reset after %d ms: took %.1f ms, read %d after %zu of %llu bytes",
		       delays_ms[i], r.took_ms, ret, s.len,
		       (unsigned long long)whole);
		if (ret && s.len < whole)
			cut++;
		stream_free(&s);
	}
	ASSERT_EQ(0, knob_write(d->bdf, "latency_ms", "1"));
	EXPECT_LT(0, cut);
}

TEST_HARNESS_MAIN
