// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../transport_int.h"
#include "../util.h"
#include "harness.h"
#include "tap.h"

/* A hand-driven source: handshake done, then raw bytes on the sockets. */
struct raw {
	struct rx_thread r;
	struct mem_sink sink;
	struct tx_config cfg;
	int ctrl, data[VMIG_MAX_CHANNELS];
	char err[300];
};

static int raw_open(struct raw *w, unsigned channels, uint32_t chunk)
{
	memset(w, 0, sizeof(*w));
	mem_sink_init(&w->sink);
	w->r.sink = &w->sink;
	w->cfg.channels = channels;
	w->cfg.chunk = chunk;
	w->cfg.window = 4 * (uint64_t)chunk;
	w->cfg.timeout_ms = 5000;
	if (rx_thread_start(&w->r))
		return -EIO;
	return tx_connect("127.0.0.1", w->r.port, &w->cfg, &w->ctrl, w->data,
			  w->err, sizeof(w->err));
}

static void raw_close(struct raw *w)
{
	unsigned i;

	close(w->ctrl);
	for (i = 0; i < w->cfg.channels; i++)
		close(w->data[i]);
}

static void raw_finish(struct raw *w)
{
	rx_thread_join(&w->r);
	raw_close(w);
	mem_sink_free(&w->sink);
}

static int raw_chunk(int fd, uint64_t seq, uint64_t off, uint32_t len,
		     uint16_t flags, uint32_t crc, const void *payload,
		     size_t send_len)
{
	struct vmig_chunk_hdr h = {
		.magic = VMIG_CHUNK_MAGIC, .version = VMIG_PROTO_VERSION,
		.flags = flags, .seq = seq, .offset = off, .len = len,
		.crc = crc,
	};
	uint8_t buf[VMIG_CHUNK_HDR_SIZE];
	int ret;

	vmig_chunk_encode(&h, buf);
	ret = send_full(fd, buf, sizeof(buf));
	if (!ret && send_len)
		ret = send_full(fd, payload, send_len);
	return ret;
}

void faults_malformed(void)
{
	struct raw w;
	uint8_t buf[VMIG_CHUNK_HDR_SIZE];

	if (!ok(raw_open(&w, 2, 65536) == 0, "raw source connected (%s)", w.err))
		return;
	memset(buf, 0x41, sizeof(buf));
	send_full(w.data[1], buf, sizeof(buf));
	raw_finish(&w);
	ok(w.r.ret == -EPROTO && strstr(w.r.err, "channel 1: malformed chunk header: magic 0x41414141"),
	   "fault: malformed chunk header rejected (\"%s\")", w.r.err);
}

void faults_oversized(void)
{
	struct raw w;

	if (!ok(raw_open(&w, 2, 65536) == 0, "raw source connected (%s)", w.err))
		return;
	raw_chunk(w.data[0], 0, 0, 0x7fffffff, 0, 0, NULL, 0);
	raw_finish(&w);
	ok(w.r.ret == -EMSGSIZE && w.r.st.max_alloc == 0 &&
	   strstr(w.r.err, "exceeds the negotiated maximum 65536"),
	   "fault: oversized length rejected before any allocation (max alloc %llu, \"%s\")",
	   (unsigned long long)w.r.st.max_alloc, w.r.err);
}

void faults_bad_crc(void)
{
	uint8_t payload[1000];
	struct raw w;
	uint32_t crc;

	if (!ok(raw_open(&w, 1, 65536) == 0, "raw source connected (%s)", w.err))
		return;
	stream_fill(3, 0, payload, sizeof(payload));
	crc = vmig_chunk_sum(payload, sizeof(payload));
	payload[500] ^= 1;
	raw_chunk(w.data[0], 0, 0, sizeof(payload), VMIG_CHUNK_CRC, crc,
		  payload, sizeof(payload));
	raw_finish(&w);
	ok(w.r.ret == -EBADMSG && strstr(w.r.err, "checksum mismatch") &&
	   w.sink.len == 0,
	   "fault: bad checksum rejected, nothing written (\"%s\")", w.r.err);
}

/* Wait up to @ms for the sink to hold @len bytes; what it holds. */
static size_t sink_wait_len(struct mem_sink *sink, size_t len, unsigned ms)
{
	size_t have = 0;
	unsigned i;

	for (i = 0; i <= ms / 10; i++) {
		pthread_mutex_lock(&sink->lock);
		have = sink->len;
		pthread_mutex_unlock(&sink->lock);
		if (have >= len)
			break;
		sleep_us(10000);
	}
	return have;
}

