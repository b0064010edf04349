// SPDX-License-Identifier: GPL-2.0
/*
 * Source side of a session: one reader queues chunks, channel threads send
 * them, the control thread takes CREDIT, LOADED and STARTED; then COMMIT.
 * See transport_int.h and Documentation/vfio-mig.rst.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"
#include "transport_int.h"

static void tx_send_last(struct tx_chan *ch)
{
	struct tx *tx = ch->tx;
	struct vmig_chunk_hdr h = {
		.magic = VMIG_CHUNK_MAGIC,
		.version = VMIG_PROTO_VERSION,
		.flags = VMIG_CHUNK_LAST,
	};
	int fd = tx->s.data_fd[ch->idx], ret;

	pthread_mutex_lock(&tx->s.lock);
	h.seq = tx->seq;
	h.offset = tx->off;
	pthread_mutex_unlock(&tx->s.lock);
	ret = tx_send_chunk(fd, &h, NULL);
	if (ret)
		session_fail_conn(&tx->s, ret,
				  "channel %u: sending end of stream: %s",
				  ch->idx, strerror(-ret));
	else
		shutdown(fd, SHUT_WR);
}

/* @t0: when the send of the chunk began; its rate updates ch->rate. */
static void tx_chan_account(struct tx_chan *ch, uint32_t len, uint64_t t0)
{
	struct vmig_chan_stats *cs = &ch->tx->st.chan[ch->idx];
	uint64_t now = now_us();
	double r = (double)len * 1e6 / (now > t0 ? now - t0 : 1);

	pthread_mutex_lock(&ch->tx->s.lock);
	if (!ch->first_us)
		ch->first_us = now;
	ch->last_us = now;
	cs->bytes += len;
	cs->chunks++;
	cs->busy_us = ch->last_us - ch->first_us;
	ch->rate = ch->rate ? (ch->rate + r) / 2 : r;
	pthread_mutex_unlock(&ch->tx->s.lock);
}

/*
 * Skew: should this channel leave the queue's head to the others?  The
 * destination writes in order, so a chunk on a slow channel holds every
 * later chunk (and the window) until it arrives.  A channel at least four
 * times slower than the fastest one (as its own sends measured) takes a
 * chunk only when the other channels could not drain the queue before it
 * would deliver that chunk.  The fastest channel never steps aside, so
 * the queue always drains.  A channel that stood aside for 16 times its
 * own chunk time takes one again, so that one slow send (a descheduled
 * thread) does not exclude a healthy channel for good: its rate is then
 * measured again.  Caller holds the lock.
 */
static bool tx_chan_defer(struct tx_chan *ch)
{
	struct tx *tx = ch->tx;
	double others = 0, fastest = 0;
	uint64_t now;
	unsigned i;

	if (!ch->rate || !tx->qhead)
		return false;
	now = now_us();
	if (ch->defer_us &&
	    now - ch->defer_us > 16e6 * tx->qhead->h.len / ch->rate)
		return false;
	for (i = 0; i < tx->cfg.channels; i++) {
		if (i == ch->idx)
			continue;
		others += tx->chan[i].rate;
		if (tx->chan[i].rate > fastest)
			fastest = tx->chan[i].rate;
	}
	if (ch->rate * 4 >= fastest)
		return false;
	if ((double)tx->qbytes > others * tx->qhead->h.len / ch->rate)
		return false;
	if (!ch->defer_us)
		ch->defer_us = now;
	return true;
}

