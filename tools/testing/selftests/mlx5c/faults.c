// SPDX-License-Identifier: GPL-2.0
/*
 * The fault matrix: every firmware command that a migration issues, on
 * the source and on the destination, failing at its first and at its last
 * occurrence, in a PRE_COPY and in a STOP_COPY migration driven through
 * the raw uAPI the way a VMM would, with a VMM's recovery: the source
 * back to RUNNING (reset if it is in ERROR), the destination reset.
 *
 * Every case must end with the source RUNNING and its memory intact, and
 * the destination never RUNNING with memory that differs from the
 * source's.  Every injected failure fails the migration, except that of an
 * incremental save during PRE_COPY, after which the final image is full
 * and the migration succeeds (fallback).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ioctl.h>

#include "harness.h"
#include "mig_common.h"

#define PAGE 4096

static const char * const cmds[] = {
	"query_size", "suspend_initiator", "suspend_responder",
	"resume_initiator", "resume_responder", "save_initial",
	"save_middle", "save_final", "load",
};
#define NR_CMDS (sizeof(cmds) / sizeof(cmds[0]))

struct ctx {
	struct pair *p;
	uint8_t *shadow;	/* what the source's memory must hold */
	unsigned int seq;
	bool dst_resuming;	/* the destination entered RESUMING */
};

/* The "guest" writes: to the source and to its shadow alike. */
static void guest_write(struct ctx *c, size_t first, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t off = (first + i * 37) % (c->p->src.bar2_size / PAGE) * PAGE +
			     (c->seq % 64) * 8;

		c->seq++;
		memcpy(c->p->src.bar2 + off, &c->seq, sizeof(c->seq));
		memcpy(c->shadow + off, &c->seq, sizeof(c->seq));
	}
}