void faults_channel_closed(void)
{
	uint8_t payload[4096];
	struct raw w;

	if (!ok(raw_open(&w, 3, 65536) == 0, "raw source connected (%s)", w.err))
		return;
	stream_fill(3, 0, payload, sizeof(payload));
	raw_chunk(w.data[0], 0, 0, sizeof(payload), 0, 0, payload,
		  sizeof(payload));
	/* seq 0 written before the channel closes, however slow the host */
	sink_wait_len(&w.sink, sizeof(payload), 5000);
	close(w.data[2]);
	w.data[2] = -1;
	raw_finish(&w);
	ok(w.r.ret == -ECONNABORTED &&
	   strstr(w.r.err, "channel 2: connection closed in mid-stream") &&
	   w.sink.len == sizeof(payload),
	   "fault: one channel closed mid-stream stops the destination (\"%s\")",
	   w.r.err);
}

void faults_peer_dies(void)
{
	uint8_t payload[4096];
	struct raw w;

	if (!ok(raw_open(&w, 2, 65536) == 0, "raw source connected (%s)", w.err))
		return;
	stream_fill(3, 0, payload, sizeof(payload));
	/* half a chunk, then the whole source goes away */
	raw_chunk(w.data[1], 0, 0, sizeof(payload), 0, 0, payload, 1000);
	raw_close(&w);
	rx_thread_join(&w.r);
	mem_sink_free(&w.sink);
	ok((w.r.ret == -ECONNABORTED || w.r.ret == -ECONNRESET) &&
	   w.r.err[0],
	   "fault: source dying mid-chunk stops the destination (%d, \"%s\")",
	   w.r.ret, w.r.err);
}

void faults_dest_write_error(void)
{
	struct rx_thread r = { 0 };
	struct mem_sink sink;
	struct mem_source src = { .seed = 9, .size = 4 * MIB };
	struct tx_config cfg = { .channels = 4, .chunk = 65536,
				 .window = 1 * MIB };
	struct tx_result res;

	mem_sink_init(&sink);
	sink.fail_err = -EIO;
	sink.fail_after = 100000;
	r.sink = &sink;
	if (!ok(rx_thread_start(&r) == 0, "listener for write-error test"))
		return;
	run_tx(r.port, &cfg, &src, &res);
	rx_thread_join(&r);
	ok(r.ret == -EIO && strstr(r.err, "writing the resuming stream at byte 100000"),
	   "fault: destination write error stops the destination (\"%s\")",
	   r.err);
	ok(res.ret == -EREMOTEIO && strstr(res.err, "destination failed: writing the resuming stream"),
	   "fault: source learns of the destination's write error (\"%s\")",
	   res.err);
	mem_sink_free(&sink);
}

void faults_dest_dies(void)
{
	struct rx_thread r = { .die_after_accept = true };
	struct mem_sink sink;
	struct mem_source src = { .seed = 9, .size = 64 * MIB };
	struct tx_config cfg = { .channels = 2, .chunk = 65536,
				 .window = 1 * MIB };
	struct tx_result res;

	mem_sink_init(&sink);
	r.sink = &sink;
	if (!ok(rx_thread_start(&r) == 0, "listener for dead-destination test"))
		return;
	run_tx(r.port, &cfg, &src, &res);
	rx_thread_join(&r);
	ok(res.ret < 0 && res.err[0] && src.pos < src.size,
	   "fault: dead destination stops the source (%d, \"%s\")", res.ret,
	   res.err);
	mem_sink_free(&sink);
}

void faults_source_error(void)
{
	struct rx_thread r = { 0 };
	struct mem_sink sink;
	struct mem_source src = { .seed = 9, .size = 4 * MIB,
				  .fail_at_err = -EIO, .fail_at = 200000 };
	struct tx_config cfg = { .channels = 2, .chunk = 65536,
				 .window = 1 * MIB };
	struct tx_result res;

	mem_sink_init(&sink);
	r.sink = &sink;
	if (!ok(rx_thread_start(&r) == 0, "listener for source-error test"))
		return;
	run_tx(r.port, &cfg, &src, &res);
	rx_thread_join(&r);
	ok(res.ret == -EIO && strstr(res.err, "reading the saving stream"),
	   "fault: source read error fails the source (\"%s\")", res.err);
	ok(r.ret == -ECONNABORTED && strstr(r.err, "source aborted: reading the saving stream"),
	   "fault: destination learns the source aborted (\"%s\")", r.err);
	mem_sink_free(&sink);
}

