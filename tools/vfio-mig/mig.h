/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Migration flows: source (save), destination (load) and both in one
 * process (migrate).  Device access goes through struct vdev, transport
 * through transport.h, the switchover decision through policy.h.
 */
#ifndef VFIO_MIG_MIG_H
#define VFIO_MIG_MIG_H

#include <stdbool.h>
#include <stdint.h>

#include "report.h"
#include "transport.h"
#include "tls.h"
#include "vfio_dev.h"

/* Exit codes (documented in Documentation/vfio-mig.rst). */
enum {
	VMIG_EXIT_OK = 0,
	VMIG_EXIT_FAILED = 1,	/* migration failed, devices recovered */
	VMIG_EXIT_USAGE = 2,
	VMIG_EXIT_DEVICE = 3,	/* device error (open, ioctl, transition) */
	VMIG_EXIT_STRANDED = 4,	/* failed and the source is not RUNNING */
	VMIG_EXIT_UNKNOWN = 5,	/* this side is stopped, the peer's outcome unknown */
};

struct mig_opts {
	unsigned channels;
	uint32_t chunk;
	uint64_t window;
	bool window_set;		/* load: --window given, enforce it */
	bool crc;
	uint64_t downtime_ms;
	bool no_precopy;
	unsigned max_rounds;
	uint64_t max_precopy_ms;
	uint64_t dirty_rate;		/* bytes/s, 0 = off */
	unsigned dirty_region;
	bool dirty_ctx;
	bool progress;
	int timeout_ms;
	int progress_ms;		/* peer silent or stuck: fail */
	bool no_start;			/* load: leave the device in STOP */
	unsigned poll_us;		/* pause after an empty precopy round */
	const volatile int *cancel;
	const struct vmig_tls *tls;	/* NULL: clear text */
	/* test hooks: drop the control message of this type */
	uint16_t src_drop_ctrl, dst_drop_ctrl;
	bool drop_close;		/* and close the control connection */
	uint16_t src_cancel_on_ctrl;	/* cancel the source on this message */
	/* test hook: delay before each send on these channels (skew) */
	unsigned chan_delay_us[VMIG_MAX_CHANNELS];
};

void mig_opts_default(struct mig_opts *o);

int mig_save(struct vdev *dev, const char *host, const char *port,
	     const struct mig_opts *o, struct mig_report *rep);
/* @lfd: a listening socket; not closed. */
int mig_load(struct vdev *dev, int lfd, const struct mig_opts *o,
	     struct mig_report *rep);
int mig_migrate(struct vdev *src, struct vdev *dst, const struct mig_opts *o,
		struct mig_report *src_rep, struct mig_report *dst_rep);

#endif
