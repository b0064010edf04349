// SPDX-License-Identifier: GPL-2.0
/*
 * Source and destination migration flows.
 *
 * Source: RUNNING -> PRE_COPY (saving fd), rounds of "read until ENOMSG,
 * query precopy info, ask the policy", then [PRE_COPY_P2P ->] STOP_COPY,
 * read to end of stream, wait for the destination's LOADED, STOP, send
 * COMMIT, wait for STARTED.  Without PRE_COPY: RUNNING [-> RUNNING_P2P] ->
 * STOP -> STOP_COPY.  Any failure before COMMIT returns the device to
 * RUNNING; after COMMIT it stays stopped whatever happens.
 *
 * Destination: [RUNNING ->] STOP -> RESUMING (resuming fd), receive and
 * write in order, RESUMING -> STOP, send LOADED, wait for COMMIT, then
 * STOP -> RUNNING (unless no_start) and send STARTED.  A failure before
 * LOADED, or the source's ABORT, resets the device (VFIO_DEVICE_RESET), so
 * it never runs half-loaded; without COMMIT or ABORT it stays in STOP with
 * the state loaded (outcome unknown: the source may or may not run).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dirty.h"
#include "mig.h"
#include "policy.h"
#include "transport.h"
#include "util.h"

void mig_opts_default(struct mig_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->channels = 4;
	o->chunk = VMIG_DEFAULT_CHUNK;
	o->window = VMIG_DEFAULT_WINDOW;
	o->downtime_ms = 300;
	o->max_precopy_ms = 60000;
	o->dirty_region = VFIO_PCI_BAR2_REGION_INDEX;
	o->timeout_ms = 10000;
	o->progress_ms = VMIG_DEFAULT_PROGRESS_MS;
	o->poll_us = 10000;
}

static void __attribute__((format(printf, 3, 4)))
rep_error(struct mig_report *rep, int code, const char *fmt, ...)
{
	va_list ap;

	rep->exit_code = code;
	if (rep->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(rep->error, sizeof(rep->error), fmt, ap);
	va_end(ap);
}

static double ms_since(uint64_t t0)
{
	return (now_us() - t0) / 1000.0;
}

struct dev_io {
	struct vdev *dev;
	int fd;
	struct progress *prog;		/* optional */
	const char *phase;
	uint64_t bytes;			/* progress so far */
};

static ssize_t dev_read(void *ctx, void *buf, size_t len)
{
	struct dev_io *io = ctx;
	ssize_t r = io->dev->ops->read(io->dev, io->fd, buf, len);

	if (r > 0 && io->prog) {
		io->bytes += r;
		progress_show(io->prog, io->phase, io->bytes);
	}
	return r;
}

static ssize_t dev_write(void *ctx, const void *buf, size_t len)
{
	struct dev_io *io = ctx;

	return io->dev->ops->write(io->dev, io->fd, buf, len);
}

/* ============================================================= source */

struct save {
	struct vdev *dev;
	const struct mig_opts *o;
	struct mig_report *rep;
	uint64_t flags;
	uint32_t cur;			/* device state as far as we know */
	int fd;				/* saving data fd */
	struct tx *tx;
	bool committed;			/* COMMIT sent: never run again */
	bool has_data_size;		/* MIG_DATA_SIZE answered */
	/* the previous policy sample: acknowledged bytes, when, in flight */
	uint64_t smp_acked, smp_us;
	bool smp_inflight;
	struct progress prog;
	struct dirtier dirty;
};

/* One state step; on failure record where the device ended up. */
static int save_step(struct save *s, uint32_t state)
{
	uint32_t from = s->cur;
	int fd = -1, ret;

	ret = vdev_set_state(s->dev, state, &fd, &s->cur);
	if (ret) {
		rep_error(s->rep, VMIG_EXIT_DEVICE,
			  "source %s: %s -> %s failed: %s (device is now %s)",
			  s->dev->name, vdev_state_name(from),
			  vdev_state_name(state), strerror(-ret),
			  vdev_state_name(s->cur));
		return ret;
	}
	if (fd >= 0) {
		if (s->fd >= 0)
			s->dev->ops->close_fd(s->dev, s->fd);
		s->fd = fd;
	}
	return 0;
}