static void *canceller(void *arg)
{
	volatile int *flag = arg;

	sleep_us(100000);
	*flag = 1;
	return NULL;
}

void faults_cancel(void)
{
	struct rx_thread r = { 0 };
	struct mem_sink sink;
	struct mem_source src = { .seed = 9, .size = 1ULL << 40 };
	static volatile int cancel;
	struct tx_config cfg = { .channels = 2, .chunk = 65536,
				 .window = 1 * MIB, .cancel = &cancel };
	struct tx_result res;
	pthread_t t;

	mem_sink_init(&sink);
	sink.delay_us = 1000;
	r.sink = &sink;
	if (!ok(rx_thread_start(&r) == 0, "listener for cancel test"))
		return;
	pthread_create(&t, NULL, canceller, (void *)&cancel);
	run_tx(r.port, &cfg, &src, &res);
	pthread_join(t, NULL);
	rx_thread_join(&r);
	ok(res.ret == -ECANCELED && r.ret == -ECONNABORTED &&
	   strstr(r.err, "source aborted: migration cancelled"),
	   "fault: cancel flag poisons the session, both ends join (\"%s\")",
	   r.err);
	mem_sink_free(&sink);
}

/* Wait up to @ms for the destination thread; false if it is still busy. */
static bool rx_done_within(struct rx_thread *r, unsigned ms)
{
	unsigned i;

	for (i = 0; i < ms / 10 && !r->finished; i++)
		sleep_us(10000);
	return r->finished;
}

/*
 * A source that ignores the window: eight 64 KiB chunks behind a missing
 * seq 0 against a 256 KiB window, one per channel, all eight headers
 * sent before any payload so that the receiving threads admit them at
 * the same time.  The destination holds at most the window plus one
 * chunk and cuts the source off: a check not counted under the same lock
 * can let all eight in (and then nothing cuts the source off).
 */
void faults_window_overrun(void)
{
	const unsigned channels = 8;
	uint8_t payload[65536];
	struct raw w;
	uint64_t seq, bound;
	bool done;

	if (!ok(raw_open(&w, channels, sizeof(payload)) == 0,
		"raw source connected (%s)", w.err))
		return;
	bound = w.cfg.window + sizeof(payload);
	for (seq = 1; seq <= channels; seq++)
		if (raw_chunk(w.data[seq % channels], seq, seq * sizeof(payload),
			      sizeof(payload), 0, 0, NULL, 0))
			break;
	for (seq = 1; seq <= channels; seq++) {
		stream_fill(3, seq * sizeof(payload), payload, sizeof(payload));
		if (send_full(w.data[seq % channels], payload, sizeof(payload)))
			break;
	}
	done = rx_done_within(&w.r, 5000);
	raw_close(&w);
	rx_thread_join(&w.r);
	mem_sink_free(&w.sink);
	ok(done && w.r.ret == -EPROTO && strstr(w.r.err, "overran the window"),
	   "window overrun: the source is cut off (%d, \"%s\")", w.r.ret,
	   w.r.err);
	ok(w.r.st.max_buffered <= bound,
	   "window overrun: destination held at most %llu bytes (window + chunk = %llu)",
	   (unsigned long long)w.r.st.max_buffered, (unsigned long long)bound);
}

/* Every channel ended, but a chunk below the end never came. */
void faults_seq_gap(void)
{
	uint8_t payload[4096];
	struct raw w;
	bool done;

	if (!ok(raw_open(&w, 2, 65536) == 0, "raw source connected (%s)", w.err))
		return;
	stream_fill(3, 0, payload, sizeof(payload));
	raw_chunk(w.data[0], 0, 0, sizeof(payload), 0, 0, payload,
		  sizeof(payload));
	raw_chunk(w.data[1], 2, 2 * sizeof(payload), sizeof(payload), 0, 0,
		  payload, sizeof(payload));
	raw_chunk(w.data[0], 3, 3 * sizeof(payload), 0, VMIG_CHUNK_LAST, 0,
		  NULL, 0);
	raw_chunk(w.data[1], 3, 3 * sizeof(payload), 0, VMIG_CHUNK_LAST, 0,
		  NULL, 0);
	done = rx_done_within(&w.r, 5000);
	raw_close(&w);
	rx_thread_join(&w.r);
	mem_sink_free(&w.sink);
	ok(done && w.r.ret == -EPROTO && strstr(w.r.err, "seq 1 never arrived"),
	   "sequence gap after every channel ended fails at once (%d, \"%s\")",
	   w.r.ret, w.r.err);
}