static void *tx_chan_main(void *arg)
{
	struct tx_chan *ch = arg;
	struct tx *tx = ch->tx;
	struct tx_chunk *c;
	struct timespec ts;
	uint64_t t0;
	int ret;

	for (;;) {
		pthread_mutex_lock(&tx->s.lock);
		for (;;) {
			if (tx->s.poisoned || (!tx->qhead && tx->closed))
				break;
			if (!tx->qhead) {
				pthread_cond_wait(&tx->s.cond, &tx->s.lock);
			} else if (tx_chan_defer(ch)) {
				/* the rates and the queue change: look again */
				deadline_in(&ts, 20);
				pthread_cond_timedwait(&tx->s.cond,
						       &tx->s.lock, &ts);
			} else {
				break;
			}
		}
		if (tx->s.poisoned) {
			pthread_mutex_unlock(&tx->s.lock);
			break;
		}
		c = tx->qhead;
		if (c) {
			tx->qhead = c->next;
			if (!tx->qhead)
				tx->qtail = NULL;
			tx->qbytes -= c->h.len;
			ch->defer_us = 0;
		}
		pthread_mutex_unlock(&tx->s.lock);
		if (!c) {
			tx_send_last(ch);
			break;
		}
		t0 = now_us();
		if (tx->cfg.chan_delay_us[ch->idx])
			sleep_us(tx->cfg.chan_delay_us[ch->idx]);
		if (c->h.flags & VMIG_CHUNK_CRC)
			c->h.crc = vmig_chunk_sum(c->data, c->h.len);
		ret = tx_send_chunk(tx->s.data_fd[ch->idx], &c->h, c->data);
		if (ret) {
			session_fail_conn(&tx->s, ret,
					  "channel %u: send failed: %s",
					  ch->idx, strerror(-ret));
			free(c);
			break;
		}
		tx_chan_account(ch, c->h.len, t0);
		free(c);
	}
	return NULL;
}

static int tx_on_loaded(struct tx *tx, const uint8_t *p, uint16_t len)
{
	if (len != 24)
		return -EPROTO;
	pthread_mutex_lock(&tx->s.lock);
	if (tx->done) {
		pthread_mutex_unlock(&tx->s.lock);
		return -EPROTO;
	}
	tx->dinfo.load_us = get_be64(p);
	tx->dinfo.bytes = get_be64(p + 8);
	tx->dinfo.chunks = get_be64(p + 16);
	if (!tx->closed || tx->dinfo.bytes != tx->off) {
		pthread_mutex_unlock(&tx->s.lock);
		return -EPROTO;
	}
	tx->done = true;
	tx->acked = tx->dinfo.bytes;
	tx->st.acked_bytes = tx->acked;
	pthread_cond_broadcast(&tx->s.cond);
	pthread_mutex_unlock(&tx->s.lock);
	return 0;
}

static int tx_on_started(struct tx *tx, const uint8_t *p, uint16_t len)
{
	if (len != 16)
		return -EPROTO;
	pthread_mutex_lock(&tx->s.lock);
	if (!tx->committed || tx->started) {
		pthread_mutex_unlock(&tx->s.lock);
		return -EPROTO;
	}
	tx->dinfo.resume_us = get_be64(p);
	tx->dinfo.running = get_be64(p + 8) & 1;
	tx->started = true;
	tx->s.quiet = true;
	pthread_cond_broadcast(&tx->s.cond);
	pthread_mutex_unlock(&tx->s.lock);
	return 0;
}

