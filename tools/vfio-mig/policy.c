// SPDX-License-Identifier: GPL-2.0
/*
 * Switchover policy.
 *
 * Wait until the device's initial data has been drained (initial_bytes 0;
 * again after a REINIT, which is only believed once PRECOPY_INFOv2 was
 * accepted), then switch when the estimated remaining data can be moved
 * within the downtime limit at the measured bandwidth: bytes the
 * destination acknowledged as written, per second of precopy rounds.
 * Remaining data: the larger of MIG_DATA_SIZE and the precopy counts,
 * plus the bytes in flight.  The
 * round and time limits switch regardless, as a safety valve; the source
 * also ends a round at the time limit (tx_set_deadline).
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

/*
 * The estimate: what the downtime must move at the measured bandwidth.
 * Known as soon as there is a bandwidth, so that a switch forced by a
 * limit still reports what it expects; converged only once the initial
 * data drained.
 */
static bool policy_converged(struct policy *p)
{
	uint64_t bw = policy_bandwidth(p);
	double est;

	if (!p->remaining) {
		p->estimate_ms = 0;
	} else if (bw) {
		est = (double)p->remaining * 1000.0 / bw;
		p->estimate_ms = (uint64_t)ceil(est);
	}
	if (!p->initial_drained || p->estimate_ms == UINT64_MAX)
		return false;
	return p->estimate_ms <= p->cfg.downtime_ms;
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
	p->last_data_size = s->data_size;
	/*
	 * What the downtime must still move: what the device says STOP_COPY
	 * would read (MIG_DATA_SIZE), at least its unread precopy bytes,
	 * plus what is on its way but not yet written at the destination.
	 * MIG_DATA_SIZE covers the unread precopy data (that is read in
	 * STOP_COPY too), so the two are not added.
	 */
	p->remaining = s->initial_bytes + s->dirty_bytes;
	if (s->data_size > p->remaining)
		p->remaining = s->data_size;
	p->remaining += s->inflight;
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
