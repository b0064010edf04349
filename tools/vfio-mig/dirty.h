/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --dirty: keep writing into a BAR of the source device while it runs, so
 * that PRE_COPY has something to chase.  Stopped before the device leaves
 * PRE_COPY.
 */
#ifndef VFIO_MIG_DIRTY_H
#define VFIO_MIG_DIRTY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vfio_dev.h"

#define DIRTY_CTX_SIZE	4096	/* first page: the device's context area */

struct dirtier {
	struct vdev *dev;
	struct vdev_region region;
	uint64_t rate;		/* bytes per second */
	uint64_t start;		/* first offset written */
	uint64_t cursor;
	uint64_t written;
	int err;
	bool stop;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thr;
};

int dirty_start(struct dirtier *dt, struct vdev *dev, unsigned region,
		uint64_t rate, bool ctx, char *err, size_t errlen);
/* Stop and join; returns bytes written.  Safe to call twice. */
uint64_t dirty_stop(struct dirtier *dt);

#endif
