// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mig transport sessions: source (tx) and destination (rx) threads,
 * reorder buffer and credit window.  Wire encoding lives in wire.c.
 *
 * Both sides share one pattern: a single mutex and condition variable per
 * session, a poison flag with the first error, and a watcher thread that
 * turns SIGINT or a caller's cancel flag into a failure.  A failure wakes
 * every waiter and shuts down every socket so that threads blocked in
 * send()/recv() return; the owner then joins every thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crc32c.h"
#include "transport.h"
#include "util.h"

struct session {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool poisoned;
	bool stopping;
	int err;			/* negative errno */
	char msg[320];
	const volatile int *cancel;
	uint16_t fail_type;		/* control message sent on local failure */
	int ctrl_fd;
	int data_fd[VMIG_MAX_CHANNELS];
	unsigned n;
	pthread_mutex_t ctrl_wlock;
	pthread_t watcher;
	bool watcher_started;
};

static void session_init(struct session *s, int ctrl_fd, const int *data_fds,
			 unsigned n, const volatile int *cancel,
			 uint16_t fail_type)
{
	pthread_condattr_t ca;
	unsigned i;

	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->ctrl_wlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->cancel = cancel;
	s->fail_type = fail_type;
	s->ctrl_fd = ctrl_fd;
	s->n = n;
	for (i = 0; i < n; i++)
		s->data_fd[i] = data_fds[i];
}

static void session_shutdown(struct session *s)
{
	unsigned i;

	shutdown(s->ctrl_fd, SHUT_RDWR);
	for (i = 0; i < s->n; i++)
		shutdown(s->data_fd[i], SHUT_RDWR);
}

static int ctrl_send(struct session *s, uint16_t type, const void *p,
		     uint16_t len)
{
	int ret;

	pthread_mutex_lock(&s->ctrl_wlock);
	ret = vmig_ctrl_send(s->ctrl_fd, type, p, len);
	pthread_mutex_unlock(&s->ctrl_wlock);
	return ret;
}

static void send_error_msg(struct session *s, uint16_t type, int err,
			   const char *msg)
{
	uint8_t buf[VMIG_CTRL_MAX_PAYLOAD];
	size_t len = strlen(msg);

	if (len > sizeof(buf) - 4)
		len = sizeof(buf) - 4;
	put_be32(buf, (uint32_t)-err);
	memcpy(buf + 4, msg, len);
	ctrl_send(s, type, buf, (uint16_t)(len + 4));
}

/*
 * Record the first failure, wake every waiter, tell the peer (unless the
 * failure came from the peer) and shut every socket down.
 */
