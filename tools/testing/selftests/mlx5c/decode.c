// SPDX-License-Identifier: GPL-2.0
/*
 * The device state does not depend on guest-controlled config: the
 * firmware saves and loads the device memory with memory decode off in the
 * command register, as QEMU leaves it on a destination (it resets the
 * function, clearing the command register, and loads the device data before
 * it restores config space) and as a guest may leave it on a source.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <sys/ioctl.h>
#include <linux/pci_regs.h>

#include "harness.h"
#include "mig_common.h"

#define PAGE 4096

FIXTURE(dec) {
	struct pair p;
	uint8_t *pattern;
};

FIXTURE_SETUP(dec)
{
	int ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	self->pattern = malloc(self->p.src.bar2_size);
	ASSERT_NE(NULL, self->pattern);
	fill_pattern(self->pattern, self->p.src.bar2_size, getpid() ^ 0xdec);
	memcpy(self->p.src.bar2, self->pattern, self->p.src.bar2_size);
	memset(self->p.dst.bar2, 0x5a, self->p.dst.bar2_size);
}

FIXTURE_TEARDOWN(dec)
{
	pair_close(&self->p);
	free(self->pattern);
}

static int config_offset(struct vdev *d, uint64_t *off)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};

	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	*off = info.offset;
	return 0;
}

/* Read, or set/clear the memory-enable bit, through the VFIO config region. */
static int command(struct vdev *d, int mem_on, uint16_t *out)
{
	uint64_t off = 0;
	uint16_t cmd;
	int ret = config_offset(d, &off);

	if (ret)
		return ret;
	if (pread(d->fd, &cmd, 2, off + PCI_COMMAND) != 2)
		return -errno;
	if (mem_on >= 0) {
		cmd = mem_on ? cmd | PCI_COMMAND_MEMORY :
			       cmd & ~PCI_COMMAND_MEMORY;
		if (pwrite(d->fd, &cmd, 2, off + PCI_COMMAND) != 2)
			return -errno;
		if (pread(d->fd, &cmd, 2, off + PCI_COMMAND) != 2)
			return -errno;
	}
	if (out)
		*out = cmd;
	return 0;
}

static int decode(struct vdev *d, bool on)
{
	uint16_t cmd;
	int ret = command(d, on, &cmd);

	if (ret)
		return ret;
	return !!(cmd & PCI_COMMAND_MEMORY) == on ? 0 : -EIO;
}

/* The first differing page, or -1. */
static long first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t pg = 0; pg < len / PAGE; pg++)
		if (memcmp(a + pg * PAGE, b + pg * PAGE, PAGE))
			return pg;
	return -1;
}

/* STOP_COPY from a source with decode off into a destination with decode off. */
TEST_F(dec, stop_copy_decode_off_both_ends)
{
	struct pair *p = &self->p;
	struct stream s = {};
	uint16_t cmd;
	int fd;

	ASSERT_EQ(0, decode(&p->src, false));
	ASSERT_EQ(0, decode(&p->dst, false));

	ASSERT_EQ(0, mig_set_state(&p->src, ST(STOP_COPY), &fd));
	ASSERT_EQ(0, stream_read(&s, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&p->src, ST(RUNNING), NULL));
	ASSERT_EQ(1, stream_images(&s, NULL));

	ASSERT_EQ(0, load_stream(&p->dst, s.data, s.len, 0));
	stream_free(&s);

	/* The firmware restored the command register it found. */
	ASSERT_EQ(0, command(&p->src, -1, &cmd));
	ASSERT_EQ(0, cmd & PCI_COMMAND_MEMORY);
	ASSERT_EQ(0, command(&p->dst, -1, &cmd));
	ASSERT_EQ(0, cmd & PCI_COMMAND_MEMORY);

	ASSERT_EQ(0, decode(&p->src, true));
	ASSERT_EQ(0, decode(&p->dst, true));
	EXPECT_EQ(-1, first_diff(p->src.bar2, self->pattern, p->src.bar2_size));
	EXPECT_EQ(-1, first_diff(p->dst.bar2, self->pattern, p->dst.bar2_size));
}

/*
 * PRE_COPY: the initial image saved with decode on, pages dirtied, decode
 * switched off on both ends before the middle and final images are saved
 * and before anything is loaded.
 */
