// SPDX-License-Identifier: GPL-2.0
#include <stdint.h>
#include <string.h>

#include <linux/vfio.h>
#include "linux/vfio_mig_compat.h"
#include "../policy.h"
#include "tap.h"

static struct policy_sample sample(uint64_t t, uint64_t init, uint64_t dirty,
				   uint32_t flags)
{
	/* 100 MB/s: 100000 bytes in 1 ms */
	struct policy_sample s = {
		.now_ms = t, .initial_bytes = init, .dirty_bytes = dirty,
		.flags = flags, .bytes = 100000, .busy_us = 1000,
	};
	return s;
}

void policy_initial_drain(void)
{
	struct policy_cfg cfg = { .downtime_ms = 300, .v2 = true };
	struct policy p;
	struct policy_sample s;

	policy_init(&p, &cfg, 0);
	/* 1 MB left is 10 ms at 100 MB/s, but initial data is not drained */
	s = sample(10, 1000000, 0, 0);
	ok(policy_feed(&p, &s) == POLICY_CONTINUE,
	   "policy: no switch while initial_bytes > 0");
	s = sample(20, 0, 1000000, 0);
	ok(policy_feed(&p, &s) == POLICY_CONVERGED && p.estimate_ms == 10,
	   "policy: switch once initial drained and 1 MB fits in 300 ms");
}

void policy_reinit(void)
{
	struct policy_cfg cfg = { .downtime_ms = 300, .v2 = true };
	struct policy p;
	struct policy_sample s;

	policy_init(&p, &cfg, 0);
	s = sample(10, 0, 1000, VFIO_PRECOPY_INFO_REINIT);
	ok(policy_feed(&p, &s) == POLICY_CONTINUE && p.reinits == 1,
	   "policy: REINIT restarts the wait for initial data");
	s = sample(20, 500000, 0, 0);
	ok(policy_feed(&p, &s) == POLICY_CONTINUE,
	   "policy: new initial data after REINIT is waited for");
	s = sample(30, 0, 1000, 0);
	ok(policy_feed(&p, &s) == POLICY_CONVERGED,
	   "policy: switch after the re-initialised data drained");
}

void policy_reinit_needs_v2(void)
{
	struct policy_cfg cfg = { .downtime_ms = 300, .v2 = false };
	struct policy p;
	struct policy_sample s;

	policy_init(&p, &cfg, 0);
	s = sample(10, 0, 1000, VFIO_PRECOPY_INFO_REINIT);
	ok(policy_feed(&p, &s) == POLICY_CONVERGED && p.reinits == 0,
	   "policy: flags ignored without the PRECOPY_INFOv2 opt-in");
}

void policy_downtime(void)
{
	struct policy_cfg cfg = { .downtime_ms = 300 };
	struct policy p;
	struct policy_sample s;

	policy_init(&p, &cfg, 0);
	/* 40 MB at 100 MB/s = 400 ms > 300 ms */
	s = sample(10, 0, 40000000, 0);
	ok(policy_feed(&p, &s) == POLICY_CONTINUE && p.estimate_ms == 400,
	   "policy: 400 ms estimate exceeds 300 ms limit");
	s = sample(20, 0, 25000000, 0);
	ok(policy_feed(&p, &s) == POLICY_CONVERGED && p.estimate_ms == 250,
	   "policy: 250 ms estimate is within the limit");
	ok(policy_bandwidth(&p) == 100000000,
	   "policy: bandwidth measured as 100 MB/s");
}

void policy_no_bandwidth(void)
{
	struct policy_cfg cfg = { .downtime_ms = 300 };
	struct policy p;
	struct policy_sample s = { .now_ms = 1, .dirty_bytes = 4096 };

	policy_init(&p, &cfg, 0);
	ok(policy_feed(&p, &s) == POLICY_CONTINUE,
	   "policy: unknown bandwidth with data left does not switch");
	s.dirty_bytes = 0;
	ok(policy_feed(&p, &s) == POLICY_CONVERGED,
	   "policy: nothing left switches even without bandwidth");
}

