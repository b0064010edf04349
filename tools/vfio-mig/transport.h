/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multi-channel transport of a VFIO saving stream.
 *
 * One control connection plus N (1..16) data connections per session.  The
 * source reads the stream in chunks (one reader), queues them and whichever
 * data channel is free sends the next one.  The destination receives on
 * every channel, reorders by sequence number and one writer thread writes
 * the chunks in order.  The destination acknowledges written bytes on the
 * control connection; the source never has more than the window of bytes
 * beyond that acknowledgement in flight.
 *
 * The transport never touches a device: the source side reads through a
 * struct vmig_source callback and the destination writes through a struct
 * vmig_sink callback.  See Documentation/vfio-mig.rst for the wire format.
 */
#ifndef VFIO_MIG_TRANSPORT_H
#define VFIO_MIG_TRANSPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VMIG_MAX_CHANNELS	16
#define VMIG_DEFAULT_CHUNK	(1u << 20)
#define VMIG_MAX_CHUNK		(16u << 20)
#define VMIG_MIN_CHUNK		4096u
#define VMIG_DEFAULT_WINDOW	(8ull << 20)

#define VMIG_PROTO_VERSION	2
#define VMIG_HELLO_MAGIC	0x564d4948u	/* "VMIH" */
#define VMIG_ACK_MAGIC		0x564d4941u	/* "VMIA" */
#define VMIG_CHUNK_MAGIC	0x564d4943u	/* "VMIC" */
#define VMIG_CTRL_MAGIC		0x564d494du	/* "VMIM" */

#define VMIG_HELLO_SIZE		32
#define VMIG_ACK_SIZE		32
#define VMIG_CHUNK_HDR_SIZE	32
#define VMIG_CTRL_HDR_SIZE	8
#define VMIG_CTRL_MAX_PAYLOAD	256

/* struct vmig_hello.kind */
#define VMIG_CONN_DATA		0
#define VMIG_CONN_CONTROL	1

/* struct vmig_chunk_hdr.flags */
#define VMIG_CHUNK_LAST		(1u << 0)	/* end of stream on this channel */
#define VMIG_CHUNK_CRC		(1u << 1)	/* checksum field is valid */
#define VMIG_CHUNK_STOPCOPY	(1u << 2)	/* read in STOP_COPY */
#define VMIG_CHUNK_KNOWN_FLAGS	0x7u

/* control message types */
#define VMIG_CTRL_CREDIT	1	/* dst->src: written through seq/byte */
#define VMIG_CTRL_LOADED	2	/* dst->src: all written, device STOP */
#define VMIG_CTRL_ERROR		3	/* dst->src: destination failed */
#define VMIG_CTRL_ABORT		4	/* src->dst: source failed */
#define VMIG_CTRL_COMMIT	5	/* src->dst: source stopped for good */
#define VMIG_CTRL_STARTED	6	/* dst->src: committed (running or not) */
#define VMIG_CTRL_PING		7	/* either way: still alive */

#define VMIG_DEFAULT_PROGRESS_MS 30000

struct vmig_tls;

struct vmig_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t kind;
	uint64_t session;
	uint16_t index;
	uint16_t count;
	uint32_t max_chunk;
	uint64_t window;
};

/* Which handshake field was refused (struct vmig_ack.field). */
enum vmig_hs_field {
	HS_OK = 0,
	HS_MAGIC,
	HS_VERSION,
	HS_KIND,
	HS_SESSION,
	HS_COUNT,
	HS_COUNT_RANGE,
	HS_INDEX,
	HS_DUP_INDEX,
	HS_CHUNK,
	HS_CHUNK_RANGE,
	HS_WINDOW,
	HS_NR_FIELDS,
};

struct vmig_ack {
	uint32_t magic;
	uint16_t version;
	uint16_t field;		/* enum vmig_hs_field, HS_OK = accepted */
	uint64_t expected;
	uint64_t got;
};

struct vmig_chunk_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;
	uint64_t seq;
	uint64_t offset;
	uint32_t len;
	uint32_t crc;
};