/*
 * A chunk sent twice: seq 1 on both channels while seq 0 is still missing,
 * so both copies would wait in the reorder list.  The second is refused
 * at once, whichever channel it came on; nothing is written.
 */
void faults_duplicate_chunk(void)
{
	uint8_t payload[4096];
	struct raw w;
	bool done;

	if (!ok(raw_open(&w, 2, 65536) == 0, "raw source connected (%s)", w.err))
		return;
	stream_fill(3, sizeof(payload), payload, sizeof(payload));
	raw_chunk(w.data[0], 1, sizeof(payload), sizeof(payload), 0, 0,
		  payload, sizeof(payload));
	raw_chunk(w.data[1], 1, sizeof(payload), sizeof(payload), 0, 0,
		  payload, sizeof(payload));
	done = rx_done_within(&w.r, 5000);
	raw_close(&w);
	rx_thread_join(&w.r);
	ok(done && w.r.ret == -EPROTO &&
	   strstr(w.r.err, "chunk seq 1 is out of range or duplicated") &&
	   w.sink.len == 0,
	   "fault: a chunk sent twice is refused at once, nothing written (%d, \"%s\")",
	   w.r.ret, w.r.err);
	mem_sink_free(&w.sink);
}

/*
 * A chunk behind the window: seq 0 again once seq 0 and seq 1 are written
 * (seq 1's bytes in the sink mean seq 0 is done with).  It can never be
 * written, so it is refused at once rather than held forever.
 */
void faults_stale_chunk(void)
{
	uint8_t payload[2][4096];
	size_t len;
	struct raw w;
	unsigned i;
	bool done;

	if (!ok(raw_open(&w, 2, 65536) == 0, "raw source connected (%s)", w.err))
		return;
	for (i = 0; i < 2; i++) {
		stream_fill(3, i * sizeof(payload[i]), payload[i],
			    sizeof(payload[i]));
		raw_chunk(w.data[0], i, i * sizeof(payload[i]),
			  sizeof(payload[i]), 0, 0, payload[i],
			  sizeof(payload[i]));
	}
	len = sink_wait_len(&w.sink, sizeof(payload), 5000);
	ok(len == sizeof(payload), "seq 0 and 1 written before seq 0 is sent again (%llu bytes)",
	   (unsigned long long)len);
	raw_chunk(w.data[1], 0, 0, sizeof(payload[0]), 0, 0, payload[0],
		  sizeof(payload[0]));
	done = rx_done_within(&w.r, 5000);
	raw_close(&w);
	rx_thread_join(&w.r);
	ok(done && w.r.ret == -EPROTO &&
	   strstr(w.r.err, "chunk seq 0 is out of range or duplicated") &&
	   w.sink.len == sizeof(payload),
	   "fault: a chunk already written is refused at once (%d, \"%s\")",
	   w.r.ret, w.r.err);
	mem_sink_free(&w.sink);
}

/* A destination that handshakes and then says nothing. */
void faults_stuck_destination(void)
{
	struct rx_thread r = { .stall_ms = 8000 };
	struct mem_sink sink;
	struct mem_source src = { .seed = 9, .size = 256 * MIB };
	struct tx_config cfg = { .channels = 2, .chunk = 65536,
				 .window = 1 * MIB, .progress_ms = 500 };
	struct tx_result res;
	uint64_t t0;
	double s;

	mem_sink_init(&sink);
	r.sink = &sink;
	if (!ok(rx_thread_start(&r) == 0, "listener for stuck-destination test"))
		return;
	t0 = now_us();
	run_tx(r.port, &cfg, &src, &res);
	s = (now_us() - t0) / 1e6;
	rx_thread_join(&r);
	ok(res.ret == -ETIMEDOUT && s < 5 &&
	   (strstr(res.err, "nothing from the destination") ||
	    strstr(res.err, "the destination wrote nothing")),
	   "stuck destination: the source gives up after %.1f s (\"%s\")", s,
	   res.err);
	mem_sink_free(&sink);
}

/* A source that handshakes and then says nothing. */
void faults_stuck_source(void)
{
	struct raw w;
	bool done;

	memset(&w, 0, sizeof(w));
	w.r.cfg.progress_ms = 500;
	mem_sink_init(&w.sink);
	w.r.sink = &w.sink;
	w.cfg.channels = 2;
	w.cfg.chunk = 65536;
	w.cfg.window = 4 * 65536;
	w.cfg.timeout_ms = 5000;
	if (!ok(rx_thread_start(&w.r) == 0, "listener") ||
	    !ok(tx_connect("127.0.0.1", w.r.port, &w.cfg, &w.ctrl, w.data,
			   w.err, sizeof(w.err)) == 0, "raw source connected"))
		return;
	done = rx_done_within(&w.r, 5000);
	raw_close(&w);
	rx_thread_join(&w.r);
	mem_sink_free(&w.sink);
	ok(done && w.r.ret == -ETIMEDOUT && strstr(w.r.err, "nothing from the source"),
	   "stuck source: the destination gives up (\"%s\")", w.r.err);
}

