// SPDX-License-Identifier: GPL-2.0
/*
 * Every allocation of the save path and of the resuming write, failed in
 * turn: the task's fail-nth (CONFIG_FAULT_INJECTION, FAILSLAB,
 * FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS) fails the Nth allocation the
 * test's own syscalls make, for N = 1, 2, ... until one whole pass makes
 * no allocation fail.  After each pass the source is RUNNING with its
 * memory intact, a destination whose load failed refuses to leave
 * RESUMING (it never runs half-loaded).  Leaks on these error paths are
 * kmemleak's to find: the debug kernel's suite scans after the tests
 * (kmemleak.no_leaks).  Skips, with the reason, on a kernel without fault
 * injection (Debian's): make check-debug runs it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "harness.h"
#include "mig_common.h"

#define FAULT_DEBUGFS "/sys/kernel/debug"
/* Far more than either path allocates: a sweep that gets there is stuck. */
#define MAX_NTH 100000

FIXTURE(fnth) {
	struct pair p;
	uint8_t *pattern;
	uint8_t *buf;		/* the stream, pre-faulted */
	size_t cap;
	int nth;		/* /proc/self/task/TID/fail-nth */
	bool ready;
};

/* Kernel allocations may sleep and be of order 0 and still be failed. */
static int fault_attrs_setup(void)
{
	static const char * const set[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
	};
	char path[128];

	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		snprintf(path, sizeof(path), FAULT_DEBUGFS "/%s", set[i][0]);
		if (sysfs_write(path, set[i][1]))
			return -1;
	}
	return 0;
}

FIXTURE_SETUP(fnth)
{
	char path[64];
	uint32_t state;
	int ret;

	self->ready = false;
	self->nth = -1;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	self->nth = open(path, O_RDWR);
	if (self->nth < 0)
		SKIP(return, "no %s: the kernel has no CONFIG_FAULT_INJECTION (make check-debug runs this)",
		     path);
	if (access(FAULT_DEBUGFS "/failslab", F_OK) ||
	    access(FAULT_DEBUGFS "/fail_page_alloc", F_OK))
		SKIP(return, "no " FAULT_DEBUGFS "/failslab or fail_page_alloc: needs FAILSLAB, FAIL_PAGE_ALLOC and FAULT_INJECTION_DEBUG_FS");
	ASSERT_EQ(0, fault_attrs_setup());

	ret = pair_open(&self->p);
	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	self->ready = true;
	/* Our own code paths run once before anything is armed. */
	ASSERT_EQ(0, mig_get_state(&self->p.src, &state));
	ASSERT_EQ(0, mig_get_state(&self->p.dst, &state));
	self->pattern = malloc(self->p.src.bar2_size);
	ASSERT_NE(NULL, self->pattern);
	fill_pattern(self->pattern, self->p.src.bar2_size, getpid());
	memcpy(self->p.src.bar2, self->pattern, self->p.src.bar2_size);
	/*
	 * The stream's buffer is faulted in before any fault is armed: a
	 * page fault of ours must not be the allocation that fails.
	 */
	self->cap = self->p.src.bar2_size + (1 << 20);
	self->buf = mmap(NULL, self->cap, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ASSERT_EQ(0, mlock(self->buf, self->cap));
}

FIXTURE_TEARDOWN(fnth)
{
	if (self->nth >= 0)
		close(self->nth);
	if (!self->ready)
		return;
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, self->cap);
	pair_close(&self->p);
	free(self->pattern);
}

static int arm(int fd, int n)
{
	char s[16];
	int len = snprintf(s, sizeof(s), "%d", n);

	return pwrite(fd, s, len, 0) == len ? 0 : -errno;
}

/* Disarm; returns true if the armed failure happened (fail-nth read 0). */
static bool disarm(int fd)
{
	char s[16] = "";
	ssize_t n = pread(fd, s, sizeof(s) - 1, 0);

	arm(fd, 0);
	return n > 0 && atoi(s) == 0;
}

/* Read the saving fd into buf until its end; bytes read or -errno. */
static ssize_t read_stream(int fd, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len < cap) {
		n = read(fd, buf + len, cap - len > (1 << 20) ? 1 << 20 : cap - len);
		if (n == 0)
			return len;
		if (n < 0)
			return -errno;
		len += n;
	}
	return -EFBIG;
}

