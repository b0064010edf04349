// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../util.h"
#include "harness.h"
#include "tap.h"

/* ---------------------------------------------------------- handshake */

static struct vmig_hello good_hello(uint16_t kind, uint16_t index)
{
	struct vmig_hello h = {
		.magic = VMIG_HELLO_MAGIC,
		.version = VMIG_PROTO_VERSION,
		.kind = kind,
		.session = 0x1122334455667788ULL,
		.index = index,
		.count = 4,
		.max_chunk = 1u << 20,
		.window = 8u << 20,
	};
	return h;
}

/* Run one hello through vmig_hs_server over a socketpair. */
static int hs_try(struct vmig_hs_state *st, const struct vmig_hello *h,
		  struct vmig_ack *ack, char *err, size_t errlen)
{
	uint8_t buf[VMIG_HELLO_SIZE];
	struct vmig_hello got;
	int sv[2], ret;

	err[0] = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -errno;
	vmig_hello_encode(h, buf);
	send_full(sv[0], buf, sizeof(buf));
	ret = vmig_hs_server(sv[1], st, &got, 1000, err, errlen);
	memset(ack, 0xff, sizeof(*ack));
	if (recv_full(sv[0], buf, VMIG_ACK_SIZE) == VMIG_ACK_SIZE)
		vmig_ack_decode(buf, ack);
	close(sv[0]);
	close(sv[1]);
	return ret;
}

static void session_state(struct vmig_hs_state *st)
{
	struct vmig_hello h = good_hello(VMIG_CONN_CONTROL, 0);
	struct vmig_ack a;
	char err[300];

	memset(st, 0, sizeof(*st));
	st->local_max_chunk = VMIG_MAX_CHUNK;
	hs_try(st, &h, &a, err, sizeof(err));
}

static void expect_refusal(const char *name, struct vmig_hello h,
			   unsigned field, const char *text)
{
	struct vmig_hs_state st;
	struct vmig_ack a;
	char err[300];
	int ret;

	session_state(&st);
	ret = hs_try(&st, &h, &a, err, sizeof(err));
	ok(ret == -EPROTO && a.field == field && strstr(err, text),
	   "handshake: %s refused (\"%s\")", name, err);
}

void handshake_hs_accept(void)
{
	struct vmig_hs_state st;
	struct vmig_hello h = good_hello(VMIG_CONN_DATA, 3);
	struct vmig_ack a;
	char err[300];
	int ret;

	session_state(&st);
	ok(st.have_session && st.count == 4 && st.chunk == 1u << 20 &&
	   st.session == 0x1122334455667788ULL,
	   "handshake: control connection accepted and session recorded");
	ret = hs_try(&st, &h, &a, err, sizeof(err));
	ok(ret == 0 && a.field == HS_OK && a.magic == VMIG_ACK_MAGIC &&
	   st.seen == 1u << 3, "handshake: data connection 3 accepted");
}

