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

#define VMIG_PROTO_VERSION	1
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
#define VMIG_CHUNK_CRC		(1u << 1)	/* crc32c field is valid */
#define VMIG_CHUNK_STOPCOPY	(1u << 2)	/* read in STOP_COPY */
#define VMIG_CHUNK_KNOWN_FLAGS	0x7u

/* control message types */
#define VMIG_CTRL_CREDIT	1	/* dst->src: written through seq/byte */
#define VMIG_CTRL_DONE		2	/* dst->src: all written, device RUNNING */
#define VMIG_CTRL_ERROR		3	/* dst->src: destination failed */
#define VMIG_CTRL_ABORT		4	/* src->dst: source failed */

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
void vmig_chunk_decode(const uint8_t *buf, struct vmig_chunk_hdr *c);
int vmig_ctrl_send(int fd, uint16_t type, const void *payload, uint16_t len);

/* Destination-side handshake state: filled by the control connection. */
struct vmig_hs_state {
	uint32_t local_max_chunk;	/* destination's limit */
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

/* Source: send @h on @fd and wait for the ack (timeout_ms, 0 = none). */
int vmig_hs_client(int fd, const struct vmig_hello *h, int timeout_ms,
		   char *err, size_t errlen);
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
	uint64_t resume_us;	/* destination: all written -> device RUNNING */
	uint64_t bytes;
	uint64_t chunks;
};

/* ------------------------------------------------------------ source */

struct tx_config {
	unsigned channels;
	uint32_t chunk;			/* max chunk payload */
	uint64_t window;		/* credit window in bytes */
	bool crc;
	uint64_t session;		/* 0 = random */
	int timeout_ms;			/* connect and handshake */
	const volatile int *cancel;	/* optional extra cancel flag */
	/* test hook: delay before each send on a channel (skew) */
	unsigned chan_delay_us[VMIG_MAX_CHANNELS];
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
/* End of stream: flush, send LAST on every channel, wait for DONE. */
int tx_finish(struct tx *tx, struct vmig_done *done);
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
	const volatile int *cancel;
};

struct rx_stats {
	unsigned channels;
	struct vmig_chan_stats chan[VMIG_MAX_CHANNELS];
	uint64_t written_bytes;
	uint64_t written_chunks;
	uint64_t stopcopy_bytes;
	uint64_t buffered;		/* received or receiving, not written */
	uint64_t max_buffered;
	uint64_t max_alloc;		/* largest payload buffer allocated */
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
/* Tell the source: DONE (status 0) or ERROR with @msg. */
int rx_complete(struct rx *rx, int status, uint64_t resume_us,
		const char *msg);
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
int vmig_accept(int lfd, int timeout_ms, const volatile int *cancel);
int vmig_split_hostport(const char *arg, char *host, size_t hlen,
			char *port, size_t plen, bool host_required);

#endif