static bool has_p2p(const struct save *s)
{
	return s->flags & VFIO_MIGRATION_P2P;
}

/* Bring the source back to RUNNING after a failure; false if stuck. */
static bool save_recover(struct save *s)
{
	uint32_t actual;
	int ret;

	if (s->cur == VFIO_DEVICE_STATE_STOP_COPY)
		vdev_set_state(s->dev, VFIO_DEVICE_STATE_STOP, NULL, &s->cur);
	if (s->cur != VFIO_DEVICE_STATE_RUNNING &&
	    s->cur != VFIO_DEVICE_STATE_ERROR)
		vdev_set_state(s->dev, VFIO_DEVICE_STATE_RUNNING, NULL,
			       &s->cur);
	if (s->fd >= 0)
		s->dev->ops->close_fd(s->dev, s->fd);
	s->fd = -1;
	ret = vdev_get_state(s->dev, &actual);
	if (!ret)
		s->cur = actual;
	return !ret && actual == VFIO_DEVICE_STATE_RUNNING;
}

static int save_transport_error(struct save *s, int ret)
{
	char msg[320];

	if (s->tx && tx_error(s->tx, msg, sizeof(msg)))
		rep_error(s->rep, VMIG_EXIT_FAILED, "%s", msg);
	else
		rep_error(s->rep, VMIG_EXIT_FAILED, "transport: %s",
			  strerror(-ret));
	return ret;
}

static int save_precopy_round(struct save *s, struct policy *pol,
			      enum policy_reason *reason)
{
	struct dev_io io = { s->dev, s->fd, &s->prog, "pre-copy",
			     s->rep->precopy_bytes };
	struct vmig_source src = { dev_read, &io };
	struct vfio_precopy_info info;
	struct policy_sample smp;
	uint64_t t0 = now_us(), n, size = 0;
	struct tx_stats after;
	int ret;

	/*
	 * A 0-byte read in PRE_COPY means "nothing more for now", like ENOMSG:
	 * QEMU reads it so, and drivers return it (mtty).  The stream ends
	 * only in STOP_COPY.
	 */
	ret = tx_pump(s->tx, &src, 0, &n);
	s->rep->precopy_bytes += n;
	if (ret < 0)
		return save_transport_error(s, ret);
	ret = s->dev->ops->precopy_info(s->dev, s->fd, &info);
	if (ret) {
		tx_abort(s->tx, ret, "source precopy info failed");
		rep_error(s->rep, VMIG_EXIT_DEVICE,
			  "source %s: VFIO_MIG_GET_PRECOPY_INFO: %s",
			  s->dev->name, strerror(-ret));
		return ret;
	}
	/*
	 * MIG_DATA_SIZE now: what STOP_COPY would read if we switched.  A
	 * device that stops answering is treated as one without it.
	 */
	if (s->has_data_size && s->dev->ops->data_size(s->dev, &size))
		s->has_data_size = false;
	tx_get_stats(s->tx, &after);
	/*
	 * Bandwidth: what the destination acknowledged since the previous
	 * sample, over the time since then if anything was moving (bytes in
	 * flight then, or read now): acknowledgements that arrive during the
	 * pause after an empty round count too.
	 */
	if (!s->smp_us)
		s->smp_us = t0;
	smp = (struct policy_sample) {
		.now_ms = now_us() / 1000, .initial_bytes = info.initial_bytes,
		.dirty_bytes = info.dirty_bytes, .flags = info.flags,
		.bytes = after.acked_bytes - s->smp_acked,
		.busy_us = n || s->smp_inflight ||
			   after.acked_bytes != s->smp_acked ?
			   now_us() - s->smp_us : 0,
		.inflight = after.bytes_read - after.acked_bytes,
		.data_size = s->has_data_size ? size : 0,
	};
	s->smp_acked = after.acked_bytes;
	s->smp_us = now_us();
	s->smp_inflight = after.bytes_read != after.acked_bytes;
	*reason = policy_feed(pol, &smp);
	if (!*reason && !n && s->o->poll_us)
		sleep_us(s->o->poll_us);
	return 0;
}