static void *tx_ctrl_main(void *arg)
{
	struct tx *tx = arg;
	uint8_t p[VMIG_CTRL_MAX_PAYLOAD];
	char msg[VMIG_CTRL_MAX_PAYLOAD];
	uint16_t type, len;
	int ret, code;

	for (;;) {
		ret = ctrl_recv(tx->s.ctrl_fd, &type, p, &len);
		if (ret >= 0)
			session_touch(&tx->s);
		if (!ret && type == tx->cfg.cancel_on_ctrl) {
			struct timespec ts;

			deadline_in(&ts, 2000);
			pthread_mutex_lock(&tx->s.lock);
			__atomic_store_n(&tx->s.test_cancel, 1, __ATOMIC_RELAXED);
			while (!tx->s.poisoned &&
			       !pthread_cond_timedwait(&tx->s.cond, &tx->s.lock, &ts))
				;
			pthread_mutex_unlock(&tx->s.lock);
		}
		if (ret == 1) {
			session_fail(&tx->s, false, -ECONNRESET,
				     "destination closed the control connection");
			break;
		}
		if (ret < 0) {
			session_fail(&tx->s, false, ret,
				     "control connection: %s", strerror(-ret));
			break;
		}
		switch (type) {
		case VMIG_CTRL_CREDIT:
			ret = tx_on_credit(tx, p, len);
			break;
		case VMIG_CTRL_LOADED:
			ret = tx_on_loaded(tx, p, len);
			break;
		case VMIG_CTRL_STARTED:
			ret = tx_on_started(tx, p, len);
			if (!ret)
				return NULL;
			break;
		case VMIG_CTRL_PING:
			ret = len ? -EPROTO : 0;
			break;
		case VMIG_CTRL_ERROR:
			error_payload(p, len, &code, msg, sizeof(msg));
			session_fail(&tx->s, true, -EREMOTEIO,
				     "destination failed: %s", msg);
			return NULL;
		default:
			ret = -EPROTO;
			break;
		}
		if (ret) {
			session_fail(&tx->s, false, ret,
				     "malformed control message (type %u, length %u)",
				     type, len);
			break;
		}
	}
	return NULL;
}

int tx_connect(const char *host, const char *port, struct tx_config *cfg,
	       int *ctrl_fd, int *data_fds, char *err, size_t errlen)
{
	struct vmig_hello h = {
		.magic = VMIG_HELLO_MAGIC,
		.version = VMIG_PROTO_VERSION,
		.count = cfg->channels,
		.max_chunk = cfg->chunk,
		.window = cfg->window,
	};
	unsigned i, opened = 0;
	uint64_t granted = 0;
	int fd, ret;

	if (!cfg->session)
		cfg->session = random_u64();
	h.session = cfg->session;
	*ctrl_fd = -1;
	for (i = 0; i <= cfg->channels; i++) {
		fd = vmig_dial(host, port, cfg->timeout_ms, err, errlen);
		if (fd < 0) {
			ret = fd;
			goto fail;
		}
		if (i && cfg->channels > 1)
			vmig_share_channel(fd);
		/* TCP paces the socket itself (no fq qdisc needed) */
		if (i && cfg->chan_rate[i - 1])
			setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE,
				   &cfg->chan_rate[i - 1],
				   sizeof(cfg->chan_rate[i - 1]));
		if (cfg->tls) {
			int plain = vmig_tls_wrap(cfg->tls, fd, false,
						  cfg->timeout_ms, err, errlen);

			if (plain < 0) {
				close(fd);
				ret = plain;
				goto fail;
			}
			fd = plain;
		}
		h.kind = i ? VMIG_CONN_DATA : VMIG_CONN_CONTROL;
		h.index = i ? i - 1 : 0;
		if (i)
			data_fds[opened++] = fd;
		else
			*ctrl_fd = fd;
		ret = vmig_hs_client(fd, &h, cfg->timeout_ms,
				     i ? NULL : &granted, err, errlen);
		if (ret)
			goto fail;
		if (!i && (granted < cfg->chunk || granted > cfg->window)) {
			snprintf(err, errlen,
				 "destination granted a window of %llu bytes (asked %llu, chunk %u)",
				 (unsigned long long)granted,
				 (unsigned long long)cfg->window, cfg->chunk);
			ret = -EPROTO;
			goto fail;
		}
		if (!i)
			h.window = cfg->window = granted;
	}
	return 0;
fail:
	if (*ctrl_fd >= 0)
		close(*ctrl_fd);
	*ctrl_fd = -1;
	while (opened)
		close(data_fds[--opened]);
	return ret;
}