void vmig_hello_encode(const struct vmig_hello *h, uint8_t *buf);
void vmig_hello_decode(const uint8_t *buf, struct vmig_hello *h);
void vmig_ack_encode(const struct vmig_ack *a, uint8_t *buf);
void vmig_ack_decode(const uint8_t *buf, struct vmig_ack *a);
void vmig_chunk_encode(const struct vmig_chunk_hdr *c, uint8_t *buf);
/* The chunk checksum: low 32 bits of XXH3-64 of the payload. */
uint32_t vmig_chunk_sum(const void *data, size_t len);
void vmig_chunk_decode(const uint8_t *buf, struct vmig_chunk_hdr *c);
int vmig_ctrl_send(int fd, uint16_t type, const void *payload, uint16_t len);

/* Destination-side handshake state: filled by the control connection. */
struct vmig_hs_state {
	uint32_t local_max_chunk;	/* destination's limit */
	uint64_t local_window;		/* destination's window (0: any) */
	bool local_per_channel;		/* local_window is per data channel */
	bool have_session;
	uint64_t session;
	uint16_t count;
	uint32_t chunk;
	uint64_t window;
	uint32_t seen;			/* bitmap of connected data channels */
};

/* Check one hello against @st; fills @ack; on success records it in @st. */
int vmig_hs_check(struct vmig_hs_state *st, const struct vmig_hello *h,
		  struct vmig_ack *ack);
const char *vmig_hs_field_name(unsigned field);
/* "session id mismatch (expected 0x.., got 0x..)" */
void vmig_hs_describe(const struct vmig_ack *ack, char *buf, size_t len);

/*
 * Source: send @h on @fd and wait for the ack (timeout_ms, 0 = none).
 * @granted (optional) gets the window the destination grants.
 */
int vmig_hs_client(int fd, const struct vmig_hello *h, int timeout_ms,
		   uint64_t *granted, char *err, size_t errlen);
/* Destination: receive a hello on @fd, check it, answer.  0 or -errno. */
int vmig_hs_server(int fd, struct vmig_hs_state *st, struct vmig_hello *h,
		   int timeout_ms, char *err, size_t errlen);

/* The stream's producer (source) and consumer (destination). */
struct vmig_source {
	/* bytes read, 0 at end of stream, -ENOMSG no data for now, -errno */
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
};