void handshake_hs_mismatches(void)
{
	struct vmig_hello h;
	struct vmig_hs_state st = { .local_max_chunk = 65536 };
	struct vmig_ack a;
	char err[300];
	int ret;

	h = good_hello(VMIG_CONN_DATA, 0);
	h.magic = 0xdeadbeef;
	expect_refusal("magic", h, HS_MAGIC,
		       "magic mismatch (expected 0x564d4948, got 0xdeadbeef)");
	h = good_hello(VMIG_CONN_DATA, 0);
	h.version = 1;
	expect_refusal("version", h, HS_VERSION,
		       "protocol version mismatch (expected 2, got 1)");
	h = good_hello(VMIG_CONN_DATA, 0);
	h.session = 0xabcdef;
	expect_refusal("session", h, HS_SESSION,
		       "session id mismatch (expected 0x1122334455667788, got 0x0000000000abcdef)");
	h = good_hello(VMIG_CONN_DATA, 0);
	h.count = 3;
	expect_refusal("channel count", h, HS_COUNT,
		       "channel count mismatch (expected 4, got 3)");
	h = good_hello(VMIG_CONN_DATA, 4);
	expect_refusal("channel index", h, HS_INDEX,
		       "channel index out of range (expected < 4, got 4)");
	h = good_hello(VMIG_CONN_DATA, 0);
	h.max_chunk = 65536;
	expect_refusal("chunk size", h, HS_CHUNK,
		       "max chunk size mismatch (expected 1048576, got 65536)");
	h = good_hello(VMIG_CONN_CONTROL, 0);
	expect_refusal("second control connection", h, HS_KIND,
		       "connection kind mismatch (expected data, got control)");

	h = good_hello(VMIG_CONN_CONTROL, 0);
	ret = hs_try(&st, &h, &a, err, sizeof(err));
	ok(ret == -EPROTO && a.field == HS_CHUNK_RANGE &&
	   strstr(err, "max chunk size out of range (expected 4096..65536, got 1048576)"),
	   "handshake: chunk size above the destination's limit refused (\"%s\")",
	   err);
	h = good_hello(VMIG_CONN_CONTROL, 0);
	h.count = 17;
	st.local_max_chunk = VMIG_MAX_CHUNK;
	ret = hs_try(&st, &h, &a, err, sizeof(err));
	ok(ret == -EPROTO && a.field == HS_COUNT_RANGE &&
	   strstr(err, "expected 1..16, got 17"),
	   "handshake: 17 channels refused (\"%s\")", err);
	h = good_hello(VMIG_CONN_DATA, 0);
	ret = hs_try(&st, &h, &a, err, sizeof(err));
	ok(ret == -EPROTO && a.field == HS_KIND,
	   "handshake: data connection before control refused");
}

/*
 * The control hello's bounds, each at its edge: the chunk size from
 * VMIG_MIN_CHUNK up to the destination's limit and not one byte past
 * either end; a credit window of exactly one chunk, and not one byte less.
 */
static int hs_control(uint32_t local_max, uint32_t chunk, uint64_t window,
		      struct vmig_hs_state *st, struct vmig_ack *a, char *err)
{
	struct vmig_hello h = good_hello(VMIG_CONN_CONTROL, 0);

	memset(st, 0, sizeof(*st));
	st->local_max_chunk = local_max;
	h.max_chunk = chunk;
	h.window = window;
	return hs_try(st, &h, a, err, 300);
}

void handshake_hs_bounds(void)
{
	struct vmig_hs_state st;
	struct vmig_ack a;
	char err[300];
	int ret;

	ret = hs_control(65536, 65536, 65536, &st, &a, err);
	ok(ret == 0 && a.field == HS_OK && st.chunk == 65536 &&
	   st.window == 65536 && a.expected == 65536,
	   "handshake: chunk size at the destination's limit, window of one chunk accepted (%d, \"%s\")",
	   ret, err);
	ret = hs_control(65536, 65537, 1 << 20, &st, &a, err);
	ok(ret == -EPROTO && a.field == HS_CHUNK_RANGE && a.got == 65537 &&
	   strstr(err, "max chunk size out of range (expected 4096..65536, got 65537)") &&
	   !st.have_session,
	   "handshake: chunk size one byte above the limit refused (\"%s\")", err);
	ret = hs_control(65536, VMIG_MIN_CHUNK, VMIG_MIN_CHUNK, &st, &a, err);
	ok(ret == 0 && a.field == HS_OK && st.chunk == VMIG_MIN_CHUNK,
	   "handshake: the minimum chunk size accepted (%d, \"%s\")", ret, err);
	ret = hs_control(65536, VMIG_MIN_CHUNK - 1, 65536, &st, &a, err);
	ok(ret == -EPROTO && a.field == HS_CHUNK_RANGE &&
	   strstr(err, "got 4095") && !st.have_session,
	   "handshake: chunk size one byte below the minimum refused (\"%s\")", err);
	ret = hs_control(65536, 65536, 65535, &st, &a, err);
	ok(ret == -EPROTO && a.field == HS_WINDOW && a.expected == 65536 &&
	   a.got == 65535 &&
	   strstr(err, "credit window too small (expected >= 65536, got 65535)") &&
	   !st.have_session,
	   "handshake: window one byte smaller than a chunk refused (\"%s\")", err);
}