static void save_policy_report(struct save *s, const struct policy *pol)
{
	s->rep->rounds = pol->rounds;
	s->rep->reinits = pol->reinits;
	s->rep->last_initial = pol->last_initial;
	s->rep->last_dirty = pol->last_dirty;
	s->rep->last_data_size = pol->last_data_size;
	s->rep->remaining = pol->remaining;
	s->rep->bandwidth = policy_bandwidth(pol);
	s->rep->estimate_ms = pol->estimate_ms;
	s->rep->decision = policy_reason_name(pol->reason);
}

static int save_precopy(struct save *s)
{
	struct policy_cfg pc = {
		.downtime_ms = s->o->downtime_ms,
		.max_rounds = s->o->max_rounds,
		.max_precopy_ms = s->o->max_precopy_ms,
	};
	enum policy_reason reason = POLICY_CONTINUE;
	struct policy pol;
	int ret;

	ret = s->dev->ops->precopy_v2(s->dev);
	s->rep->v2 = ret > 0;
	pc.v2 = ret > 0;
	ret = save_step(s, VFIO_DEVICE_STATE_PRE_COPY);
	if (ret)
		return ret;
	if (s->fd < 0) {
		rep_error(s->rep, VMIG_EXIT_DEVICE,
			  "source %s: RUNNING -> PRE_COPY returned no data fd",
			  s->dev->name);
		return -EBADF;
	}
	policy_init(&pol, &pc, now_us() / 1000);
	/* the time limit holds inside a round too */
	if (pc.max_precopy_ms)
		tx_set_deadline(s->tx, now_us() + pc.max_precopy_ms * 1000);
	while (!reason) {
		ret = save_precopy_round(s, &pol, &reason);
		if (ret)
			break;
	}
	save_policy_report(s, &pol);
	return ret;
}

/* Leave RUNNING/PRE_COPY for STOP_COPY, through P2P when supported. */
static int save_switchover(struct save *s)
{
	static const uint32_t from_precopy[] = {
		VFIO_DEVICE_STATE_PRE_COPY_P2P, VFIO_DEVICE_STATE_STOP_COPY,
	};
	static const uint32_t from_running[] = {
		VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_STOP,
		VFIO_DEVICE_STATE_STOP_COPY,
	};
	const uint32_t *steps = s->rep->precopy ? from_precopy : from_running;
	size_t i, n = s->rep->precopy ? 2 : 3;
	int ret;

	for (i = 0; i < n; i++) {
		if (!has_p2p(s) && (steps[i] == VFIO_DEVICE_STATE_PRE_COPY_P2P ||
				    steps[i] == VFIO_DEVICE_STATE_RUNNING_P2P))
			continue;
		ret = save_step(s, steps[i]);
		if (ret) {
			tx_abort(s->tx, ret, "%s", s->rep->error);
			return ret;
		}
	}
	if (s->fd < 0) {
		rep_error(s->rep, VMIG_EXIT_DEVICE,
			  "source %s: no saving fd in STOP_COPY", s->dev->name);
		tx_abort(s->tx, -EBADF, "%s", s->rep->error);
		return -EBADF;
	}
	return 0;
}

static int save_stopcopy(struct save *s)
{
	struct dev_io io = { s->dev, s->fd, &s->prog, "stop-copy",
			     s->rep->precopy_bytes };
	struct vmig_source src = { dev_read, &io };
	uint64_t n;
	int ret;

	tx_set_deadline(s->tx, 0);	/* STOP_COPY reads to the end */
	ret = tx_pump(s->tx, &src, VMIG_CHUNK_STOPCOPY, &n);
	s->rep->stopcopy_bytes += n;
	if (ret == 1) {
		tx_abort(s->tx, -EPROTO, "source device returned ENOMSG in STOP_COPY");
		rep_error(s->rep, VMIG_EXIT_DEVICE,
			  "source %s: read returned ENOMSG in STOP_COPY",
			  s->dev->name);
		return -EPROTO;
	}
	if (ret < 0)
		return save_transport_error(s, ret);
	return 0;
}