struct tx *tx_start(const struct tx_config *cfg, int ctrl_fd,
		    const int *data_fds)
{
	struct tx *tx = calloc(1, sizeof(*tx));
	unsigned i;

	static pthread_once_t kick_once = PTHREAD_ONCE_INIT;

	if (!tx)
		return NULL;
	pthread_once(&kick_once, kick_setup);
	tx->cfg = *cfg;
	if (tx->cfg.window < tx->cfg.chunk)
		tx->cfg.window = tx->cfg.chunk;
	tx->st.channels = cfg->channels;
	session_init(&tx->s, ctrl_fd, data_fds, cfg->channels, cfg->cancel,
		     VMIG_CTRL_ABORT);
	tx->s.peer = "destination";
	tx->s.progress_ms = cfg->progress_ms;
	tx->acked_us = now_us();
	tx->s.drop_ctrl = cfg->drop_ctrl;
	tx->s.drop_close = cfg->drop_close;
	for (i = 0; i < cfg->channels; i++) {
		tx->chan[i].tx = tx;
		tx->chan[i].idx = i;
		pthread_create(&tx->chan[i].thr, NULL, tx_chan_main,
			       &tx->chan[i]);
	}
	pthread_create(&tx->ctrl_thr, NULL, tx_ctrl_main, tx);
	tx->s.watcher_started =
		!pthread_create(&tx->s.watcher, NULL, watcher_main, &tx->s);
	return tx;
}

/*
 * One source read.  A signal (SIGINT, or the watcher's SIGURG once the
 * session failed) interrupts a blocked read: then stop if the session is
 * cancelled or failed, else read again.
 */
static ssize_t tx_read(struct tx *tx, const struct vmig_source *src,
		       void *buf, size_t len)
{
	bool stop;
	ssize_t r;

	for (;;) {
		pthread_mutex_lock(&tx->s.lock);
		tx->s.reader = pthread_self();
		tx->s.reading = true;
		pthread_mutex_unlock(&tx->s.lock);
		r = src->read(src->ctx, buf, len);
		pthread_mutex_lock(&tx->s.lock);
		tx->s.reading = false;
		stop = tx->s.poisoned;
		pthread_mutex_unlock(&tx->s.lock);
		if (r == -EINTR && (stop || session_cancelled(&tx->s)))
			return -ECANCELED;
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN) {
			sleep_us(1000);
			continue;
		}
		return r;
	}
}

static void tx_queue(struct tx *tx, struct tx_chunk *c, uint32_t len,
		     uint16_t flags)
{
	c->next = NULL;
	c->h.magic = VMIG_CHUNK_MAGIC;
	c->h.version = VMIG_PROTO_VERSION;
	c->h.flags = flags | (tx->cfg.crc ? VMIG_CHUNK_CRC : 0);
	c->h.len = len;
	c->h.crc = 0;		/* the channel thread sums it */
	pthread_mutex_lock(&tx->s.lock);
	c->h.seq = tx->seq++;
	c->h.offset = tx->off;
	tx->off += len;
	if (tx->qtail)
		tx->qtail->next = c;
	else
		tx->qhead = c;
	tx->qtail = c;
	tx->qbytes += len;
	tx->st.bytes_read = tx->off;
	tx->st.chunks = tx->seq;
	if (tx->off - tx->acked > tx->st.max_inflight)
		tx->st.max_inflight = tx->off - tx->acked;
	pthread_cond_broadcast(&tx->s.cond);
	pthread_mutex_unlock(&tx->s.lock);
}

int tx_pump(struct tx *tx, const struct vmig_source *src,
	    uint16_t phase_flags, uint64_t *nbytes)
{
	struct tx_chunk *c;
	uint64_t room;
	size_t len;
	ssize_t r;

	*nbytes = 0;
	for (;;) {
		if (tx->deadline_us && now_us() >= tx->deadline_us)
			return 1;
		room = tx_wait_credit(tx);
		if (!room)
			return session_error(&tx->s, NULL, 0);
		len = room < tx->cfg.chunk ? room : tx->cfg.chunk;
		c = malloc(sizeof(*c) + len);
		if (!c) {
			session_fail(&tx->s, false, -ENOMEM,
				     "out of memory for a %zu-byte chunk", len);
			return -ENOMEM;
		}
		r = tx_read(tx, src, c->data, len);
		if (r <= 0) {
			free(c);
			if (r == 0)
				return 0;
			if (r == -ENOMSG)
				return 1;
			session_fail(&tx->s, false, (int)r,
				     "reading the saving stream at byte %llu: %s",
				     (unsigned long long)tx->off,
				     strerror((int)-r));
			return (int)r;
		}
		if ((size_t)r > len)
			r = len;
		tx_queue(tx, c, (uint32_t)r, phase_flags);
		*nbytes += r;
	}
}