void handshake_hs_duplicate(void)
{
	struct vmig_hs_state st;
	struct vmig_hello h = good_hello(VMIG_CONN_DATA, 2);
	struct vmig_ack a;
	char err[300];
	int r1, r2;

	session_state(&st);
	r1 = hs_try(&st, &h, &a, err, sizeof(err));
	r2 = hs_try(&st, &h, &a, err, sizeof(err));
	ok(r1 == 0 && r2 == -EPROTO && a.field == HS_DUP_INDEX &&
	   strstr(err, "duplicate"),
	   "handshake: duplicate channel index refused (\"%s\")", err);
}

void handshake_hs_tcp_refusal(void)
{
	struct rx_thread r = { .cfg.max_chunk = 65536 };
	struct mem_source src = { .seed = 1, .size = 1000 };
	struct tx_config cfg = { .channels = 2, .chunk = 1u << 20,
				 .window = 8u << 20 };
	struct tx_result res;

	if (!ok(rx_thread_start(&r) == 0, "loopback listener for refusal"))
		return;
	run_tx(r.port, &cfg, &src, &res);
	rx_thread_join(&r);
	ok(res.ret == -EPROTO && strstr(res.err, "destination refused control connection 0: max chunk size out of range") &&
	   r.accept_ret == -EPROTO && strstr(r.err, "max chunk size"),
	   "handshake over TCP: source reports the refused field (\"%s\")",
	   res.err);
}


/* ---------------------------------------------------------- transfers */

struct xfer {
	unsigned channels;
	uint32_t chunk;
	uint64_t window;
	bool crc;
	uint64_t size;
	uint64_t enomsg_every;
	unsigned short_io;
	unsigned sink_delay_us;
	unsigned delay_ch0_us;
	uint64_t dst_window;		/* load --window */
	/* results */
	struct rx_thread r;
	struct tx_result t;
	struct mem_sink sink;
	bool exact;
};

static void xfer_run(struct xfer *x)
{
	struct mem_source src = {
		.seed = x->size ^ 0x5eed, .size = x->size,
		.enomsg_every = x->enomsg_every, .short_reads = x->short_io,
		.rng = 7,
	};
	struct tx_config cfg = {
		.channels = x->channels, .chunk = x->chunk,
		.window = x->window, .crc = x->crc,
	};

	mem_sink_init(&x->sink);
	x->sink.short_writes = x->short_io;
	x->sink.delay_us = x->sink_delay_us;
	cfg.chan_delay_us[0] = x->delay_ch0_us;
	memset(&x->r, 0, sizeof(x->r));
	x->r.sink = &x->sink;
	x->r.cfg.window = x->dst_window;
	if (rx_thread_start(&x->r)) {
		x->t.ret = -EIO;
		return;
	}
	run_tx(x->r.port, &cfg, &src, &x->t);
	rx_thread_join(&x->r);
	x->exact = mem_sink_matches(&x->sink, src.seed, x->size);
	mem_sink_free(&x->sink);
}

void transport_single_channel(void)
{
	struct xfer x = { .channels = 1, .chunk = 65536, .window = 262144,
			  .size = 3 * MIB + 17, .short_io = 1 };

	xfer_run(&x);
	ok(x.t.ret == 0 && x.r.ret == 0 && x.exact &&
	   x.t.done.bytes == x.size && x.t.done.load_us == 1234,
	   "transfer: 1 channel, short reads and writes, byte-exact (%d/%d)",
	   x.t.ret, x.r.ret);
}