void policy_limits(void)
{
	struct policy_cfg cfg = { .downtime_ms = 300, .max_rounds = 3 };
	struct policy p;
	struct policy_sample s;
	int r1, r2, r3;

	policy_init(&p, &cfg, 0);
	s = sample(1, 100000000, 0, 0);
	r1 = policy_feed(&p, &s);
	r2 = policy_feed(&p, &s);
	r3 = policy_feed(&p, &s);
	ok(r1 == POLICY_CONTINUE && r2 == POLICY_CONTINUE &&
	   r3 == POLICY_MAX_ROUNDS && p.rounds == 3,
	   "policy: round limit switches on round 3 of 3");

	cfg.max_rounds = 0;
	cfg.max_precopy_ms = 1000;
	policy_init(&p, &cfg, 500);
	s = sample(1400, 0, 1000000000, 0);
	r1 = policy_feed(&p, &s);
	s.now_ms = 1500;
	r2 = policy_feed(&p, &s);
	ok(r1 == POLICY_CONTINUE && r2 == POLICY_MAX_TIME,
	   "policy: time limit switches after 1000 ms of PRE_COPY");
}

/* Bytes sent but not yet written at the destination count as remaining. */
void policy_inflight(void)
{
	struct policy_cfg cfg = { .downtime_ms = 100 };
	struct policy p;
	struct policy_sample s = { .now_ms = 10, .bytes = 100 * 1000 * 1000,
				   .busy_us = 1000000 };
	enum policy_reason r;

	policy_init(&p, &cfg, 0);
	s.inflight = 50 * 1000 * 1000;	/* 500 ms at 100 MB/s */
	r = policy_feed(&p, &s);
	ok(r == POLICY_CONTINUE && p.estimate_ms == 500,
	   "policy: 50 MB in flight at 100 MB/s is 500 ms, no switch (%llu ms)",
	   (unsigned long long)p.estimate_ms);
	s.inflight = 5 * 1000 * 1000;
	ok(policy_feed(&p, &s) == POLICY_CONVERGED,
	   "policy: 5 MB in flight fits in 100 ms");
}

/*
 * MIG_DATA_SIZE is what STOP_COPY would read now: the downtime must move
 * at least that, even when the precopy counts say less.
 */
void policy_data_size(void)
{
	struct policy_cfg cfg = { .downtime_ms = 300 };
	struct policy p;
	struct policy_sample s = { .now_ms = 10, .bytes = 100 * 1000 * 1000,
				   .busy_us = 1000000,
				   .dirty_bytes = 1000 * 1000 };
	enum policy_reason r;

	policy_init(&p, &cfg, 0);
	s.data_size = 50 * 1000 * 1000;	/* 500 ms at 100 MB/s */
	r = policy_feed(&p, &s);
	ok(r == POLICY_CONTINUE && p.estimate_ms == 500 &&
	   p.remaining == 50 * 1000 * 1000 && p.last_data_size == s.data_size,
	   "policy: 1 MB dirty but MIG_DATA_SIZE 50 MB: 500 ms, no switch (%llu ms)",
	   (unsigned long long)p.estimate_ms);
	s.data_size = 20 * 1000 * 1000;
	s.inflight = 5 * 1000 * 1000;
	r = policy_feed(&p, &s);
	ok(r == POLICY_CONVERGED && p.estimate_ms == 250,
	   "policy: MIG_DATA_SIZE 20 MB + 5 MB in flight: 250 ms, switch (%llu ms)",
	   (unsigned long long)p.estimate_ms);
	/* the precopy counts are more than MIG_DATA_SIZE: they win */
	s.data_size = 1000;
	s.inflight = 0;
	s.dirty_bytes = 40 * 1000 * 1000;
	r = policy_feed(&p, &s);
	ok(r == POLICY_CONTINUE && p.estimate_ms == 400,
	   "policy: 40 MB dirty, MIG_DATA_SIZE 1000: 400 ms (%llu ms)",
	   (unsigned long long)p.estimate_ms);
	/* a device without MIG_DATA_SIZE: the precopy counts alone */
	s.data_size = 0;
	s.dirty_bytes = 1000 * 1000;
	r = policy_feed(&p, &s);
	ok(r == POLICY_CONVERGED && p.estimate_ms == 10,
	   "policy: no MIG_DATA_SIZE, 1 MB dirty: 10 ms (%llu ms)",
	   (unsigned long long)p.estimate_ms);
}

/* The estimate is known (and reported) before the initial data drained. */
void policy_estimate_before_drain(void)
{
	struct policy_cfg cfg = { .downtime_ms = 300, .max_rounds = 1 };
	struct policy p;
	struct policy_sample s = { .now_ms = 10, .bytes = 100 * 1000 * 1000,
				   .busy_us = 1000000,
				   .initial_bytes = 70 * 1000 * 1000 };

	enum policy_reason r;

	policy_init(&p, &cfg, 0);
	r = policy_feed(&p, &s);
	ok(r == POLICY_MAX_ROUNDS && p.estimate_ms == 700,
	   "policy: switched by the round limit, estimate still 700 ms (%llu)",
	   (unsigned long long)p.estimate_ms);
}