void tx_set_deadline(struct tx *tx, uint64_t us)
{
	tx->deadline_us = us;
}

int tx_finish(struct tx *tx, struct vmig_done *done)
{
	int err = 0;

	pthread_mutex_lock(&tx->s.lock);
	tx->closed = true;
	tx->acked_us = now_us();
	pthread_cond_broadcast(&tx->s.cond);
	while (!tx->s.poisoned && !tx->done)
		if (!tx_wait_ack(tx, "LOADED"))
			break;
	if (tx->done) {
		if (done)
			*done = tx->dinfo;
	} else {
		err = tx->s.err;
	}
	pthread_mutex_unlock(&tx->s.lock);
	return err;
}

int tx_commit(struct tx *tx)
{
	int err;

	pthread_mutex_lock(&tx->s.lock);
	err = tx->s.poisoned ? tx->s.err : !tx->done ? -EINVAL : 0;
	if (!err)
		tx->committed = true;
	/* from here on a failure must not send ABORT: the source is gone */
	if (!err)
		tx->s.fail_type = 0;
	pthread_mutex_unlock(&tx->s.lock);
	if (err)
		return err;
	ctrl_send(&tx->s, VMIG_CTRL_COMMIT, NULL, 0);
	return 0;
}

int tx_wait_started(struct tx *tx, struct vmig_done *done)
{
	uint64_t limit = tx->cfg.progress_ms ? tx->cfg.progress_ms :
					       VMIG_DEFAULT_PROGRESS_MS;
	uint64_t t0 = now_us();
	struct timespec ts;
	int err = 0;

	pthread_mutex_lock(&tx->s.lock);
	while (!tx->s.poisoned && !tx->started) {
		if (now_us() - t0 > limit * 1000) {
			pthread_mutex_unlock(&tx->s.lock);
			session_fail(&tx->s, false, -ETIMEDOUT,
				     "no STARTED from the destination within %llu ms",
				     (unsigned long long)limit);
			pthread_mutex_lock(&tx->s.lock);
			break;
		}
		deadline_in(&ts, 50);
		pthread_cond_timedwait(&tx->s.cond, &tx->s.lock, &ts);
	}
	if (tx->started) {
		if (done)
			*done = tx->dinfo;
	} else {
		err = tx->s.err;
	}
	pthread_mutex_unlock(&tx->s.lock);
	return err;
}

void tx_abort(struct tx *tx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vfail(&tx->s, false, err, fmt, ap);
	va_end(ap);
}

int tx_error(struct tx *tx, char *buf, size_t len)
{
	return session_error(&tx->s, buf, len);
}

void tx_get_stats(struct tx *tx, struct tx_stats *st)
{
	pthread_mutex_lock(&tx->s.lock);
	*st = tx->st;
	pthread_mutex_unlock(&tx->s.lock);
}

void tx_destroy(struct tx *tx)
{
	struct tx_chunk *c;
	bool done;
	unsigned i;

	if (!tx)
		return;
	pthread_mutex_lock(&tx->s.lock);
	done = tx->started;
	pthread_mutex_unlock(&tx->s.lock);
	if (!done)
		session_fail(&tx->s, false, -ECANCELED,
			     "session ended before completion");
	for (i = 0; i < tx->cfg.channels; i++)
		pthread_join(tx->chan[i].thr, NULL);
	pthread_join(tx->ctrl_thr, NULL);
	session_stop_watcher(&tx->s);
	while ((c = tx->qhead)) {
		tx->qhead = c->next;
		free(c);
	}
	session_close(&tx->s);
	free(tx);
}