void transport_precopy_phases(void)
{
	struct xfer x = { .channels = 4, .chunk = 65536, .window = 1 * MIB,
			  .crc = true, .size = 5 * MIB, .enomsg_every = 300000 };

	xfer_run(&x);
	ok(x.t.ret == 0 && x.r.ret == 0 && x.exact && x.r.st.crc_seen,
	   "transfer: 4 channels, CRC, precopy rounds then stop-copy, byte-exact");
	ok(x.t.precopy_bytes && x.r.st.stopcopy_bytes == x.size - x.t.precopy_bytes &&
	   x.r.st.written_chunks == x.t.st.chunks,
	   "transfer: sequence continuous across phases (%llu stop-copy bytes, %llu chunks)",
	   (unsigned long long)x.r.st.stopcopy_bytes,
	   (unsigned long long)x.r.st.written_chunks);
}

void transport_reorder(void)
{
	struct xfer x = { .channels = 4, .chunk = 16384, .window = 4 * MIB,
			  .size = 2 * MIB, .delay_ch0_us = 3000 };
	uint64_t sum = 0;
	unsigned i;

	xfer_run(&x);
	for (i = 0; i < 4; i++)
		sum += x.r.st.chan[i].bytes;
	ok(x.t.ret == 0 && x.r.ret == 0 && x.exact &&
	   x.r.st.out_of_order > 0 && sum == x.size,
	   "reorder: channel 0 delayed, %llu chunks arrived early, output byte-exact",
	   (unsigned long long)x.r.st.out_of_order);
}

void transport_window(void)
{
	struct xfer x = { .channels = 4, .chunk = 65536, .window = 262144,
			  .size = 4 * MIB, .short_io = 1, .sink_delay_us = 100,
			  .delay_ch0_us = 2000 };
	uint64_t bound = x.window + x.channels * (uint64_t)x.chunk;

	xfer_run(&x);
	ok(x.t.ret == 0 && x.r.ret == 0 && x.exact,
	   "window: skewed channels and slow writer, byte-exact");
	ok(x.r.st.max_buffered > 0 && x.r.st.max_buffered <= bound,
	   "window: destination buffered at most %llu <= W + N*chunk = %llu",
	   (unsigned long long)x.r.st.max_buffered,
	   (unsigned long long)bound);
	ok(x.t.st.max_inflight <= x.window,
	   "window: source in flight at most %llu <= W = %llu",
	   (unsigned long long)x.t.st.max_inflight,
	   (unsigned long long)x.window);
}

void transport_edges(void)
{
	struct xfer x = { .channels = 16, .chunk = 4096, .window = 4096,
			  .size = 100000 };
	struct xfer e = { .channels = 3, .chunk = 65536, .window = 65536,
			  .size = 0 };

	xfer_run(&x);
	ok(x.t.ret == 0 && x.r.ret == 0 && x.exact,
	   "transfer: 16 channels with a one-chunk window, byte-exact");
	xfer_run(&e);
	ok(e.t.ret == 0 && e.r.ret == 0 && e.exact && e.t.done.bytes == 0,
	   "transfer: empty stream completes");
}

/* load --window: the destination grants less than the source asks. */
void transport_dst_window(void)
{
	struct xfer x = { .channels = 4, .chunk = 65536, .window = 8 * MIB,
			  .dst_window = 262144, .size = 4 * MIB,
			  .sink_delay_us = 100 };

	xfer_run(&x);
	ok(x.t.ret == 0 && x.r.ret == 0 && x.exact,
	   "load --window: transfer byte-exact (%d/%d)", x.t.ret, x.r.ret);
	ok(x.t.st.max_inflight <= x.dst_window &&
	   x.r.st.max_buffered <= x.dst_window + x.chunk,
	   "load --window 256K honoured: source in flight at most %llu, destination held %llu",
	   (unsigned long long)x.t.st.max_inflight,
	   (unsigned long long)x.r.st.max_buffered);
}
