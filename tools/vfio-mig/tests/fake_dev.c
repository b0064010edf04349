// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "fake_dev.h"
#include "harness.h"
#include "../util.h"

#define SAVE_FD		100
#define RESUME_FD	200

static struct fake_dev *to_fake(struct vdev *d)
{
	return d->priv;
}

static int fake_get_flags(struct vdev *d, uint64_t *flags)
{
	*flags = to_fake(d)->flags;
	return 0;
}

static int fake_get_state(struct vdev *d, uint32_t *state)
{
	struct fake_dev *f = to_fake(d);

	pthread_mutex_lock(&f->lock);
	*state = f->state;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static bool is_precopy(uint32_t s)
{
	return s == VFIO_DEVICE_STATE_PRE_COPY ||
	       s == VFIO_DEVICE_STATE_PRE_COPY_P2P;
}

/* Apply @to; returns a new data fd, NO_FD, or -errno. */
#define NO_FD	1000000
static int fake_arc(struct fake_dev *f, uint32_t to)
{
	uint32_t from = f->state;

	if (from == VFIO_DEVICE_STATE_ERROR)
		return -EINVAL;
	if (from == VFIO_DEVICE_STATE_STOP_COPY && is_precopy(to))
		return -EINVAL;
	if (f->fail_state_on && to == f->fail_state)
		return -EIO;
	if (from == VFIO_DEVICE_STATE_RESUMING &&
	    to != VFIO_DEVICE_STATE_RESUMING) {
		if ((f->expect_size && f->received != f->expect_size) ||
		    f->mismatch)
			return -EINVAL;
	}
	if (to == VFIO_DEVICE_STATE_PRE_COPY_P2P ||
	    to == VFIO_DEVICE_STATE_STOP_COPY || to == VFIO_DEVICE_STATE_STOP) {
		if (!f->region_summed && from != VFIO_DEVICE_STATE_RESUMING) {
			f->region_sum_at_switch = fake_region_sum(f);
			f->region_summed = true;
		}
	}
	f->state = to;
	if (f->ntrace < 32)
		f->trace[f->ntrace++] = to;
	if (to == VFIO_DEVICE_STATE_PRE_COPY &&
	    (from == VFIO_DEVICE_STATE_RUNNING)) {
		f->pos = 0;
		f->produced = f->initial_end = f->initial_size;
		return SAVE_FD;
	}
	if (to == VFIO_DEVICE_STATE_STOP_COPY) {
		if (is_precopy(from)) {
			f->produced += f->final_size;
			return NO_FD;
		}
		f->pos = 0;
		f->produced = f->final_size;
		return SAVE_FD;
	}
	if (to == VFIO_DEVICE_STATE_RESUMING) {
		f->received = 0;
		f->mismatch = false;
		return RESUME_FD;
	}
	return NO_FD;
}

static int fake_set_state(struct vdev *d, uint32_t state, int *data_fd)
{
	struct fake_dev *f = to_fake(d);
	int ret;

	pthread_mutex_lock(&f->lock);
	ret = fake_arc(f, state);
	pthread_mutex_unlock(&f->lock);
	*data_fd = ret >= 0 && ret != NO_FD ? ret : -1;
	return ret < 0 ? ret : 0;
}

static int fake_data_size(struct vdev *d, uint64_t *bytes)
{
	struct fake_dev *f = to_fake(d);

	pthread_mutex_lock(&f->lock);
	f->data_size_calls++;
	pthread_mutex_unlock(&f->lock);
	if (f->no_data_size)
		return -ENOTTY;
	*bytes = f->data_size ? f->data_size :
		 f->final_size ? f->final_size : 1;
	return 0;
}

static int fake_precopy_info(struct vdev *d, int fd,
			     struct vfio_precopy_info *info)
{
	struct fake_dev *f = to_fake(d);
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	if (fd != SAVE_FD || !is_precopy(f->state)) {
		ret = -EINVAL;
		goto out;
	}
	info->flags = 0;
	f->info_calls++;
	if (f->v2_on && f->reinit_at && f->info_calls == f->reinit_at) {
		f->produced += f->reinit_size;
		f->initial_end = f->produced;
		info->flags = VFIO_PRECOPY_INFO_REINIT;
	} else if (f->pos >= f->initial_end) {
		f->produced += f->dirty_per_round;
	}
	info->initial_bytes = f->initial_end > f->pos ?
			      f->initial_end - f->pos : 0;
	info->dirty_bytes = f->produced - f->pos - info->initial_bytes;
out:
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static int fake_precopy_v2(struct vdev *d)
{
	struct fake_dev *f = to_fake(d);

	f->v2_on = f->v2_supported;
	return f->v2_supported ? 1 : 0;
}

static int fake_reset(struct vdev *d)
{
	struct fake_dev *f = to_fake(d);

	pthread_mutex_lock(&f->lock);
	f->state = VFIO_DEVICE_STATE_RUNNING;
	f->resets++;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* Block like a device read that takes @ms, interruptible by a signal. */
static int fake_block(struct fake_dev *f)
{
	uint64_t now = now_us(), end;

	if (!f->block_start_us)
		f->block_start_us = now;
	end = f->block_start_us + f->block_read_ms * 1000ULL;
	while (now < end) {
		if (poll(NULL, 0, (int)((end - now + 999) / 1000)) < 0 &&
		    errno == EINTR) {
			f->interrupted_reads++;
			return -EINTR;
		}
		now = now_us();
	}
	return 0;
}

static ssize_t fake_read(struct vdev *d, int fd, void *buf, size_t len)
{
	struct fake_dev *f = to_fake(d);
	ssize_t r;

	if (f->block_read_ms && f->state == VFIO_DEVICE_STATE_STOP_COPY &&
	    fake_block(f))
		return -EINTR;
	pthread_mutex_lock(&f->lock);
	if (fd != SAVE_FD || (!is_precopy(f->state) &&
			      f->state != VFIO_DEVICE_STATE_STOP_COPY)) {
		r = -EINVAL;
	} else if (f->pos == f->produced && f->endless_precopy &&
		   is_precopy(f->state)) {
		f->produced += len;
		stream_fill(f->seed, f->pos, buf, len);
		f->pos += len;
		r = len;
	} else if (f->pos == f->produced) {
		r = f->state == VFIO_DEVICE_STATE_STOP_COPY ||
		    f->zero_when_drained ? 0 : -ENOMSG;
	} else {
		if (len > f->produced - f->pos)
			len = f->produced - f->pos;
		stream_fill(f->seed, f->pos, buf, len);
		f->pos += len;
		r = len;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

static ssize_t fake_write(struct vdev *d, int fd, const void *buf, size_t len)
{
	struct fake_dev *f = to_fake(d);
	const uint8_t *p = buf;
	ssize_t r = len;
	size_t i;

	if (f->write_delay_ms)
		sleep_us(f->write_delay_ms * 1000ULL);
	pthread_mutex_lock(&f->lock);
	if (fd != RESUME_FD || f->state != VFIO_DEVICE_STATE_RESUMING) {
		r = -EINVAL;
		goto out;
	}
	if (f->fail_write_after && f->received + len > f->fail_write_after) {
		r = -EIO;
		goto out;
	}
	for (i = 0; i < len; i++)
		if (p[i] != stream_byte(f->seed, f->received + i))
			f->mismatch = true;
	f->received += len;
out:
	pthread_mutex_unlock(&f->lock);
	return r;
}

static int fake_map_region(struct vdev *d, unsigned index,
			   struct vdev_region *r)
{
	memset(r, 0, sizeof(*r));
	if (index != VFIO_PCI_BAR2_REGION_INDEX)
		return -ENOENT;
	r->size = FAKE_REGION_SIZE;
	r->map = to_fake(d)->region;
	r->fd = -1;
	return 0;
}

static void fake_unmap_region(struct vdev *d, struct vdev_region *r)
{
	(void)d;
	r->map = NULL;
}

static void fake_close_fd(struct vdev *d, int fd)
{
	(void)d;
	(void)fd;
}

static void fake_close(struct vdev *d)
{
	(void)d;
}

static const struct vdev_ops fake_ops = {
	.get_flags = fake_get_flags,
	.get_state = fake_get_state,
	.set_state = fake_set_state,
	.data_size = fake_data_size,
	.precopy_info = fake_precopy_info,
	.precopy_v2 = fake_precopy_v2,
	.reset = fake_reset,
	.read = fake_read,
	.write = fake_write,
	.map_region = fake_map_region,
	.unmap_region = fake_unmap_region,
	.close_fd = fake_close_fd,
	.close = fake_close,
};

void fake_init(struct fake_dev *f, const char *name, uint64_t flags,
	       uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->vd.ops = &fake_ops;
	f->vd.priv = f;
	snprintf(f->vd.name, sizeof(f->vd.name), "%s", name);
	f->flags = flags;
	f->seed = seed;
	f->state = VFIO_DEVICE_STATE_RUNNING;
}

void fake_destroy(struct fake_dev *f)
{
	pthread_mutex_destroy(&f->lock);
}

uint64_t fake_region_sum(struct fake_dev *f)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < FAKE_REGION_SIZE; i++)
		sum = sum * 31 + ((volatile uint8_t *)f->region)[i];
	return sum;
}

bool fake_trace_is(struct fake_dev *f, const uint32_t *states, unsigned n)
{
	return f->ntrace == n && !memcmp(f->trace, states, n * sizeof(*states));
}
