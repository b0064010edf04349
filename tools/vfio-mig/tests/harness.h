/* SPDX-License-Identifier: GPL-2.0 */
/* Synthetic streams and a loopback session runner for the host tests. */
#ifndef VFIO_MIG_HARNESS_H
#define VFIO_MIG_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../transport.h"

/* Deterministic stream byte at @off for @seed. */
uint8_t stream_byte(uint64_t seed, uint64_t off);
void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len);

struct mem_source {
	uint64_t seed;
	uint64_t size;
	uint64_t pos;
	uint64_t enomsg_every;	/* return -ENOMSG every N bytes (0: never) */
	uint64_t next_enomsg;
	unsigned short_reads;	/* cap reads at a pseudo-random size */
	int fail_at_err;	/* return this error at fail_at */
	uint64_t fail_at;
	uint32_t rng;
};

struct mem_sink {
	pthread_mutex_t lock;
	uint8_t *buf;
	uint64_t len, cap;
	unsigned short_writes;
	unsigned delay_us;	/* per write call */
	int fail_err;		/* fail with this after fail_after bytes */
	uint64_t fail_after;
	uint32_t rng;
};

ssize_t mem_source_read(void *ctx, void *buf, size_t len);
ssize_t mem_sink_write(void *ctx, const void *buf, size_t len);
void mem_sink_init(struct mem_sink *s);
void mem_sink_free(struct mem_sink *s);
/* 1 if the sink holds exactly the stream of @size bytes of @seed */
int mem_sink_matches(struct mem_sink *s, uint64_t seed, uint64_t size);

/* A destination running in its own thread on a loopback listener. */
struct rx_thread {
	pthread_t thr;
	int lfd;
	char port[16];
	struct rx_config cfg;
	struct mem_sink *sink;
	int accept_ret;
	int ret;
	char err[400];
	struct rx_stats st;
	unsigned hold_ms;	/* keep the session open after an error */
	bool die_after_accept;	/* close everything right after handshake */
	unsigned stall_ms;	/* after the handshake, say nothing this long */
	const char *host;	/* listen address (default 127.0.0.1) */
	volatile int finished;	/* the thread is done */
};

int rx_thread_start(struct rx_thread *r);
void rx_thread_join(struct rx_thread *r);

/* Source side: connect, pump @src to its end in rounds, finish. */
struct tx_result {
	int ret;
	char err[400];
	struct tx_stats st;
	struct vmig_done done;
	uint64_t precopy_bytes;
};

void run_tx(const char *port, struct tx_config *cfg, struct mem_source *src,
	    struct tx_result *res);
void run_tx_to(const char *host, const char *port, struct tx_config *cfg,
	       struct mem_source *src, struct tx_result *res);

#endif