static int save_connect(struct save *s, const char *host, const char *port)
{
	struct tx_config tc = {
		.channels = s->o->channels, .chunk = s->o->chunk,
		/* a share per channel: one slow channel leaves the others theirs */
		.window = s->o->window * s->o->channels, .crc = s->o->crc,
		.timeout_ms = s->o->timeout_ms, .cancel = s->o->cancel,
		.progress_ms = s->o->progress_ms, .tls = s->o->tls,
		.cancel_on_ctrl = s->o->src_cancel_on_ctrl, .drop_ctrl = s->o->src_drop_ctrl, .drop_close = s->o->drop_close,
	};
	int ctrl, data[VMIG_MAX_CHANNELS], ret;
	char err[400];

	memcpy(tc.chan_delay_us, s->o->chan_delay_us, sizeof(tc.chan_delay_us));
	ret = tx_connect(host, port, &tc, &ctrl, data, err, sizeof(err));
	if (ret) {
		rep_error(s->rep, VMIG_EXIT_FAILED, "%s", err);
		return ret;
	}
	s->tx = tx_start(&tc, ctrl, data);
	if (!s->tx) {
		rep_error(s->rep, VMIG_EXIT_FAILED, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int save_check_device(struct save *s)
{
	int ret;

	ret = vdev_get_flags(s->dev, &s->flags);
	if (ret || !(s->flags & VFIO_MIGRATION_STOP_COPY)) {
		rep_error(s->rep, VMIG_EXIT_DEVICE,
			  "source %s: no migration support (%s)", s->dev->name,
			  ret ? strerror(-ret) : "STOP_COPY flag missing");
		return ret ? ret : -EOPNOTSUPP;
	}
	ret = vdev_get_state(s->dev, &s->cur);
	if (ret || s->cur != VFIO_DEVICE_STATE_RUNNING) {
		rep_error(s->rep, VMIG_EXIT_DEVICE,
			  "source %s: must be RUNNING to migrate, is %s",
			  s->dev->name,
			  ret ? strerror(-ret) : vdev_state_name(s->cur));
		return ret ? ret : -EBUSY;
	}
	s->has_data_size = !s->dev->ops->data_size(s->dev, &s->rep->data_size);
	if (!s->has_data_size)
		s->rep->data_size = 0;
	return 0;
}

static int save_run(struct save *s, const char *host, const char *port,
		    uint64_t *t_switch)
{
	struct vmig_done done;
	char err[300];
	int ret;

	ret = save_connect(s, host, port);
	if (ret)
		return ret;
	if (s->o->dirty_rate) {
		ret = dirty_start(&s->dirty, s->dev, s->o->dirty_region,
				  s->o->dirty_rate, s->o->dirty_ctx, err,
				  sizeof(err));
		if (ret) {
			rep_error(s->rep, VMIG_EXIT_DEVICE, "source %s: %s",
				  s->dev->name, err);
			tx_abort(s->tx, ret, "source: %s", err);
			return ret;
		}
	}
	s->rep->precopy = !s->o->no_precopy &&
			  (s->flags & VFIO_MIGRATION_PRE_COPY);
	if (s->rep->precopy) {
		ret = save_precopy(s);
		if (ret)
			return ret;
	} else {
		s->rep->decision = policy_reason_name(POLICY_NO_PRECOPY);
	}
	/* the dirtier stops before the device leaves RUNNING/PRE_COPY */
	s->rep->dirty_written = dirty_stop(&s->dirty);
	*t_switch = now_us();
	ret = save_switchover(s);
	if (!ret)
		ret = save_stopcopy(s);
	if (ret)
		return ret;
	ret = tx_finish(s->tx, &done);
	if (ret)
		return save_transport_error(s, ret);
	/* the destination holds the whole state, stopped: stop for good */
	ret = save_step(s, VFIO_DEVICE_STATE_STOP);
	if (ret) {
		tx_abort(s->tx, ret, "%s", s->rep->error);
		return ret;
	}
	ret = tx_commit(s->tx);
	if (ret)
		return save_transport_error(s, ret);
	s->committed = true;
	ret = tx_wait_started(s->tx, &done);
	if (ret) {
		tx_error(s->tx, err, sizeof(err));
		rep_error(s->rep, VMIG_EXIT_UNKNOWN,
			  "committed, then no word from the destination (%s): the source stays stopped, the destination may be running",
			  err);
		return ret;
	}
	s->rep->downtime_ms = ms_since(*t_switch);
	s->rep->dst_resume_ms = (done.load_us + done.resume_us) / 1000.0;
	s->rep->dst_started = done.running;
	return 0;
}

int mig_save(struct vdev *dev, const char *host, const char *port,
	     const struct mig_opts *o, struct mig_report *rep)
{
	struct save s = { .dev = dev, .o = o, .rep = rep, .fd = -1 };
	uint64_t t0 = now_us(), t_switch = 0;
	int ret;

	rep->present = true;
	rep->device = dev->name;
	rep->downtime_limit_ms = o->downtime_ms;
	rep->estimate_ms = UINT64_MAX;
	progress_init(&s.prog, o->progress);
	ret = save_check_device(&s);
	if (ret)
		goto out;
	ret = save_run(&s, host, port, &t_switch);
	dirty_stop(&s.dirty);
	if (ret && s.committed) {
		/* never run again: the destination may be running */
		rep->exit_code = VMIG_EXIT_UNKNOWN;
		if (s.fd >= 0)
			dev->ops->close_fd(dev, s.fd);
		s.fd = -1;
	} else if (ret) {
		if (s.tx)
			tx_abort(s.tx, ret, "source failed");
		if (!save_recover(&s)) {
			rep->exit_code = VMIG_EXIT_STRANDED;
			snprintf(rep->error + strlen(rep->error),
				 sizeof(rep->error) - strlen(rep->error),
				 "; source could not be returned to RUNNING (now %s)",
				 vdev_state_name(s.cur));
		}
	} else {
		rep->exit_code = VMIG_EXIT_OK;
		rep->error[0] = 0;
		if (s.fd >= 0)
			dev->ops->close_fd(dev, s.fd);
		s.fd = -1;
	}
out:
	progress_end(&s.prog);
	if (s.tx) {
		tx_get_stats(s.tx, &rep->tx);
		rep->have_tx = true;
		rep->chunks = rep->tx.chunks;
		tx_destroy(s.tx);
	}
	rep->state_known = !vdev_get_state(dev, &rep->final_state);
	rep->total_ms = ms_since(t0);
	return rep->exit_code;
}

/* ======================================================== destination */

struct load {
	struct vdev *dev;
	const struct mig_opts *o;
	struct mig_report *rep;
	uint32_t cur;
	int fd;				/* resuming fd */
	struct rx *rx;
	bool keep;			/* outcome unknown: keep the state */
};

static int load_step(struct load *l, uint32_t state)
{
	uint32_t from = l->cur;
	int fd = -1, ret;

	ret = vdev_set_state(l->dev, state, &fd, &l->cur);
	if (ret) {
		rep_error(l->rep, VMIG_EXIT_DEVICE,
			  "destination %s: %s -> %s failed: %s (device is now %s)",
			  l->dev->name, vdev_state_name(from),
			  vdev_state_name(state), strerror(-ret),
			  vdev_state_name(l->cur));
		return ret;
	}
	if (fd >= 0) {
		if (l->fd >= 0)
			l->dev->ops->close_fd(l->dev, l->fd);
		l->fd = fd;
	}
	return 0;
}

static int load_prepare(struct load *l)
{
	uint64_t flags;
	int ret;

	ret = vdev_get_flags(l->dev, &flags);
	if (ret || !(flags & VFIO_MIGRATION_STOP_COPY)) {
		rep_error(l->rep, VMIG_EXIT_DEVICE,
			  "destination %s: no migration support (%s)",
			  l->dev->name,
			  ret ? strerror(-ret) : "STOP_COPY flag missing");
		return ret ? ret : -EOPNOTSUPP;
	}
	ret = vdev_get_state(l->dev, &l->cur);
	if (ret) {
		rep_error(l->rep, VMIG_EXIT_DEVICE, "destination %s: %s",
			  l->dev->name, strerror(-ret));
		return ret;
	}
	if (l->cur != VFIO_DEVICE_STATE_STOP) {
		ret = load_step(l, VFIO_DEVICE_STATE_STOP);
		if (ret)
			return ret;
	}
	ret = load_step(l, VFIO_DEVICE_STATE_RESUMING);
	if (!ret && l->fd < 0) {
		rep_error(l->rep, VMIG_EXIT_DEVICE,
			  "destination %s: STOP -> RESUMING returned no data fd",
			  l->dev->name);
		ret = -EBADF;
	}
	return ret;
}

static int load_receive(struct load *l, int lfd, struct dev_io *io)
{
	struct rx_config rc = {
		.max_chunk = VMIG_MAX_CHUNK, .timeout_ms = l->o->timeout_ms,
		.progress_ms = l->o->progress_ms, .tls = l->o->tls,
		.window = l->o->window_set ? l->o->window : 0,
		.window_per_channel = true,
		.cancel = l->o->cancel, .drop_ctrl = l->o->dst_drop_ctrl,
		.drop_close = l->o->drop_close,
	};
	struct vmig_sink sink = { dev_write, io };
	struct vmig_hs_state st = { 0 };
	int ctrl, data[VMIG_MAX_CHANNELS], ret;
	char err[400];

	ret = rx_accept(lfd, &rc, &st, &ctrl, data, err, sizeof(err));
	if (ret) {
		rep_error(l->rep, VMIG_EXIT_FAILED, "%s", err);
		return ret;
	}
	/*
	 * The cancel flag only ends the wait for a source (migrate sets it
	 * when its source fails before connecting): once a session exists,
	 * the source's ABORT says why, and SIGINT still cancels.
	 */
	rc.cancel = NULL;
	l->rx = rx_start(&rc, &st, ctrl, data, &sink);
	if (!l->rx) {
		rep_error(l->rep, VMIG_EXIT_FAILED, "out of memory");
		return -ENOMEM;
	}
	ret = rx_wait(l->rx);
	if (ret) {
		rx_error(l->rx, err, sizeof(err));
		rep_error(l->rep, ret == -EIO || ret == -ENODEV ?
			  VMIG_EXIT_DEVICE : VMIG_EXIT_FAILED, "%s", err);
	}
	return ret;
}

/*
 * Everything is written: RESUMING -> STOP, LOADED, wait for COMMIT, then
 * STOP -> RUNNING (unless no_start) and STARTED.
 */
static int load_finish(struct load *l)
{
	uint64_t t0 = now_us(), t1;
	char err[320];
	int ret;

	ret = load_step(l, VFIO_DEVICE_STATE_STOP);
	if (ret)
		return ret;
	l->dev->ops->close_fd(l->dev, l->fd);
	l->fd = -1;
	ret = rx_loaded(l->rx, now_us() - t0);
	if (!ret)
		ret = rx_wait_commit(l->rx);
	if (ret == -ECONNABORTED) {
		rx_error(l->rx, err, sizeof(err));
		rep_error(l->rep, VMIG_EXIT_FAILED, "%s", err);
		return ret;
	}
	if (ret) {
		rx_error(l->rx, err, sizeof(err));
		l->keep = true;
		rep_error(l->rep, VMIG_EXIT_UNKNOWN,
			  "no COMMIT from the source (%s): the device stays stopped with the state loaded, the source may be running",
			  err);
		return ret;
	}
	t1 = now_us();
	if (!l->o->no_start) {
		ret = load_step(l, VFIO_DEVICE_STATE_RUNNING);
		if (ret)
			return ret;
	}
	l->rep->resume_ms = ms_since(t0);
	if (rx_started(l->rx, now_us() - t1, !l->o->no_start))
		fprintf(stderr,
			"vfio-mig: destination %s: could not confirm to the source (it stays stopped)\n",
			l->dev->name);
	return 0;
}

/* Never leave the device half-loaded: reset it. */
static void load_recover(struct load *l)
{
	int ret;

	if (l->fd >= 0)
		l->dev->ops->close_fd(l->dev, l->fd);
	l->fd = -1;
	if ((l->cur == VFIO_DEVICE_STATE_RUNNING && !l->rx) || l->keep)
		return;
	ret = l->dev->ops->reset(l->dev);
	if (ret)
		fprintf(stderr,
			"vfio-mig: destination %s: VFIO_DEVICE_RESET failed: %s\n",
			l->dev->name, strerror(-ret));
}

int mig_load(struct vdev *dev, int lfd, const struct mig_opts *o,
	     struct mig_report *rep)
{
	struct load l = { .dev = dev, .o = o, .rep = rep, .fd = -1 };
	struct dev_io io = { .dev = dev, .fd = -1 };
	int ret;

	rep->present = true;
	rep->device = dev->name;
	ret = load_prepare(&l);
	if (!ret) {
		io.fd = l.fd;
		ret = load_receive(&l, lfd, &io);
	}
	if (!ret)
		ret = load_finish(&l);
	if (ret) {
		if (!rep->exit_code)
			rep_error(rep, VMIG_EXIT_FAILED, "%s", strerror(-ret));
		if (l.rx)
			rx_abort(l.rx, ret, "%s", rep->error);
		load_recover(&l);
	}
	if (l.rx) {
		rx_get_stats(l.rx, &rep->rx);
		rep->have_rx = true;
		rx_destroy(l.rx);
	}
	rep->state_known = !vdev_get_state(dev, &rep->final_state);
	return rep->exit_code;
}

/* =========================================================== migrate */

struct load_thread {
	struct vdev *dev;
	int lfd;
	struct mig_opts o;
	struct mig_report *rep;
	volatile int cancel;
	int ret;
};

static void *load_thread_main(void *arg)
{
	struct load_thread *lt = arg;

	lt->ret = mig_load(lt->dev, lt->lfd, &lt->o, lt->rep);
	/* refuse (reset) connections the source may still be making */
	close(lt->lfd);
	return NULL;
}

int mig_migrate(struct vdev *src, struct vdev *dst, const struct mig_opts *o,
		struct mig_report *src_rep, struct mig_report *dst_rep)
{
	struct load_thread lt = { .dev = dst, .rep = dst_rep };
	char err[300], port[16];
	pthread_t thr;
	int ret;

	lt.lfd = vmig_listen("127.0.0.1", "0", err, sizeof(err));
	if (lt.lfd < 0) {
		src_rep->present = true;
		rep_error(src_rep, VMIG_EXIT_FAILED, "%s", err);
		return VMIG_EXIT_FAILED;
	}
	snprintf(port, sizeof(port), "%d", vmig_local_port(lt.lfd));
	lt.o = *o;
	lt.o.progress = false;
	lt.o.cancel = &lt.cancel;
	if (pthread_create(&thr, NULL, load_thread_main, &lt)) {
		close(lt.lfd);
		return VMIG_EXIT_FAILED;
	}
	ret = mig_save(src, "127.0.0.1", port, o, src_rep);
	if (ret && ret != VMIG_EXIT_UNKNOWN)
		lt.cancel = 1;	/* the destination may still wait in accept */
	pthread_join(thr, NULL);
	/* only the confirmation was lost: the destination runs */
	if (ret == VMIG_EXIT_UNKNOWN && lt.ret == VMIG_EXIT_OK)
		return VMIG_EXIT_OK;
	return ret ? ret : lt.ret;
}
