// SPDX-License-Identifier: GPL-2.0
/*
 * Destination side of a session: channel threads receive chunks into the
 * reorder list, one writer writes them in order, the control thread takes
 * COMMIT and ABORT; LOADED and STARTED go back.
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

int rx_chan_fail(struct rx_chan *ch, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

int rx_chan_fail(struct rx_chan *ch, int err, const char *fmt, ...)
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

static int rx_recv_payload(struct rx_chan *ch, const struct vmig_chunk_hdr *h)
{
	struct rx *rx = ch->rx;
	struct rx_chunk *c;
	uint32_t crc;
	ssize_t r;
	int ret;

	ret = rx_window_admit(ch, h);
	if (ret)
		return ret;
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
		crc = vmig_chunk_sum(c->data, h->len);
		if (crc != h->crc) {
			free(c);
			return rx_chan_fail(ch, -EBADMSG,
					    "chunk seq %llu checksum mismatch (header 0x%08x, computed 0x%08x)",
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
		if (r > 0)
			session_touch(&rx->s);
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
		if (rx->last_count == rx->s.n) {
			/* every channel ended: what is missing never comes */
			pthread_mutex_unlock(&rx->s.lock);
			session_fail(&rx->s, false, -EPROTO,
				     "every channel ended but chunk seq %llu never arrived (end of stream at seq %llu)",
				     (unsigned long long)rx->next_seq,
				     (unsigned long long)rx->total_seq);
			return NULL;
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
		if (ret >= 0)
			session_touch(&rx->s);
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
		if (type == VMIG_CTRL_PING && !len)
			continue;
		if (type == VMIG_CTRL_COMMIT && !len) {
			pthread_mutex_lock(&rx->s.lock);
			ret = rx->loaded && !rx->committed && !rx->s.poisoned;
			if (ret) {
				rx->committed = true;
				pthread_cond_broadcast(&rx->s.cond);
			}
			pthread_mutex_unlock(&rx->s.lock);
			if (ret)
				continue;
			session_fail(&rx->s, false, -EPROTO,
				     "COMMIT before the stream was loaded");
			break;
		}
		if (type == VMIG_CTRL_ABORT) {
			error_payload(p, len, &code, msg, sizeof(msg));
			pthread_mutex_lock(&rx->s.lock);
			rx->aborted = !rx->committed;
			pthread_mutex_unlock(&rx->s.lock);
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
	if (cfg->tls) {
		int plain = vmig_tls_wrap(cfg->tls, fd, true, cfg->timeout_ms,
					  err, errlen);

		if (plain < 0) {
			close(fd);
			return plain;
		}
		fd = plain;
	}
	ret = vmig_hs_server(fd, st, h, cfg->timeout_ms, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * Accept the next connection of the session, passing over strangers: a
 * connection that fails TLS (no key) or closes before its HELLO is dropped
 * with a warning and the wait goes on.
 */
static int rx_accept_next(int lfd, const struct rx_config *cfg,
			  struct vmig_hs_state *st, int timeout_ms,
			  struct vmig_hello *h, char *err, size_t errlen)
{
	int fd;

	for (;;) {
		fd = rx_accept_one(lfd, cfg, st, timeout_ms, h, err, errlen);
		if (fd != -EACCES && fd != -ECONNABORTED)
			return fd;
		fprintf(stderr, "vfio-mig: destination: dropped a connection: %s\n",
			err);
	}
}

int rx_accept(int lfd, const struct rx_config *cfg, struct vmig_hs_state *st,
	      int *ctrl_fd, int *data_fds, char *err, size_t errlen)
{
	struct vmig_hello h;
	unsigned i, got = 0;
	int fd;

	st->local_max_chunk = cfg->max_chunk;
	st->local_window = cfg->window;
	st->local_per_channel = cfg->window_per_channel;
	st->have_session = false;
	fd = rx_accept_next(lfd, cfg, st, 0, &h, err, errlen);
	if (fd < 0)
		return fd;
	*ctrl_fd = fd;
	for (i = 0; i < st->count; i++)
		data_fds[i] = -1;
	while (got < st->count) {
		fd = rx_accept_next(lfd, cfg, st, cfg->timeout_ms, &h, err,
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
	rx->limit = (st->window > st->chunk ? st->window : st->chunk) +
		    st->chunk;
	session_init(&rx->s, ctrl_fd, data_fds, st->count, cfg->cancel,
		     VMIG_CTRL_ERROR);
	rx->s.peer = "source";
	rx->s.progress_ms = cfg->progress_ms;
	rx->s.drop_ctrl = cfg->drop_ctrl;
	rx->s.drop_close = cfg->drop_close;
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

int rx_loaded(struct rx *rx, uint64_t load_us)
{
	uint8_t p[24];
	int ret;

	pthread_mutex_lock(&rx->s.lock);
	if (rx->s.poisoned || !rx->complete || rx->loaded) {
		ret = rx->s.poisoned ? rx->s.err : -EINVAL;
		pthread_mutex_unlock(&rx->s.lock);
		return ret;
	}
	rx->loaded = true;
	pthread_mutex_unlock(&rx->s.lock);
	put_be64(p, load_us);
	put_be64(p + 8, rx->st.written_bytes);
	put_be64(p + 16, rx->st.written_chunks);
	ret = ctrl_send(&rx->s, VMIG_CTRL_LOADED, p, sizeof(p));
	if (ret)
		session_fail_conn(&rx->s, ret, "sending LOADED: %s",
				  strerror(-ret));
	return ret;
}

int rx_wait_commit(struct rx *rx)
{
	uint64_t limit = rx->cfg.progress_ms ? rx->cfg.progress_ms :
					       VMIG_DEFAULT_PROGRESS_MS;
	uint64_t t0 = now_us();
	struct timespec ts;
	int err = 0;

	pthread_mutex_lock(&rx->s.lock);
	while (!rx->s.poisoned && !rx->committed) {
		if (now_us() - t0 > limit * 1000) {
			pthread_mutex_unlock(&rx->s.lock);
			session_fail(&rx->s, false, -ETIMEDOUT,
				     "no COMMIT from the source within %llu ms",
				     (unsigned long long)limit);
			pthread_mutex_lock(&rx->s.lock);
			break;
		}
		deadline_in(&ts, 50);
		pthread_cond_timedwait(&rx->s.cond, &rx->s.lock, &ts);
	}
	if (!rx->committed)
		err = rx->aborted ? -ECONNABORTED :
		      rx->s.err ? rx->s.err : -EIO;
	pthread_mutex_unlock(&rx->s.lock);
	return err;
}

int rx_started(struct rx *rx, uint64_t resume_us, bool running)
{
	uint8_t p[16];
	int ret;

	pthread_mutex_lock(&rx->s.lock);
	if (!rx->committed || rx->replied) {
		pthread_mutex_unlock(&rx->s.lock);
		return -EINVAL;
	}
	rx->replied = true;
	rx->s.quiet = true;
	rx->s.fail_type = 0;
	pthread_mutex_unlock(&rx->s.lock);
	put_be64(p, resume_us);
	put_be64(p + 8, running ? 1 : 0);
	ret = ctrl_send(&rx->s, VMIG_CTRL_STARTED, p, sizeof(p));
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
