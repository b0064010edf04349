// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util.h"
#include "harness.h"

uint8_t stream_byte(uint64_t seed, uint64_t off)
{
	uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ULL ^ seed;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint8_t)(x >> ((off & 7) * 8));
}

void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = stream_byte(seed, off + i);
}

static uint32_t rng_next(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

ssize_t mem_source_read(void *ctx, void *buf, size_t len)
{
	struct mem_source *s = ctx;
	uint64_t left = s->size - s->pos;

	if (s->fail_at_err && s->pos >= s->fail_at)
		return s->fail_at_err;
	if (s->enomsg_every && s->pos >= s->next_enomsg) {
		s->next_enomsg += s->enomsg_every;
		return -ENOMSG;
	}
	if (!left)
		return s->enomsg_every ? -ENOMSG : 0;
	if (len > left)
		len = left;
	if (s->enomsg_every && len > s->next_enomsg - s->pos)
		len = s->next_enomsg - s->pos;
	if (s->short_reads && len > 1)
		len = 1 + rng_next(&s->rng) % len;
	stream_fill(s->seed, s->pos, buf, len);
	s->pos += len;
	return len;
}

void mem_sink_init(struct mem_sink *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->rng = 42;
}

void mem_sink_free(struct mem_sink *s)
{
	free(s->buf);
	pthread_mutex_destroy(&s->lock);
}

ssize_t mem_sink_write(void *ctx, const void *buf, size_t len)
{
	struct mem_sink *s = ctx;

	if (s->delay_us)
		sleep_us(s->delay_us);
	pthread_mutex_lock(&s->lock);
	if (s->fail_err && s->len >= s->fail_after) {
		pthread_mutex_unlock(&s->lock);
		return s->fail_err;
	}
	if (s->fail_err && len > s->fail_after - s->len)
		len = s->fail_after - s->len;
	if (s->short_writes && len > 1)
		len = 1 + rng_next(&s->rng) % len;
	if (s->len + len > s->cap) {
		uint64_t cap = s->cap ? s->cap * 2 : 65536;

		while (cap < s->len + len)
			cap *= 2;
		s->buf = realloc(s->buf, cap);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	pthread_mutex_unlock(&s->lock);
	return len;
}

int mem_sink_matches(struct mem_sink *s, uint64_t seed, uint64_t size)
{
	uint64_t i;

	if (s->len != size)
		return 0;
	for (i = 0; i < size; i++)
		if (s->buf[i] != stream_byte(seed, i))
			return 0;
	return 1;
}

static void *rx_thread_main(void *arg)
{
	struct rx_thread *r = arg;
	struct vmig_hs_state st = { 0 };
	struct vmig_sink sink = { mem_sink_write, r->sink };
	int ctrl, data[VMIG_MAX_CHANNELS];
	struct rx *rx;

	r->accept_ret = rx_accept(r->lfd, &r->cfg, &st, &ctrl, data, r->err,
				  sizeof(r->err));
	close(r->lfd);
	if (r->accept_ret) {
		r->ret = r->accept_ret;
		return NULL;
	}
	if (r->die_after_accept || r->stall_ms) {
		unsigned i;

		sleep_us(r->stall_ms * 1000ULL);
		close(ctrl);
		for (i = 0; i < st.count; i++)
			close(data[i]);
		return NULL;
	}
	rx = rx_start(&r->cfg, &st, ctrl, data, &sink);
	r->ret = rx_wait(rx);
	if (!r->ret)
		r->ret = rx_loaded(rx, 1234);
	if (!r->ret)
		r->ret = rx_wait_commit(rx);
	if (!r->ret)
		r->ret = rx_started(rx, 0, true);
	if (r->ret)
		rx_error(rx, r->err, sizeof(r->err));
	if (r->ret && r->hold_ms)
		sleep_us(r->hold_ms * 1000ULL);
	rx_get_stats(rx, &r->st);
	rx_destroy(rx);
	r->finished = 1;
	return NULL;
}

int rx_thread_start(struct rx_thread *r)
{
	int port;

	if (!r->cfg.max_chunk)
		r->cfg.max_chunk = VMIG_MAX_CHUNK;
	if (!r->cfg.timeout_ms)
		r->cfg.timeout_ms = 5000;
	r->lfd = vmig_listen(r->host ? r->host : "127.0.0.1", "0", r->err,
			     sizeof(r->err));
	if (r->lfd < 0)
		return r->lfd;
	port = vmig_local_port(r->lfd);
	snprintf(r->port, sizeof(r->port), "%d", port);
	return pthread_create(&r->thr, NULL, rx_thread_main, r) ? -EAGAIN : 0;
}

void rx_thread_join(struct rx_thread *r)
{
	pthread_join(r->thr, NULL);
}

void run_tx(const char *port, struct tx_config *cfg, struct mem_source *src,
	    struct tx_result *res)
{
	run_tx_to("127.0.0.1", port, cfg, src, res);
}

void run_tx_to(const char *host, const char *port, struct tx_config *cfg,
	       struct mem_source *src, struct tx_result *res)
{
	struct vmig_source s = { mem_source_read, src };
	int ctrl, data[VMIG_MAX_CHANNELS], ret;
	uint64_t n;
	struct tx *tx;

	memset(res, 0, sizeof(*res));
	if (!cfg->timeout_ms)
		cfg->timeout_ms = 5000;
	res->ret = tx_connect(host, port, cfg, &ctrl, data, res->err,
			      sizeof(res->err));
	if (res->ret)
		return;
	tx = tx_start(cfg, ctrl, data);
	src->next_enomsg = src->enomsg_every;
	do {
		ret = tx_pump(tx, &s, 0, &n);
	} while (ret == 1 && src->pos < src->size / 2);
	res->precopy_bytes = src->pos;
	if (ret == 1) {
		/* the "device" switches to STOP_COPY: no more ENOMSG */
		src->enomsg_every = 0;
		ret = tx_pump(tx, &s, VMIG_CHUNK_STOPCOPY, &n);
	}
	if (!ret)
		ret = tx_finish(tx, &res->done);
	if (!ret)
		ret = tx_commit(tx);
	if (!ret)
		ret = tx_wait_started(tx, &res->done);
	if (ret)
		tx_error(tx, res->err, sizeof(res->err));
	res->ret = ret;
	tx_get_stats(tx, &res->st);
	tx_destroy(tx);
}
