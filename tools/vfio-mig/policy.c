// SPDX-License-Identifier: GPL-2.0
/*
 * Switchover policy.
 *
 * Wait until the device's initial data has been drained (initial_bytes 0;
 * again after a REINIT, which is only believed once PRECOPY_INFOv2 was
 * accepted), then switch when the estimated remaining data can be moved
 * within the downtime limit at the measured bandwidth.  The round and
 * time limits switch regardless, as a safety valve.
 */
#include <math.h>
#include <string.h>

#include <linux/vfio.h>
#include "linux/vfio_mig_compat.h"
#include "policy.h"

void policy_init(struct policy *p, const struct policy_cfg *cfg,
		 uint64_t start_ms)
{
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->start_ms = start_ms;
	p->estimate_ms = UINT64_MAX;
}

uint64_t policy_bandwidth(const struct policy *p)
{
	if (!p->sum_busy_us)
		return 0;
	return (uint64_t)((double)p->sum_bytes * 1e6 / p->sum_busy_us);
}

static bool policy_converged(struct policy *p)
{
	uint64_t bw = policy_bandwidth(p);
	double est;

	if (!p->initial_drained)
		return false;
	if (!p->remaining) {
		p->estimate_ms = 0;
		return true;
	}
	if (!bw)
		return false;
	est = (double)p->remaining * 1000.0 / bw;
	p->estimate_ms = (uint64_t)ceil(est);
	return est <= (double)p->cfg.downtime_ms;
}

enum policy_reason policy_feed(struct policy *p,
			       const struct policy_sample *s)
{
	bool reinit = p->cfg.v2 && (s->flags & VFIO_PRECOPY_INFO_REINIT);

	p->rounds++;
	p->sum_bytes += s->bytes;
	p->sum_busy_us += s->busy_us;
	p->last_initial = s->initial_bytes;
	p->last_dirty = s->dirty_bytes;
	p->remaining = s->initial_bytes + s->dirty_bytes;
	p->estimate_ms = UINT64_MAX;
	if (reinit)
		p->reinits++;
	p->initial_drained = !reinit && !s->initial_bytes;

	if (policy_converged(p))
		p->reason = POLICY_CONVERGED;
	else if (p->cfg.max_rounds && p->rounds >= p->cfg.max_rounds)
		p->reason = POLICY_MAX_ROUNDS;
	else if (p->cfg.max_precopy_ms &&
		 s->now_ms - p->start_ms >= p->cfg.max_precopy_ms)
		p->reason = POLICY_MAX_TIME;
	else
		p->reason = POLICY_CONTINUE;
	return p->reason;
}

const char *policy_reason_name(enum policy_reason r)
{
	switch (r) {
	case POLICY_CONTINUE:
		return "continue";
	case POLICY_CONVERGED:
		return "converged";
	case POLICY_MAX_ROUNDS:
		return "max-rounds";
	case POLICY_MAX_TIME:
		return "max-precopy-time";
	case POLICY_NO_PRECOPY:
		return "no-precopy";
	}
	return "unknown";
}