static void session_vfail(struct session *s, bool remote, int err,
			  const char *fmt, va_list ap)
{
	bool first;

	pthread_mutex_lock(&s->lock);
	first = !s->poisoned;
	if (first) {
		s->poisoned = true;
		s->err = err < 0 ? err : -EIO;
		vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (!first)
		return;
	if (!remote)
		send_error_msg(s, s->fail_type, s->err, s->msg);
	session_shutdown(s);
}

static void __attribute__((format(printf, 4, 5)))
session_fail(struct session *s, bool remote, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vfail(s, remote, err, fmt, ap);
	va_end(ap);
}

/*
 * A broken connection is often the peer shutting its sockets down right
 * after it reported the real cause on the control connection: give that
 * message a moment to arrive so that the cause, not the symptom, is
 * reported.
 */
static void __attribute__((format(printf, 3, 4)))
session_fail_conn(struct session *s, int err, const char *fmt, ...)
{
	struct timespec ts;
	bool poisoned;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 300 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->poisoned &&
	       pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
		;
	poisoned = s->poisoned;
	pthread_mutex_unlock(&s->lock);
	if (poisoned)
		return;
	va_start(ap, fmt);
	session_vfail(s, false, err, fmt, ap);
	va_end(ap);
}

static bool session_cancelled(struct session *s)
{
	return vmig_signalled || (s->cancel && *s->cancel);
}

static void *watcher_main(void *arg)
{
	struct session *s = arg;
	struct timespec ts;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping && !s->poisoned) {
		if (session_cancelled(s)) {
			pthread_mutex_unlock(&s->lock);
			session_fail(s, false, -ECANCELED,
				     "migration cancelled");
			return NULL;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int session_error(struct session *s, char *buf, size_t len)
{
	int err;

	pthread_mutex_lock(&s->lock);
	err = s->poisoned ? s->err : 0;
	if (buf && len)
		snprintf(buf, len, "%s", s->poisoned ? s->msg : "");
	pthread_mutex_unlock(&s->lock);
	return err;
}

static void session_stop_watcher(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->watcher_started)
		pthread_join(s->watcher, NULL);
	s->watcher_started = false;
}

static void session_close(struct session *s)
{
	unsigned i;

	close(s->ctrl_fd);
	for (i = 0; i < s->n; i++)
		close(s->data_fd[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->ctrl_wlock);
	pthread_cond_destroy(&s->cond);
}

/* Receive one control message.  Returns 0, 1 at clean EOF, or -errno. */
static int ctrl_recv(int fd, uint16_t *type, uint8_t *payload, uint16_t *len)
{
	uint8_t hdr[VMIG_CTRL_HDR_SIZE];
	ssize_t r;

	r = recv_full(fd, hdr, sizeof(hdr));
	if (r == 0)
		return 1;
	if (r < 0)
		return (int)r;
	if (r < (ssize_t)sizeof(hdr))
		return -ECONNABORTED;
	if (get_be32(hdr) != VMIG_CTRL_MAGIC)
		return -EPROTO;
	*type = get_be16(hdr + 4);
	*len = get_be16(hdr + 6);
	if (*len > VMIG_CTRL_MAX_PAYLOAD)
		return -EMSGSIZE;
	r = recv_full(fd, payload, *len);
	if (r < 0)
		return (int)r;
	if (r < *len)
		return -ECONNABORTED;
	return 0;
}

static void error_payload(const uint8_t *p, uint16_t len, int *code,
			  char *msg, size_t msglen)
{
	size_t n = len >= 4 ? len - 4u : 0;

	*code = len >= 4 ? (int)get_be32(p) : EIO;
	if (n >= msglen)
		n = msglen - 1;
	memcpy(msg, p + 4, n);
	msg[n] = 0;
}

/* ============================================================= source */

struct tx_chunk {
	struct tx_chunk *next;
	struct vmig_chunk_hdr h;
	uint8_t data[];
};

struct tx_chan {
	struct tx *tx;
	unsigned idx;
	pthread_t thr;
	uint64_t first_us, last_us;
};

struct tx {
	struct session s;
	struct tx_config cfg;
	struct tx_chan chan[VMIG_MAX_CHANNELS];
	pthread_t ctrl_thr;
	struct tx_chunk *qhead, *qtail;
	bool closed;			/* no more chunks will be queued */
	bool done;			/* DONE received */
	struct vmig_done dinfo;
	uint64_t seq, off;		/* next chunk to be read */
	uint64_t acked_seq, acked;	/* written by the destination */
	struct tx_stats st;
};

static int tx_send_chunk(int fd, const struct vmig_chunk_hdr *h,
			 const void *data)
{
	uint8_t hdr[VMIG_CHUNK_HDR_SIZE];
	int ret;

	vmig_chunk_encode(h, hdr);
	ret = send_full(fd, hdr, sizeof(hdr));
	if (!ret && h->len)
		ret = send_full(fd, data, h->len);
	return ret;
}

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

static void tx_chan_account(struct tx_chan *ch, uint32_t len)
{
	struct vmig_chan_stats *cs = &ch->tx->st.chan[ch->idx];
	uint64_t now = now_us();

	pthread_mutex_lock(&ch->tx->s.lock);
	if (!ch->first_us)
		ch->first_us = now;
	ch->last_us = now;
	cs->bytes += len;
	cs->chunks++;
	cs->busy_us = ch->last_us - ch->first_us;
	pthread_mutex_unlock(&ch->tx->s.lock);
}

static void *tx_chan_main(void *arg)
{
	struct tx_chan *ch = arg;
	struct tx *tx = ch->tx;
	struct tx_chunk *c;
	int ret;

	for (;;) {
		pthread_mutex_lock(&tx->s.lock);
		while (!tx->s.poisoned && !tx->qhead && !tx->closed)
			pthread_cond_wait(&tx->s.cond, &tx->s.lock);
		if (tx->s.poisoned) {
			pthread_mutex_unlock(&tx->s.lock);
			break;
		}
		c = tx->qhead;
		if (c) {
			tx->qhead = c->next;
			if (!tx->qhead)
				tx->qtail = NULL;
		}
		pthread_mutex_unlock(&tx->s.lock);
		if (!c) {
			tx_send_last(ch);
			break;
		}
		if (tx->cfg.chan_delay_us[ch->idx])
			sleep_us(tx->cfg.chan_delay_us[ch->idx]);
		ret = tx_send_chunk(tx->s.data_fd[ch->idx], &c->h, c->data);
		if (ret) {
			session_fail_conn(&tx->s, ret,
					  "channel %u: send failed: %s",
					  ch->idx, strerror(-ret));
			free(c);
			break;
		}
		tx_chan_account(ch, c->h.len);
		free(c);
	}
	return NULL;
}

static int tx_on_credit(struct tx *tx, const uint8_t *p, uint16_t len)
{
	uint64_t seq, bytes;

	if (len != 16)
		return -EPROTO;
	seq = get_be64(p);
	bytes = get_be64(p + 8);
	pthread_mutex_lock(&tx->s.lock);
	if (bytes > tx->off || bytes < tx->acked || seq > tx->seq) {
		pthread_mutex_unlock(&tx->s.lock);
		return -EPROTO;
	}
	tx->acked = bytes;
	tx->acked_seq = seq;
	tx->st.acked_bytes = bytes;
	pthread_cond_broadcast(&tx->s.cond);
	pthread_mutex_unlock(&tx->s.lock);
	return 0;
}

static int tx_on_done(struct tx *tx, const uint8_t *p, uint16_t len)
{
	if (len != 24)
		return -EPROTO;
	pthread_mutex_lock(&tx->s.lock);
	tx->dinfo.resume_us = get_be64(p);
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

static void *tx_ctrl_main(void *arg)
{
	struct tx *tx = arg;
	uint8_t p[VMIG_CTRL_MAX_PAYLOAD];
	char msg[VMIG_CTRL_MAX_PAYLOAD];
	uint16_t type, len;
	int ret, code;

	for (;;) {
		ret = ctrl_recv(tx->s.ctrl_fd, &type, p, &len);
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
		case VMIG_CTRL_DONE:
			ret = tx_on_done(tx, p, len);
			if (!ret)
				return NULL;
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
		h.kind = i ? VMIG_CONN_DATA : VMIG_CONN_CONTROL;
		h.index = i ? i - 1 : 0;
		if (i)
			data_fds[opened++] = fd;
		else
			*ctrl_fd = fd;
		ret = vmig_hs_client(fd, &h, cfg->timeout_ms, err, errlen);
		if (ret)
			goto fail;
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

	if (!tx)
		return NULL;
	tx->cfg = *cfg;
	if (tx->cfg.window < tx->cfg.chunk)
		tx->cfg.window = tx->cfg.chunk;
	tx->st.channels = cfg->channels;
	session_init(&tx->s, ctrl_fd, data_fds, cfg->channels, cfg->cancel,
		     VMIG_CTRL_ABORT);
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
 * Wait until a whole chunk fits in the credit window (the window is at
 * least one chunk), so that a nearly full window never degrades into tiny
 * chunks.  Returns how many bytes may be read now, 0 if poisoned.
 */
static uint64_t tx_wait_credit(struct tx *tx)
{
	uint64_t room = 0;

	pthread_mutex_lock(&tx->s.lock);
	while (!tx->s.poisoned &&
	       tx->off + tx->cfg.chunk > tx->acked + tx->cfg.window)
		pthread_cond_wait(&tx->s.cond, &tx->s.lock);
	if (!tx->s.poisoned)
		room = tx->acked + tx->cfg.window - tx->off;
	pthread_mutex_unlock(&tx->s.lock);
	return room;
}

static ssize_t tx_read(const struct vmig_source *src, void *buf, size_t len)
{
	ssize_t r;

	for (;;) {
		r = src->read(src->ctx, buf, len);
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
	c->h.crc = tx->cfg.crc ? crc32c(0, c->data, len) : 0;
	pthread_mutex_lock(&tx->s.lock);
	c->h.seq = tx->seq++;
	c->h.offset = tx->off;
	tx->off += len;
	if (tx->qtail)
		tx->qtail->next = c;
	else
		tx->qhead = c;
	tx->qtail = c;
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
		r = tx_read(src, c->data, len);
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

int tx_finish(struct tx *tx, struct vmig_done *done)
{
	int err = 0;

	pthread_mutex_lock(&tx->s.lock);
	tx->closed = true;
	pthread_cond_broadcast(&tx->s.cond);
	while (!tx->s.poisoned && !tx->done)
		pthread_cond_wait(&tx->s.cond, &tx->s.lock);
	if (tx->done) {
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
	done = tx->done;
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

/* ======================================================== destination */

struct rx_chunk {
	struct rx_chunk *next;
	struct vmig_chunk_hdr h;
	uint8_t data[];
};

struct rx_chan {
	struct rx *rx;
	unsigned idx;
	pthread_t thr;
	bool last;
	uint64_t first_us;
};

struct rx {
	struct session s;
	struct rx_config cfg;
	struct vmig_hs_state hs;
	struct vmig_sink sink;
	struct rx_chan chan[VMIG_MAX_CHANNELS];
	pthread_t writer, ctrl_thr;
	struct rx_chunk *pending;	/* sorted by seq */
	uint64_t next_seq, written;
	bool have_total;
	uint64_t total_seq, total_bytes;
	unsigned last_count;
	bool complete, replied;
	struct rx_stats st;
};

static int rx_chan_fail(struct rx_chan *ch, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rx_chan_fail(struct rx_chan *ch, int err, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (err == -EPROTO || err == -EMSGSIZE || err == -EBADMSG ||
	    err == -ENOMEM)
		session_fail(&ch->rx->s, false, err, "channel %u: %s",
			     ch->idx, buf);
	else
		session_fail_conn(&ch->rx->s, err, "channel %u: %s", ch->idx,
				  buf);
	return err;
}

static int rx_check_hdr(struct rx_chan *ch, const struct vmig_chunk_hdr *h)
{
	struct rx *rx = ch->rx;

	if (h->magic != VMIG_CHUNK_MAGIC)
		return rx_chan_fail(ch, -EPROTO,
				    "malformed chunk header: magic 0x%08x, expected 0x%08x",
				    h->magic, VMIG_CHUNK_MAGIC);
	if (h->version != VMIG_PROTO_VERSION)
		return rx_chan_fail(ch, -EPROTO,
				    "malformed chunk header: version %u, expected %u",
				    h->version, VMIG_PROTO_VERSION);
	if (h->flags & ~VMIG_CHUNK_KNOWN_FLAGS)
		return rx_chan_fail(ch, -EPROTO,
				    "malformed chunk header: unknown flags 0x%x",
				    h->flags);
	if (ch->last)
		return rx_chan_fail(ch, -EPROTO,
				    "chunk seq %llu after end of stream",
				    (unsigned long long)h->seq);
	if (h->len > rx->hs.chunk)
		return rx_chan_fail(ch, -EMSGSIZE,
				    "chunk seq %llu length %u exceeds the negotiated maximum %u",
				    (unsigned long long)h->seq, h->len,
				    rx->hs.chunk);
	if (h->flags & VMIG_CHUNK_LAST) {
		if (h->len)
			return rx_chan_fail(ch, -EPROTO,
					    "end-of-stream marker with payload");
	} else if (!h->len) {
		return rx_chan_fail(ch, -EPROTO, "empty chunk seq %llu",
				    (unsigned long long)h->seq);
	}
	return 0;
}

static int rx_on_last(struct rx_chan *ch, const struct vmig_chunk_hdr *h)
{
	struct rx *rx = ch->rx;
	bool bad;

	pthread_mutex_lock(&rx->s.lock);
	bad = rx->have_total && (rx->total_seq != h->seq ||
				 rx->total_bytes != h->offset);
	if (!bad) {
		rx->have_total = true;
		rx->total_seq = h->seq;
		rx->total_bytes = h->offset;
		rx->last_count++;
		ch->last = true;
		pthread_cond_broadcast(&rx->s.cond);
	}
	pthread_mutex_unlock(&rx->s.lock);
	if (bad)
		return rx_chan_fail(ch, -EPROTO,
				    "end of stream at seq %llu disagrees with another channel",
				    (unsigned long long)h->seq);
	return 0;
}

/* Insert into the reorder list; caller holds the lock. */
static int rx_insert(struct rx *rx, struct rx_chunk *c)
{
	struct rx_chunk **pp = &rx->pending;

	if (c->h.seq < rx->next_seq)
		return -EPROTO;
	if (rx->have_total && c->h.seq >= rx->total_seq)
		return -EPROTO;
	while (*pp && (*pp)->h.seq < c->h.seq)
		pp = &(*pp)->next;
	if (*pp && (*pp)->h.seq == c->h.seq)
		return -EPROTO;
	if (c->h.seq != rx->next_seq)
		rx->st.out_of_order++;
	c->next = *pp;
	*pp = c;
	return 0;
}

static void rx_account_alloc(struct rx *rx, uint32_t len, int sign)
{
	pthread_mutex_lock(&rx->s.lock);
	if (sign > 0) {
		rx->st.buffered += len;
		if (rx->st.buffered > rx->st.max_buffered)
			rx->st.max_buffered = rx->st.buffered;
		if (len > rx->st.max_alloc)
			rx->st.max_alloc = len;
	} else {
		rx->st.buffered -= len;
	}
	pthread_mutex_unlock(&rx->s.lock);
}

static int rx_recv_payload(struct rx_chan *ch, const struct vmig_chunk_hdr *h)
{
	struct rx *rx = ch->rx;
	struct rx_chunk *c;
	uint32_t crc;
	ssize_t r;
	int ret;

	rx_account_alloc(rx, h->len, 1);
	c = malloc(sizeof(*c) + h->len);
	if (!c)
		return rx_chan_fail(ch, -ENOMEM, "out of memory (%u bytes)",
				    h->len);
	c->h = *h;
	r = recv_full(rx->s.data_fd[ch->idx], c->data, h->len);
	if (r != (ssize_t)h->len) {
		free(c);
		if (r < 0)
			return rx_chan_fail(ch, (int)r, "receive failed: %s",
					    strerror((int)-r));
		return rx_chan_fail(ch, -ECONNABORTED,
				    "connection closed in the middle of chunk seq %llu",
				    (unsigned long long)h->seq);
	}
	if (h->flags & VMIG_CHUNK_CRC) {
		crc = crc32c(0, c->data, h->len);
		if (crc != h->crc) {
			free(c);
			return rx_chan_fail(ch, -EBADMSG,
					    "chunk seq %llu CRC mismatch (header 0x%08x, computed 0x%08x)",
					    (unsigned long long)h->seq, h->crc,
					    crc);
		}
	}
	pthread_mutex_lock(&rx->s.lock);
	ret = rx_insert(rx, c);
	if (!ret) {
		struct vmig_chan_stats *cs = &rx->st.chan[ch->idx];

		if (!ch->first_us)
			ch->first_us = now_us();
		cs->bytes += h->len;
		cs->chunks++;
		cs->busy_us = now_us() - ch->first_us;
		if (h->flags & VMIG_CHUNK_CRC)
			rx->st.crc_seen = true;
		pthread_cond_broadcast(&rx->s.cond);
	}
	pthread_mutex_unlock(&rx->s.lock);
	if (ret) {
		free(c);
		return rx_chan_fail(ch, ret,
				    "chunk seq %llu is out of range or duplicated",
				    (unsigned long long)h->seq);
	}
	return 0;
}

static void *rx_chan_main(void *arg)
{
	struct rx_chan *ch = arg;
	struct rx *rx = ch->rx;
	uint8_t buf[VMIG_CHUNK_HDR_SIZE];
	struct vmig_chunk_hdr h;
	ssize_t r;

	for (;;) {
		r = recv_full(rx->s.data_fd[ch->idx], buf, sizeof(buf));
		if (r == 0 && ch->last)
			break;
		if (r < 0) {
			rx_chan_fail(ch, (int)r, "receive failed: %s",
				     strerror((int)-r));
			break;
		}
		if (r < (ssize_t)sizeof(buf)) {
			rx_chan_fail(ch, -ECONNABORTED,
				     "connection closed in mid-stream");
			break;
		}
		vmig_chunk_decode(buf, &h);
		if (rx_check_hdr(ch, &h))
			break;
		if (h.flags & VMIG_CHUNK_LAST) {
			if (rx_on_last(ch, &h))
				break;
			continue;
		}
		if (rx_recv_payload(ch, &h))
			break;
	}
	return NULL;
}

static int rx_send_credit(struct rx *rx, uint64_t seq, uint64_t bytes)
{
	uint8_t p[16];

	put_be64(p, seq);
	put_be64(p + 8, bytes);
	return ctrl_send(&rx->s, VMIG_CTRL_CREDIT, p, sizeof(p));
}

static int rx_write_all(struct rx *rx, const struct rx_chunk *c,
			size_t *done)
{
	const uint8_t *p = c->data;
	size_t left = c->h.len;
	ssize_t r;

	for (*done = 0; left; *done = c->h.len - left) {
		r = rx->sink.write(rx->sink.ctx, p, left);
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN) {
			sleep_us(1000);
			continue;
		}
		if (r == 0)
			r = -EIO;
		if (r < 0)
			return (int)r;
		if ((size_t)r > left)
			return -EOVERFLOW;
		p += r;
		left -= r;
	}
	return 0;
}

/* Next in-order chunk, NULL when the stream is complete or poisoned. */
static struct rx_chunk *rx_next(struct rx *rx, bool *finished)
{
	struct rx_chunk *c = NULL;

	*finished = false;
	pthread_mutex_lock(&rx->s.lock);
	for (;;) {
		if (rx->s.poisoned)
			break;
		if (rx->pending && rx->pending->h.seq == rx->next_seq) {
			c = rx->pending;
			rx->pending = c->next;
			break;
		}
		if (rx->have_total && rx->next_seq == rx->total_seq &&
		    rx->last_count == rx->s.n) {
			*finished = true;
			break;
		}
		pthread_cond_wait(&rx->s.cond, &rx->s.lock);
	}
	pthread_mutex_unlock(&rx->s.lock);
	return c;
}

static void rx_finished(struct rx *rx)
{
	bool ok;

	pthread_mutex_lock(&rx->s.lock);
	ok = rx->written == rx->total_bytes && !rx->pending;
	if (ok) {
		rx->complete = true;
		pthread_cond_broadcast(&rx->s.cond);
	}
	pthread_mutex_unlock(&rx->s.lock);
	if (!ok)
		session_fail(&rx->s, false, -EPROTO,
			     "stream ended at byte %llu but the source sent %llu",
			     (unsigned long long)rx->written,
			     (unsigned long long)rx->total_bytes);
}

static void *rx_writer_main(void *arg)
{
	struct rx *rx = arg;
	struct rx_chunk *c;
	bool finished;
	size_t done;
	int ret;

	for (;;) {
		c = rx_next(rx, &finished);
		if (!c) {
			if (finished)
				rx_finished(rx);
			break;
		}
		if (c->h.offset != rx->written) {
			session_fail(&rx->s, false, -EPROTO,
				     "chunk seq %llu claims offset %llu, expected %llu",
				     (unsigned long long)c->h.seq,
				     (unsigned long long)c->h.offset,
				     (unsigned long long)rx->written);
			free(c);
			break;
		}
		ret = rx_write_all(rx, c, &done);
		if (ret) {
			session_fail(&rx->s, false, ret,
				     "writing the resuming stream at byte %llu: %s",
				     (unsigned long long)(rx->written + done),
				     strerror(-ret));
			free(c);
			break;
		}
		pthread_mutex_lock(&rx->s.lock);
		rx->next_seq++;
		rx->written += c->h.len;
		rx->st.buffered -= c->h.len;
		rx->st.written_bytes = rx->written;
		rx->st.written_chunks = rx->next_seq;
		if (c->h.flags & VMIG_CHUNK_STOPCOPY)
			rx->st.stopcopy_bytes += c->h.len;
		pthread_mutex_unlock(&rx->s.lock);
		free(c);
		ret = rx_send_credit(rx, rx->next_seq, rx->written);
		if (ret) {
			/* Often the source aborting: report its reason. */
			session_fail_conn(&rx->s, ret,
					  "sending credit: %s", strerror(-ret));
			break;
		}
	}
	return NULL;
}

static void *rx_ctrl_main(void *arg)
{
	struct rx *rx = arg;
	uint8_t p[VMIG_CTRL_MAX_PAYLOAD];
	char msg[VMIG_CTRL_MAX_PAYLOAD];
	uint16_t type, len;
	bool replied;
	int ret, code;

	for (;;) {
		ret = ctrl_recv(rx->s.ctrl_fd, &type, p, &len);
		pthread_mutex_lock(&rx->s.lock);
		replied = rx->replied;
		pthread_mutex_unlock(&rx->s.lock);
		if (ret && replied)
			break;
		if (ret == 1) {
			session_fail(&rx->s, false, -ECONNRESET,
				     "source closed the control connection");
			break;
		}
		if (ret < 0) {
			session_fail(&rx->s, false, ret,
				     "control connection: %s", strerror(-ret));
			break;
		}
		if (type == VMIG_CTRL_ABORT) {
			error_payload(p, len, &code, msg, sizeof(msg));
			session_fail(&rx->s, true, -ECONNABORTED,
				     "source aborted: %s", msg);
			break;
		}
		session_fail(&rx->s, false, -EPROTO,
			     "unexpected control message type %u", type);
		break;
	}
	return NULL;
}

static int rx_accept_one(int lfd, const struct rx_config *cfg,
			 struct vmig_hs_state *st, int timeout_ms,
			 struct vmig_hello *h, char *err, size_t errlen)
{
	int fd, ret;

	fd = vmig_accept(lfd, timeout_ms, cfg->cancel);
	if (fd < 0) {
		snprintf(err, errlen, "waiting for the source: %s",
			 strerror(-fd));
		return fd;
	}
	ret = vmig_hs_server(fd, st, h, cfg->timeout_ms, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int rx_accept(int lfd, const struct rx_config *cfg, struct vmig_hs_state *st,
	      int *ctrl_fd, int *data_fds, char *err, size_t errlen)
{
	struct vmig_hello h;
	unsigned i, got = 0;
	int fd;

	st->local_max_chunk = cfg->max_chunk;
	st->have_session = false;
	fd = rx_accept_one(lfd, cfg, st, 0, &h, err, errlen);
	if (fd < 0)
		return fd;
	*ctrl_fd = fd;
	for (i = 0; i < st->count; i++)
		data_fds[i] = -1;
	while (got < st->count) {
		fd = rx_accept_one(lfd, cfg, st, cfg->timeout_ms, &h, err,
				   errlen);
		if (fd < 0)
			goto fail;
		data_fds[h.index] = fd;
		got++;
	}
	return 0;
fail:
	close(*ctrl_fd);
	for (i = 0; i < st->count; i++)
		if (data_fds[i] >= 0)
			close(data_fds[i]);
	return fd;
}

struct rx *rx_start(const struct rx_config *cfg,
		    const struct vmig_hs_state *st, int ctrl_fd,
		    const int *data_fds, const struct vmig_sink *sink)
{
	struct rx *rx = calloc(1, sizeof(*rx));
	unsigned i;

	if (!rx)
		return NULL;
	rx->cfg = *cfg;
	rx->hs = *st;
	rx->sink = *sink;
	rx->st.channels = st->count;
	session_init(&rx->s, ctrl_fd, data_fds, st->count, cfg->cancel,
		     VMIG_CTRL_ERROR);
	for (i = 0; i < st->count; i++) {
		rx->chan[i].rx = rx;
		rx->chan[i].idx = i;
		pthread_create(&rx->chan[i].thr, NULL, rx_chan_main,
			       &rx->chan[i]);
	}
	pthread_create(&rx->writer, NULL, rx_writer_main, rx);
	pthread_create(&rx->ctrl_thr, NULL, rx_ctrl_main, rx);
	rx->s.watcher_started =
		!pthread_create(&rx->s.watcher, NULL, watcher_main, &rx->s);
	return rx;
}

int rx_wait(struct rx *rx)
{
	int err = 0;

	pthread_mutex_lock(&rx->s.lock);
	while (!rx->s.poisoned && !rx->complete)
		pthread_cond_wait(&rx->s.cond, &rx->s.lock);
	if (!rx->complete)
		err = rx->s.err;
	pthread_mutex_unlock(&rx->s.lock);
	return err;
}

int rx_complete(struct rx *rx, int status, uint64_t resume_us,
		const char *msg)
{
	uint8_t p[24];
	int ret;

	if (status) {
		session_fail(&rx->s, false, status, "%s", msg ? msg : "failed");
		return status;
	}
	pthread_mutex_lock(&rx->s.lock);
	if (rx->s.poisoned || !rx->complete) {
		ret = rx->s.poisoned ? rx->s.err : -EINVAL;
		pthread_mutex_unlock(&rx->s.lock);
		return ret;
	}
	rx->replied = true;
	pthread_mutex_unlock(&rx->s.lock);
	put_be64(p, resume_us);
	put_be64(p + 8, rx->st.written_bytes);
	put_be64(p + 16, rx->st.written_chunks);
	ret = ctrl_send(&rx->s, VMIG_CTRL_DONE, p, sizeof(p));
	if (!ret)
		shutdown(rx->s.ctrl_fd, SHUT_WR);
	return ret;
}

void rx_abort(struct rx *rx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vfail(&rx->s, false, err, fmt, ap);
	va_end(ap);
}

int rx_error(struct rx *rx, char *buf, size_t len)
{
	return session_error(&rx->s, buf, len);
}

void rx_get_stats(struct rx *rx, struct rx_stats *st)
{
	pthread_mutex_lock(&rx->s.lock);
	*st = rx->st;
	pthread_mutex_unlock(&rx->s.lock);
}

void rx_destroy(struct rx *rx)
{
	struct rx_chunk *c;
	struct timespec ts;
	bool replied;
	unsigned i;

	if (!rx)
		return;
	pthread_mutex_lock(&rx->s.lock);
	replied = rx->replied;
	pthread_mutex_unlock(&rx->s.lock);
	if (!replied)
		session_fail(&rx->s, false, -ECANCELED,
			     "destination ended the session before completion");
	for (i = 0; i < rx->s.n; i++)
		pthread_join(rx->chan[i].thr, NULL);
	pthread_join(rx->writer, NULL);
	/* After DONE, give the source a moment to close its end. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	if (pthread_timedjoin_np(rx->ctrl_thr, NULL, &ts)) {
		shutdown(rx->s.ctrl_fd, SHUT_RDWR);
		pthread_join(rx->ctrl_thr, NULL);
	}
	session_stop_watcher(&rx->s);
	while ((c = rx->pending)) {
		rx->pending = c->next;
		free(c);
	}
	session_close(&rx->s);
	free(rx);
}