TEST_F(dec, precopy_decode_off_both_ends)
{
	struct vfio_precopy_info info;
	struct pair *p = &self->p;
	struct stream s = {};
	int fd;

	ASSERT_EQ(0, mig_set_state(&p->src, ST(PRE_COPY), &fd));
	ASSERT_LT(0, stream_drain(&s, fd));
	for (size_t pg = 1; pg < p->src.bar2_size / PAGE; pg += 97) {
		memset(p->src.bar2 + pg * PAGE, pg & 0xff, 64);
		memset(self->pattern + pg * PAGE, pg & 0xff, 64);
	}
	ASSERT_EQ(0, decode(&p->src, false));
	ASSERT_EQ(0, decode(&p->dst, false));
	/* PRECOPY_INFO starts the incremental image. */
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_LT(0, info.dirty_bytes);
	ASSERT_LT(0, stream_drain(&s, fd));
	ASSERT_EQ(0, mig_set_state(&p->src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(&s, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&p->src, ST(RUNNING), NULL));
	ASSERT_LE(2, stream_images(&s, NULL));

	ASSERT_EQ(0, load_stream(&p->dst, s.data, s.len, 0));
	stream_free(&s);

	ASSERT_EQ(0, decode(&p->src, true));
	ASSERT_EQ(0, decode(&p->dst, true));
	EXPECT_EQ(-1, first_diff(p->src.bar2, self->pattern, p->src.bar2_size));
	EXPECT_EQ(-1, first_diff(p->dst.bar2, self->pattern, p->dst.bar2_size));
}

/*
 * Set SERR in the command register after @delay_ms, with a byte write to
 * its upper half through the VFIO config region: vfio-pci-core takes no
 * memory_lock for it, so it lands even while the firmware holds the
 * command register to copy with decode off.
 */
struct serr_setter {
	struct vdev *d;
	int delay_ms;
	int ret;
};

static void *set_serr(void *arg)
{
	struct serr_setter *s = arg;
	struct timespec ts = { 0, s->delay_ms * 1000000L };
	uint64_t off = 0;
	uint8_t hi;

	nanosleep(&ts, NULL);
	s->ret = config_offset(s->d, &off);
	if (s->ret)
		return NULL;
	if (pread(s->d->fd, &hi, 1, off + PCI_COMMAND + 1) != 1)
		s->ret = -errno;
	hi |= PCI_COMMAND_SERR >> 8;
	if (!s->ret && pwrite(s->d->fd, &hi, 1, off + PCI_COMMAND + 1) != 1)
		s->ret = -errno;
	return NULL;
}

/* Write the whole command register. */
static int set_command(struct vdev *d, uint16_t cmd)
{
	uint64_t off = 0;
	int ret = config_offset(d, &off);

	if (ret)
		return ret;
	return pwrite(d->fd, &cmd, 2, off + PCI_COMMAND) == 2 ? 0 : -errno;
}

/*
 * The firmware turns decode on for a copy and off again: a bit of the
 * command register that someone else changed meanwhile stays changed.
 * The bit is set once, at times spread over the copies of a save and of
 * a load; each is checked after the copy.
 */
TEST_F(dec, other_command_bits_kept)
{
	static const int delays_ms[] = { 0, 5, 10, 20, 40, 60, 80, 120 };
	struct pair *p = &self->p;
	struct serr_setter s;
	struct stream st = {};
	pthread_t t;
	uint16_t cmd;
	int fd;

	/* SERR must be writable through vfio for this test to mean anything. */
	ASSERT_EQ(0, command(&p->src, -1, &cmd));
	ASSERT_EQ(0, set_command(&p->src, cmd | PCI_COMMAND_SERR));
	ASSERT_EQ(0, command(&p->src, -1, &cmd));
	if (!(cmd & PCI_COMMAND_SERR))
		SKIP(return, "SERR is not writable on this function");

	for (size_t i = 0; i < ARRAY_SIZE(delays_ms); i++) {
		/* Save: decode off, SERR clear, SERR set during the copy. */
		ASSERT_EQ(0, command(&p->src, -1, &cmd));
		cmd &= ~(PCI_COMMAND_SERR | PCI_COMMAND_MEMORY);
		ASSERT_EQ(0, set_command(&p->src, cmd));
		s = (struct serr_setter){ .d = &p->src,
					  .delay_ms = delays_ms[i] };
		ASSERT_EQ(0, mig_set_state(&p->src, ST(STOP_COPY), &fd));
		ASSERT_EQ(0, pthread_create(&t, NULL, set_serr, &s));
		ASSERT_EQ(0, stream_read(&st, fd));
		ASSERT_EQ(0, pthread_join(t, NULL));
		close(fd);
		ASSERT_EQ(0, s.ret);
		ASSERT_EQ(0, mig_set_state(&p->src, ST(RUNNING), NULL));
		ASSERT_EQ(0, command(&p->src, -1, &cmd));
		EXPECT_EQ(PCI_COMMAND_SERR, cmd & (PCI_COMMAND_SERR |
						   PCI_COMMAND_MEMORY)) {
			TH_LOG("save, SERR set after %d ms: command %#x",
			       delays_ms[i], cmd);
		}

		/* Load: the same on the destination. */
		ASSERT_EQ(0, command(&p->dst, -1, &cmd));
		cmd &= ~(PCI_COMMAND_SERR | PCI_COMMAND_MEMORY);
		ASSERT_EQ(0, set_command(&p->dst, cmd));
		s = (struct serr_setter){ .d = &p->dst,
					  .delay_ms = delays_ms[i] };
		ASSERT_EQ(0, pthread_create(&t, NULL, set_serr, &s));
		ASSERT_EQ(0, load_stream(&p->dst, st.data, st.len, 0));
		ASSERT_EQ(0, pthread_join(t, NULL));
		ASSERT_EQ(0, s.ret);
		ASSERT_EQ(0, command(&p->dst, -1, &cmd));
		EXPECT_EQ(PCI_COMMAND_SERR, cmd & (PCI_COMMAND_SERR |
						   PCI_COMMAND_MEMORY)) {
			TH_LOG("load, SERR set after %d ms: command %#x",
			       delays_ms[i], cmd);
		}
		stream_free(&st);
	}

	ASSERT_EQ(0, decode(&p->src, true));
	ASSERT_EQ(0, decode(&p->dst, true));
	EXPECT_EQ(-1, first_diff(p->src.bar2, self->pattern, p->src.bar2_size));
	EXPECT_EQ(-1, first_diff(p->dst.bar2, self->pattern, p->dst.bar2_size));
}

/*
 * SERR toggled through the VFIO config region (byte writes to the upper
 * half, which vfio-pci-core makes without memory_lock) as fast as the
 * thread can while saves and loads copy with decode off.  Before each
 * toggle the bit must read as the thread last wrote it: a firmware that
 * writes back a whole command word it read before a toggle landed turns
 * that toggle back, and the next read sees it.
 */
struct serr_toggler {
	struct vdev *d;
	atomic_bool stop;
	unsigned int toggles;
	unsigned int lost;
	int ret;
};

static int serr_toggle(struct vdev *d, uint64_t off, bool *on,
		       unsigned int *lost)
{
	uint8_t hi;

	if (pread(d->fd, &hi, 1, off + PCI_COMMAND + 1) != 1)
		return -errno;
	if (!!(hi & (PCI_COMMAND_SERR >> 8)) != *on)
		(*lost)++;
	*on = !*on;
	hi = *on ? hi | PCI_COMMAND_SERR >> 8 : hi & ~(PCI_COMMAND_SERR >> 8);
	return pwrite(d->fd, &hi, 1, off + PCI_COMMAND + 1) == 1 ? 0 : -errno;
}

static void *toggle_serr(void *arg)
{
	struct serr_toggler *t = arg;
	uint64_t off = 0;
	uint16_t cmd;
	bool on;

	t->ret = command(t->d, -1, &cmd);
	on = cmd & PCI_COMMAND_SERR;
	if (!t->ret)
		t->ret = config_offset(t->d, &off);
	while (!t->ret && !atomic_load(&t->stop)) {
		t->ret = serr_toggle(t->d, off, &on, &t->lost);
		t->toggles++;
	}
	/* The last toggle, checked once the copies are over. */
	if (!t->ret && !command(t->d, -1, &cmd) &&
	    !!(cmd & PCI_COMMAND_SERR) != on)
		t->lost++;
	return NULL;
}

TEST_F(dec, serr_toggles_during_copies_kept)
{
	struct pair *p = &self->p;
	struct serr_toggler ts, td;
	struct stream st = {};
	pthread_t tsrc, tdst;
	uint16_t cmd;
	int fd;

	ASSERT_EQ(0, decode(&p->src, false));
	ASSERT_EQ(0, decode(&p->dst, false));
	ts = (struct serr_toggler){ .d = &p->src };
	td = (struct serr_toggler){ .d = &p->dst };
	ASSERT_EQ(0, pthread_create(&tsrc, NULL, toggle_serr, &ts));
	ASSERT_EQ(0, pthread_create(&tdst, NULL, toggle_serr, &td));
	for (int round = 0; round < 3; round++) {
		ASSERT_EQ(0, mig_set_state(&p->src, ST(STOP_COPY), &fd));
		ASSERT_EQ(0, stream_read(&st, fd));
		close(fd);
		ASSERT_EQ(0, mig_set_state(&p->src, ST(RUNNING), NULL));
		ASSERT_EQ(0, load_stream(&p->dst, st.data, st.len, 0));
		stream_free(&st);
	}
	atomic_store(&ts.stop, true);
	atomic_store(&td.stop, true);
	ASSERT_EQ(0, pthread_join(tsrc, NULL));
	ASSERT_EQ(0, pthread_join(tdst, NULL));
	ASSERT_EQ(0, ts.ret);
	ASSERT_EQ(0, td.ret);
	TH_LOG("toggles: source %u (%u lost), destination %u (%u lost)",
	       ts.toggles, ts.lost, td.toggles, td.lost);
	/* Enough toggles landed during the copies for the check to matter. */
	ASSERT_LE(1000, ts.toggles);
	ASSERT_LE(1000, td.toggles);
	EXPECT_EQ(0, ts.lost);
	EXPECT_EQ(0, td.lost);

	/* The firmware left decode as it found it. */
	ASSERT_EQ(0, command(&p->src, -1, &cmd));
	EXPECT_EQ(0, cmd & PCI_COMMAND_MEMORY);
	ASSERT_EQ(0, command(&p->dst, -1, &cmd));
	EXPECT_EQ(0, cmd & PCI_COMMAND_MEMORY);
	ASSERT_EQ(0, decode(&p->src, true));
	ASSERT_EQ(0, decode(&p->dst, true));
	EXPECT_EQ(-1, first_diff(p->dst.bar2, self->pattern, p->dst.bar2_size));
}

TEST_HARNESS_MAIN