/*
 * A destination that answers pings but whose device write hangs: the
 * source gives up once nothing is written for the deadline.
 */
void faults_stuck_writer(void)
{
	struct rx_thread r = { 0 };
	struct mem_sink sink;
	struct mem_source src = { .seed = 9, .size = 64 * MIB };
	struct tx_config cfg = { .channels = 2, .chunk = 65536,
				 .window = 512 * KIB, .progress_ms = 500 };
	struct tx_result res;
	uint64_t t0;
	double s;

	mem_sink_init(&sink);
	sink.delay_us = 6000000;
	r.sink = &sink;
	r.cfg.progress_ms = 500;
	if (!ok(rx_thread_start(&r) == 0, "listener for stuck-writer test"))
		return;
	t0 = now_us();
	run_tx(r.port, &cfg, &src, &res);
	s = (now_us() - t0) / 1e6;
	rx_thread_join(&r);
	ok(res.ret == -ETIMEDOUT && strstr(res.err, "wrote nothing") && s < 5,
	   "stuck destination writer: the source gives up after %.1f s (\"%s\")",
	   s, res.err);
	mem_sink_free(&sink);
}

/*
 * The watcher reads its clock, then the peer's last sign of life; a
 * channel thread may record bytes from the peer in between, later than
 * the watcher's clock.  That is no silence at all; it once came out as
 * now - later wrapped around (centuries), and a live migration failed
 * with "nothing from the source for 30000 ms" after a few milliseconds.
 * The race is widened here to a touch a minute ahead of the clock.
 */
void faults_touch_after_clock(void)
{
	struct session s = { 0 };
	int sv[2], none[1] = { -1 }, i, pings = 0;
	struct timespec ts = { 0, 10 * 1000000L };
	bool poisoned = false;
	uint64_t ping;

	if (!ok(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair"))
		return;
	session_init(&s, sv[0], none, 0, NULL, 0);
	s.peer = "source";
	s.progress_ms = 200;
	__atomic_store_n(&s.last_rx_us, now_us() + 60000000, __ATOMIC_RELAXED);
	ping = s.last_ping_us;
	s.watcher_started = !pthread_create(&s.watcher, NULL, watcher_main, &s);
	/*
	 * The watcher checks the silence before it sends a PING (every 50 ms
	 * here): two PINGs prove that it looked at least twice.
	 */
	for (i = 0; i < 1000 && pings < 2 && !poisoned; i++) {
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&s.lock);
		poisoned = s.poisoned;
		if (s.last_ping_us != ping) {
			ping = s.last_ping_us;
			pings++;
		}
		pthread_mutex_unlock(&s.lock);
	}
	session_stop_watcher(&s);
	ok(!poisoned && pings == 2,
	   "watcher: bytes recorded after its clock read are no silence (%d checks, \"%s\")",
	   pings, s.msg);
	session_close(&s);
	close(sv[1]);
}

/*
 * Only a source that shares the stream between channels holds its data
 * sockets to a low-water mark of unsent bytes (Documentation/vfio-mig.rst,
 * flow control); a lone channel keeps the kernel's default (0: the sysctl).
 */
void faults_lowat_when_shared(void)
{
	static const unsigned counts[] = { 1, 2 };
	struct raw w;
	unsigned i, c;

	for (c = 0; c < 2; c++) {
		int want = counts[c] > 1 ? 128 << 10 : 0, got = want;

		if (!ok(raw_open(&w, counts[c], 65536) == 0,
			"%u-channel source connected (%s)", counts[c], w.err))
			return;
		for (i = 0; i < counts[c] && got == want; i++) {
			socklen_t len = sizeof(got);

			if (getsockopt(w.data[i], IPPROTO_TCP, TCP_NOTSENT_LOWAT,
				       &got, &len))
				got = -errno;
		}
		raw_close(&w);		/* the destination fails on EOF */
		rx_thread_join(&w.r);
		mem_sink_free(&w.sink);
		ok(got == want, "%u channel%s: TCP_NOTSENT_LOWAT %d on every data socket (got %d)",
		   counts[c], counts[c] > 1 ? "s" : "", want, got);
	}
}
