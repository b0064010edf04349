// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dirty.h"
#include "util.h"

#define DIRTY_TICK_US	10000	/* 100 bursts per second */

static int dirty_write(struct dirtier *dt, uint64_t off, uint64_t val)
{
	if (dt->region.map) {
		*(volatile uint64_t *)((char *)dt->region.map + off) = val;
		return 0;
	}
	if (pwrite(dt->region.fd, &val, sizeof(val),
		   dt->region.offset + off) != sizeof(val))
		return -errno;
	return 0;
}

/* One burst: @bytes worth of 64-bit stores, wrapping inside the region. */
static int dirty_burst(struct dirtier *dt, uint64_t bytes, uint64_t stamp)
{
	uint64_t done;
	int ret;

	for (done = 0; done < bytes; done += 8) {
		if (dt->cursor + 8 > dt->region.size)
			dt->cursor = dt->start;
		ret = dirty_write(dt, dt->cursor, stamp ^ dt->cursor);
		if (ret)
			return ret;
		dt->cursor += 8;
	}
	dt->written += done;
	return 0;
}

static uint64_t dirty_per_tick(uint64_t rate)
{
	uint64_t per_tick = rate * DIRTY_TICK_US / 1000000ULL;

	return per_tick < 8 ? 8 : per_tick;
}

/* A burst every tick after the first, which dirty_start() wrote. */
static void *dirty_main(void *arg)
{
	struct dirtier *dt = arg;
	uint64_t per_tick = dirty_per_tick(dt->rate);
	struct timespec ts;
	int ret = 0;

	pthread_mutex_lock(&dt->lock);
	while (!dt->stop && !ret) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += DIRTY_TICK_US * 1000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!dt->stop &&
		       pthread_cond_timedwait(&dt->cond, &dt->lock, &ts) !=
		       ETIMEDOUT)
			;
		if (dt->stop)
			break;
		pthread_mutex_unlock(&dt->lock);
		ret = dirty_burst(dt, per_tick, now_us());
		pthread_mutex_lock(&dt->lock);
	}
	dt->err = ret;
	pthread_mutex_unlock(&dt->lock);
	return NULL;
}

int dirty_start(struct dirtier *dt, struct vdev *dev, unsigned region,
		uint64_t rate, bool ctx, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int ret;

	memset(dt, 0, sizeof(*dt));
	dt->dev = dev;
	dt->rate = rate;
	if (!dev->ops->map_region) {
		snprintf(err, errlen, "device cannot map regions");
		return -EOPNOTSUPP;
	}
	ret = dev->ops->map_region(dev, region, &dt->region);
	if (ret) {
		snprintf(err, errlen, "--dirty: region %u: %s", region,
			 ret == -ENOENT ? "not present" : strerror(-ret));
		return ret;
	}
	dt->start = ctx ? 0 : DIRTY_CTX_SIZE;
	if (dt->region.size < dt->start + 8) {
		snprintf(err, errlen,
			 "--dirty: region %u is only %llu bytes (the first %u are the context area; see --dirty-ctx)",
			 region, (unsigned long long)dt->region.size,
			 DIRTY_CTX_SIZE);
		dev->ops->unmap_region(dev, &dt->region);
		return -ENOSPC;
	}
	dt->cursor = dt->start;
	/*
	 * The first burst before returning: the device is written before the
	 * migration starts, however late the thread is scheduled.
	 */
	ret = dirty_burst(dt, dirty_per_tick(rate), now_us());
	if (ret) {
		snprintf(err, errlen, "--dirty: region %u: writing: %s", region,
			 strerror(-ret));
		dev->ops->unmap_region(dev, &dt->region);
		return ret;
	}
	pthread_mutex_init(&dt->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&dt->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&dt->thr, NULL, dirty_main, dt)) {
		snprintf(err, errlen, "--dirty: cannot start thread");
		dev->ops->unmap_region(dev, &dt->region);
		return -EAGAIN;
	}
	dt->running = true;
	return 0;
}

uint64_t dirty_stop(struct dirtier *dt)
{
	if (!dt->running)
		return dt->written;
	pthread_mutex_lock(&dt->lock);
	dt->stop = true;
	pthread_cond_broadcast(&dt->cond);
	pthread_mutex_unlock(&dt->lock);
	pthread_join(dt->thr, NULL);
	dt->running = false;
	dt->dev->ops->unmap_region(dt->dev, &dt->region);
	pthread_mutex_destroy(&dt->lock);
	pthread_cond_destroy(&dt->cond);
	return dt->written;
}