/* Back to RUNNING, by a reset if the device went to ERROR. */
static int back_to_running(struct vdev *d)
{
	uint32_t state;
	int ret = mig_get_state(d, &state);

	if (ret)
		return ret;
	if (state == ST(ERROR) || state == ST(RESUMING)) {
		if (ioctl(d->fd, VFIO_DEVICE_RESET))
			return -errno;
	} else if (state != ST(RUNNING)) {
		ret = mig_set_state(d, ST(RUNNING), NULL);
		if (ret)
			return ret;
	}
	ret = mig_get_state(d, &state);
	return ret ?: state == ST(RUNNING) ? 0 : -EPROTO;
}

/* RUNNING -> STOP_COPY with the Nth allocation failing, and the read. */
TEST_F_TIMEOUT(fnth, save_path, 3600)
{
	int n, failures = 0;

	for (n = 1; n < MAX_NTH; n++) {
		ssize_t len = -1;
		bool hit;
		int fd = -1, ret;

		ASSERT_EQ(0, arm(self->nth, n));
		ret = mig_set_state(&self->p.src, ST(STOP_COPY), &fd);
		if (!ret)
			len = read_stream(fd, self->buf, self->cap);
		hit = disarm(self->nth);
		if (fd >= 0)
			close(fd);
		if (ret || len < 0)
			failures++;
		/* Whatever failed, the source runs with its memory. */
		ASSERT_EQ(0, back_to_running(&self->p.src)) {
			TH_LOG("fail-nth %d: set %d, read %zd", n, ret, len);
		}
		ASSERT_EQ(0, memcmp(self->p.src.bar2, self->pattern,
				    self->p.src.bar2_size)) {
			TH_LOG("fail-nth %d: source memory changed", n);
		}
		if (!hit) {
			/* Nothing failed: the save must have been whole. */
			ASSERT_EQ(0, ret);
			ASSERT_LT(0, len);
			break;
		}
	}
	TH_LOG("save path: %d allocations failed in turn, %d saves failed",
	       n - 1, failures);
	/* The sweep failed something, and something was refused. */
	ASSERT_LT(1, n);
	ASSERT_LT(0, failures);
}

/* RUNNING -> RESUMING and the whole stream's write, Nth allocation failing. */
TEST_F_TIMEOUT(fnth, resuming_write, 3600)
{
	ssize_t len;
	uint32_t got;
	int n, fd, failures = 0;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	len = read_stream(fd, self->buf, self->cap);
	close(fd);
	ASSERT_LT(0, len);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));

	for (n = 1; n < MAX_NTH; n++) {
		bool hit;
		int ret, wret = -1;

		memset(self->p.dst.bar2, 0x5a, 4096);
		fd = -1;
		ASSERT_EQ(0, arm(self->nth, n));
		ret = mig_set_state(&self->p.dst, ST(RESUMING), &fd);
		if (!ret)
			wret = stream_write(fd, self->buf, len, 0);
		hit = disarm(self->nth);
		if (ret || wret) {
			failures++;
			/* A load that failed is refused: never RUNNING. */
			if (!ret)
				ASSERT_NE(0, mig_set_state(&self->p.dst, ST(STOP), NULL));
			ASSERT_EQ(0, mig_get_state(&self->p.dst, &got));
			ASSERT_NE(ST(RUNNING), got) {
				TH_LOG("fail-nth %d: set %d, write %d, destination running",
				       n, ret, wret);
			}
			if (fd >= 0)
				close(fd);
			ASSERT_EQ(0, back_to_running(&self->p.dst));
		} else {
			ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(STOP), NULL));
			close(fd);
			ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RUNNING), NULL));
			ASSERT_EQ(0, memcmp(self->p.dst.bar2, self->pattern,
					    self->p.dst.bar2_size)) {
				TH_LOG("fail-nth %d: loaded but not byte-exact", n);
			}
		}
		if (!hit)
			break;
	}
	TH_LOG("resuming write: %d allocations failed in turn, %d loads refused",
	       n - 1, failures);
	ASSERT_LT(1, n);
	ASSERT_LT(0, failures);
}

TEST_HARNESS_MAIN
