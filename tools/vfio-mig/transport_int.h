/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the vfio-mig transport: the session shared by both ends and the
 * source (struct tx) and destination (struct rx) state, for the files that
 * implement them:
 *
 *   session.c  poison flag, cancellation, the watcher thread (pings and
 *              the progress deadline)
 *   framing.c  chunk and control messages on a connection, the checksum
 *   send.c     source: reader, send queue, channel threads, commit
 *   receive.c  destination: channel threads, reorder list, in-order
 *              writer, commit
 *   flow.c     the credit window: the source's wait for credit, the
 *              destination's credit messages and its bound on what it holds
 */
#ifndef VFIO_MIG_TRANSPORT_INT_H
#define VFIO_MIG_TRANSPORT_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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
	uint16_t drop_ctrl;		/* test hook: lossy link */
	bool drop_close;
	/* liveness: the peer must send something every progress_ms */
	const char *peer;		/* "source" or "destination" */
	int progress_ms;		/* 0: no deadline */
	uint64_t last_rx_us;		/* last bytes from the peer */
	uint64_t last_ping_us;		/* last PING we sent */
	bool quiet;			/* session over: no pings, no deadline */
	/* the thread in a source read, kicked out of it on failure */
	pthread_t reader;
	bool reading;
	int test_cancel;		/* test hook: as if signalled */
};

static inline void session_touch(struct session *s)
{
	__atomic_store_n(&s->last_rx_us, now_us(), __ATOMIC_RELAXED);
}

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
	double rate;			/* bytes/s a send took, smoothed (0: none yet) */
	uint64_t defer_us;		/* standing aside since (0: not) */
};

struct tx {
	struct session s;
	struct tx_config cfg;
	struct tx_chan chan[VMIG_MAX_CHANNELS];
	pthread_t ctrl_thr;
	struct tx_chunk *qhead, *qtail;
	uint64_t qbytes;		/* payload queued, not taken by a channel */
	bool closed;			/* no more chunks will be queued */
	bool done;			/* LOADED received */
	bool committed;			/* COMMIT sent (or tried) */
	bool started;			/* STARTED received */
	struct vmig_done dinfo;
	uint64_t seq, off;		/* next chunk to be read */
	uint64_t acked_seq, acked;	/* written by the destination */
	uint64_t acked_us;		/* when acked last advanced */
	uint64_t deadline_us;		/* tx_pump stops here (0: never) */
	struct tx_stats st;
};

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
	bool complete;
	bool loaded;			/* LOADED sent */
	bool committed;			/* COMMIT received */
	bool aborted;			/* ABORT received */
	bool replied;			/* STARTED sent: the session is over */
	uint64_t limit;			/* most payload bytes held at once */
	struct rx_stats st;
};

/* session.c */
void kick_setup(void);
void deadline_in(struct timespec *ts, uint64_t ms);
void session_init(struct session *s, int ctrl_fd, const int *data_fds,
			 unsigned n, const volatile int *cancel,
			 uint16_t fail_type);
void session_shutdown(struct session *s);
int ctrl_send(struct session *s, uint16_t type, const void *p,
		     uint16_t len);
void send_error_msg(struct session *s, uint16_t type, int err,
			   const char *msg);
void session_vfail(struct session *s, bool remote, int err,
			  const char *fmt, va_list ap);
void session_fail(struct session *s, bool remote, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void session_fail_conn(struct session *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool session_cancelled(struct session *s);
void *watcher_main(void *arg);
int session_error(struct session *s, char *buf, size_t len);
void session_stop_watcher(struct session *s);
void session_close(struct session *s);
int ctrl_recv(int fd, uint16_t *type, uint8_t *payload, uint16_t *len);
void error_payload(const uint8_t *p, uint16_t len, int *code,
			  char *msg, size_t msglen);
int tx_send_chunk(int fd, const struct vmig_chunk_hdr *h,
			 const void *data);
int tx_on_credit(struct tx *tx, const uint8_t *p, uint16_t len);
bool tx_wait_ack(struct tx *tx, const char *what);
uint64_t tx_wait_credit(struct tx *tx);
int rx_chan_fail(struct rx_chan *ch, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int rx_send_credit(struct rx *rx, uint64_t seq, uint64_t bytes);
int rx_window_admit(struct rx_chan *ch, const struct vmig_chunk_hdr *h);

#endif