static int copy_out(int from, int to)
{
	static uint8_t buf[1 << 20];
	ssize_t n;
	int ret;

	for (;;) {
		n = read(from, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == ENOMSG ? 0 : -errno;
		ret = stream_write(to, buf, n, 0);
		if (ret)
			return ret;
	}
}

/* A VMM's migration; returns 0 or the first error. */
static int vmm_migrate(struct ctx *c, bool precopy)
{
	struct vfio_precopy_info info;
	struct pair *p = c->p;
	int sfd = -1, dfd = -1, ret;

	c->dst_resuming = false;
	ret = mig_set_state(&p->dst, ST(RESUMING), &dfd);
	if (ret)
		goto out;
	c->dst_resuming = true;
	if (precopy) {
		ret = mig_set_state(&p->src, ST(PRE_COPY), &sfd);
		for (int round = 0; !ret && round < 3; round++) {
			ret = copy_out(sfd, dfd);
			if (!ret)
				guest_write(c, 1 + round * 100, 20);
			if (!ret)
				ret = precopy_info(sfd, &info);
		}
		if (!ret)
			ret = copy_out(sfd, dfd);
		if (!ret)
			ret = mig_set_state(&p->src, ST(STOP_COPY), NULL);
	} else {
		guest_write(c, 7, 20);
		ret = mig_set_state(&p->src, ST(STOP_COPY), &sfd);
	}
	if (!ret)
		ret = copy_out(sfd, dfd);
	if (!ret)
		ret = mig_set_state(&p->dst, ST(RUNNING), NULL);
	if (!ret)
		ret = mig_set_state(&p->src, ST(STOP), NULL);
out:
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	return ret;
}

static void recover(struct vdev *d, bool reset)
{
	uint32_t st;

	if (!reset && !mig_get_state(d, &st) && st != ST(ERROR) &&
	    !mig_set_state(d, ST(RUNNING), NULL))
		return;
	ioctl(d->fd, VFIO_DEVICE_RESET);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int issued(const char *bdf, const char *cmd)
{
	char knob[64];

	snprintf(knob, sizeof(knob), "%s/issued", cmd);
	return knob_read(bdf, knob);
}

static void matrix(struct __test_metadata *_metadata, struct pair *p,
		   bool precopy)
{
	struct ctx c = { .p = p };
	int base[2][NR_CMDS], n[2][NR_CMDS], cases = 0, failed_ok = 0;
	uint32_t st;

	c.shadow = malloc(p->src.bar2_size);
	ASSERT_NE(NULL, c.shadow);
	fill_pattern(p->src.bar2, p->src.bar2_size, 77);
	memcpy(c.shadow, p->src.bar2, p->src.bar2_size);

	/* A clean run tells how often each command is issued. */
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < NR_CMDS; i++)
			base[f][i] = issued(p->bdf[f], cmds[i]);
	ASSERT_EQ(0, vmm_migrate(&c, precopy));
	ASSERT_EQ(0, memcmp(p->dst.bar2, c.shadow, p->src.bar2_size));
	for (int f = 0; f < 2; f++)
		for (size_t i = 0; i < NR_CMDS; i++)
			n[f][i] = issued(p->bdf[f], cmds[i]) - base[f][i];
	ASSERT_EQ(0, mig_set_state(&p->src, ST(RUNNING), NULL));

	for (int f = 0; f < 2; f++) {
		struct vdev *d = f ? &p->dst : &p->src;

		for (size_t i = 0; i < NR_CMDS; i++) {
			for (int at = 0; at < n[f][i]; at++) {
				char knob[64], val[16];
				bool tolerated;
				int ret;

				if (at && at != n[f][i] - 1)
					continue;	/* first and last */
				snprintf(knob, sizeof(knob), "%s/fail_skip", cmds[i]);
				snprintf(val, sizeof(val), "%d", at);
				ASSERT_EQ(0, knob_write(d->bdf, knob, val));
				snprintf(knob, sizeof(knob), "%s/fail_count", cmds[i]);
				ASSERT_EQ(0, knob_write(d->bdf, knob, "1"));
				memset(p->dst.bar2, 0, p->dst.bar2_size);

				ret = vmm_migrate(&c, precopy);
				tolerated = precopy && f == 0 &&
					    !strcmp(cmds[i], "save_middle");
				TH_LOG("%s %s #%d: %d", f ? "dst" : "src", cmds[i],
				       at, ret);
				cases++;
				ASSERT_EQ(tolerated, ret == 0);
				/* The knob was consumed: exactly one failure. */
				ASSERT_EQ(0, knob_read(d->bdf, knob));

				/*
				 * Never RUNNING half-loaded: RUNNING after
				 * RESUMING means everything arrived; a
				 * destination that never resumed is untouched.
				 */
				ASSERT_EQ(0, mig_get_state(&p->dst, &st));
				if (st == ST(RUNNING) && c.dst_resuming) {
					ASSERT_EQ(0, memcmp(p->dst.bar2, c.shadow,
							    p->dst.bar2_size));
				} else if (st == ST(RUNNING)) {
					ASSERT_TRUE(all_zero(p->dst.bar2,
							     p->dst.bar2_size));
				}
				failed_ok += !!ret;
				recover(&p->src, false);
				recover(&p->dst, !!ret);
				ASSERT_EQ(0, mig_get_state(&p->src, &st));
				ASSERT_EQ(ST(RUNNING), st);
				ASSERT_EQ(0, memcmp(p->src.bar2, c.shadow,
						    p->src.bar2_size));
				ASSERT_EQ(0, mig_get_state(&p->dst, &st));
				ASSERT_EQ(ST(RUNNING), st);
			}
		}
	}
	TH_LOG("%s: %d cases, %d failed as documented",
	       precopy ? "PRE_COPY" : "STOP_COPY", cases, failed_ok);
	ASSERT_GE(cases, precopy ? 12 : 8);
	free(c.shadow);
}

FIXTURE(faults) {
	struct pair p;
};

FIXTURE_SETUP(faults)
{
	int ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(faults)
{
	pair_close(&self->p);
}

TEST_F_TIMEOUT(faults, stop_copy_matrix, 600)
{
	matrix(_metadata, &self->p, false);
}

TEST_F_TIMEOUT(faults, pre_copy_matrix, 600)
{
	matrix(_metadata, &self->p, true);
}

TEST_HARNESS_MAIN