struct vmig_sink {
	/* bytes written (may be short), -errno on failure */
	ssize_t (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
};

struct vmig_chan_stats {
	uint64_t bytes;
	uint64_t chunks;
	uint64_t busy_us;	/* first to last byte on this channel */
};

struct vmig_done {
	uint64_t load_us;	/* destination: all written -> device STOP */
	uint64_t bytes;
	uint64_t chunks;
	/* from STARTED, after COMMIT */
	uint64_t resume_us;	/* destination: COMMIT -> device RUNNING */
	bool running;		/* false: left in STOP (--no-start) */
};

/* ------------------------------------------------------------ source */

struct tx_config {
	unsigned channels;
	uint32_t chunk;			/* max chunk payload */
	uint64_t window;		/* credit window in bytes */
	bool crc;
	uint64_t session;		/* 0 = random */
	int timeout_ms;			/* connect and handshake */
	int progress_ms;		/* peer silent or stuck: fail (0: never) */
	const struct vmig_tls *tls;	/* NULL: clear text */
	const volatile int *cancel;	/* optional extra cancel flag */
	/* test hook: delay before each send on a channel (skew) */
	unsigned chan_delay_us[VMIG_MAX_CHANNELS];
	/* bench hook: pace a data channel's socket, bytes/s (0: off) */
	uint64_t chan_rate[VMIG_MAX_CHANNELS];
	/* test hook: a lossy link drops control messages of this type */
	uint16_t drop_ctrl;
	bool drop_close;		/* ... and then closes the connection */
	/* test hook: a SIGINT lands just as this control message arrives */
	uint16_t cancel_on_ctrl;
};

struct tx_stats {
	unsigned channels;
	struct vmig_chan_stats chan[VMIG_MAX_CHANNELS];
	uint64_t bytes_read;		/* read from the source */
	uint64_t chunks;
	uint64_t acked_bytes;		/* destination has written */
	uint64_t max_inflight;		/* read - acked, maximum seen */
};

struct tx;

/* Connect control + data connections and handshake them.  0 or -errno. */
int tx_connect(const char *host, const char *port, struct tx_config *cfg,
	       int *ctrl_fd, int *data_fds, char *err, size_t errlen);
/* Start the session's threads; takes ownership of the fds. */
struct tx *tx_start(const struct tx_config *cfg, int ctrl_fd,
		    const int *data_fds);
/*
 * Read @src until it has nothing more for now (-ENOMSG: returns 1) or at
 * end of stream (returns 0), queueing chunks tagged with @phase_flags.
 * Blocks on the credit window.  Returns -errno on failure (the session is
 * then poisoned).  @nbytes gets the bytes read by this call.
 */
int tx_pump(struct tx *tx, const struct vmig_source *src,
	    uint16_t phase_flags, uint64_t *nbytes);
/* tx_pump returns 1 ("for now") once CLOCK_MONOTONIC passes @us (0: off). */
void tx_set_deadline(struct tx *tx, uint64_t us);
/* End of stream: flush, send LAST on every channel, wait for LOADED. */
int tx_finish(struct tx *tx, struct vmig_done *done);
/*
 * The source device is stopped for good: send COMMIT.  Returns -errno if
 * the session failed before (nothing sent: the source may run again), 0
 * once committed (even if the send failed: the source must stay stopped).
 */
int tx_commit(struct tx *tx);
/* After COMMIT: wait for STARTED (fills @done).  0 or -errno. */
int tx_wait_started(struct tx *tx, struct vmig_done *done);
void tx_abort(struct tx *tx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int tx_error(struct tx *tx, char *buf, size_t len);
void tx_get_stats(struct tx *tx, struct tx_stats *st);
/* Poison (if unfinished), join every thread, close, free. */
void tx_destroy(struct tx *tx);

/* ------------------------------------------------------- destination */

struct rx_config {
	uint32_t max_chunk;		/* local limit on chunk size */
	int timeout_ms;			/* handshake of the data channels */
	int progress_ms;		/* as in tx_config */
	const struct vmig_tls *tls;	/* NULL: clear text */
	uint64_t window;		/* most bytes held (0: the source's) */
	bool window_per_channel;	/* window times the source's channels */
	const volatile int *cancel;
	uint16_t drop_ctrl;		/* test hook, as in tx_config */
	bool drop_close;
};

struct rx_stats {
	unsigned channels;
	struct vmig_chan_stats chan[VMIG_MAX_CHANNELS];
	uint64_t written_bytes;
	uint64_t written_chunks;
	uint64_t stopcopy_bytes;
	uint64_t buffered;		/* received or receiving, not written */
	uint64_t max_buffered;
	uint64_t max_alloc;		/* largest payload admitted */
	uint64_t out_of_order;		/* chunks that arrived ahead */
	bool crc_seen;
};

struct rx;

/*
 * Accept the control connection and its data connections on the listening
 * socket @lfd.  Fills @st and the fds.  0 or -errno (message in @err).
 */
int rx_accept(int lfd, const struct rx_config *cfg, struct vmig_hs_state *st,
	      int *ctrl_fd, int *data_fds, char *err, size_t errlen);
struct rx *rx_start(const struct rx_config *cfg,
		    const struct vmig_hs_state *st, int ctrl_fd,
		    const int *data_fds, const struct vmig_sink *sink);
/* Wait until the whole stream is written (0) or the session failed. */
int rx_wait(struct rx *rx);
/* The device is loaded and stopped: send LOADED.  0 or -errno. */
int rx_loaded(struct rx *rx, uint64_t load_us);
/*
 * Wait for the source's verdict: 0 on COMMIT, -ECONNABORTED if the source
 * aborted (it runs again), any other -errno if unknown (no COMMIT in time,
 * connection lost, cancelled).
 */
int rx_wait_commit(struct rx *rx);
/* After COMMIT: tell the source the outcome. */
int rx_started(struct rx *rx, uint64_t resume_us, bool running);
void rx_abort(struct rx *rx, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int rx_error(struct rx *rx, char *buf, size_t len);
void rx_get_stats(struct rx *rx, struct rx_stats *st);
void rx_destroy(struct rx *rx);

/* Socket helpers. */
int vmig_listen(const char *host, const char *port, char *err, size_t errlen);
int vmig_dial(const char *host, const char *port, int timeout_ms,
	      char *err, size_t errlen);
int vmig_local_port(int fd);
void vmig_share_channel(int fd);
int vmig_accept(int lfd, int timeout_ms, const volatile int *cancel);
int vmig_split_hostport(const char *arg, char *host, size_t hlen,
			char *port, size_t plen, bool host_required);

#endif
