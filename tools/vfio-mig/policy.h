/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Switchover policy: when to move the source from PRE_COPY to STOP_COPY.
 * Pure logic fed with samples; no device, no clock of its own.
 */
#ifndef VFIO_MIG_POLICY_H
#define VFIO_MIG_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum policy_reason {
	POLICY_CONTINUE = 0,	/* stay in PRE_COPY */
	POLICY_CONVERGED,	/* remaining / bandwidth <= downtime limit */
	POLICY_MAX_ROUNDS,	/* --max-rounds reached */
	POLICY_MAX_TIME,	/* --max-precopy-ms reached */
	POLICY_NO_PRECOPY,	/* --no-precopy or device without PRE_COPY */
};

struct policy_cfg {
	uint64_t downtime_ms;		/* target downtime, default 300 */
	unsigned max_rounds;		/* 0 = unlimited */
	uint64_t max_precopy_ms;	/* 0 = unlimited */
	bool v2;			/* PRECOPY_INFOv2 accepted: flags valid */
};

/* One round: everything readable was read, then precopy info queried. */
struct policy_sample {
	uint64_t now_ms;
	uint64_t initial_bytes;
	uint64_t dirty_bytes;
	uint32_t flags;		/* vfio_precopy_info.flags */
	uint64_t bytes;		/* bytes the destination acknowledged
				 * as written during this round */
	uint64_t busy_us;	/* time spent moving them */
	uint64_t inflight;	/* sent, not yet written by the destination */
	uint64_t data_size;	/* MIG_DATA_SIZE now: what STOP_COPY would
				 * read (0: the device does not say) */
};

struct policy {
	struct policy_cfg cfg;
	uint64_t start_ms;
	unsigned rounds;
	unsigned reinits;
	bool initial_drained;
	uint64_t sum_bytes, sum_busy_us;
	uint64_t last_initial, last_dirty, last_data_size;
	uint64_t remaining;		/* what the downtime must move */
	uint64_t estimate_ms;		/* UINT64_MAX while unknown */
	enum policy_reason reason;
};

void policy_init(struct policy *p, const struct policy_cfg *cfg,
		 uint64_t start_ms);
/* Feed one sample; returns POLICY_CONTINUE or the reason to switch. */
enum policy_reason policy_feed(struct policy *p,
			       const struct policy_sample *s);
/* Measured bandwidth in bytes per second, 0 while unknown. */
uint64_t policy_bandwidth(const struct policy *p);
const char *policy_reason_name(enum policy_reason r);

#endif
