// SPDX-License-Identifier: GPL-2.0
/* Whole migrations between two fake devices over loopback (mig_migrate). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mig.h"
#include "../util.h"
#include "fake_dev.h"
#include "tap.h"

#define ALL_FLAGS	(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | \
			 VFIO_MIGRATION_PRE_COPY)
#define S(x)		VFIO_DEVICE_STATE_##x

struct pair {
	struct fake_dev src, dst;
	struct mig_opts o;
	struct mig_report sr, dr;
	int ret;
};

static void pair_init(struct pair *p, uint64_t flags)
{
	memset(p, 0, sizeof(*p));
	fake_init(&p->src, "fake-src", flags, 77);
	fake_init(&p->dst, "fake-dst", flags, 77);
	p->src.initial_size = 3 * MIB + 5;
	p->src.dirty_per_round = 64 * KIB;
	p->src.final_size = 2 * MIB + 3;
	p->src.v2_supported = true;
	mig_opts_default(&p->o);
	p->o.chunk = 256 * KIB;
	p->o.window = 1 * MIB;
	p->o.timeout_ms = 5000;
	p->o.poll_us = 1000;
	p->o.progress = false;
}

/*
 * "converged" whatever the machine's speed: with an hour of downtime and no
 * time limit the policy switches once the initial data drained and the
 * bandwidth is measured, which only waits for acknowledgements.  With the
 * defaults it needs the destination to write about 20 MB/s (a window in
 * flight within 300 ms), or it stops at the time limit.
 */
static void pair_converge_at_any_speed(struct pair *p)
{
	p->o.downtime_ms = 3600 * 1000;
	p->o.max_precopy_ms = 0;
}

static void pair_run(struct pair *p)
{
	p->ret = mig_migrate(&p->src.vd, &p->dst.vd, &p->o, &p->sr, &p->dr);
	if (p->ret)
		tap_diag("migrate: %d, source \"%s\", destination \"%s\"",
			 p->ret, p->sr.error, p->dr.error);
}

static void pair_free(struct pair *p)
{
	fake_destroy(&p->src);
	fake_destroy(&p->dst);
}

static bool dst_loaded(struct pair *p)
{
	return p->dst.received == p->src.pos && !p->dst.mismatch &&
	       p->dst.state == S(RUNNING);
}

/* Brackets balance outside strings; returns false on any imbalance. */
static bool json_balanced(const char *s)
{
	int depth = 0;
	bool str = false;

	for (; *s; s++) {
		if (str) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				str = false;
			continue;
		}
		if (*s == '"')
			str = true;
		else if (*s == '{' || *s == '[')
			depth++;
		else if ((*s == '}' || *s == ']') && --depth < 0)
			return false;
	}
	return !depth && !str;
}

static void check_json(struct pair *p)
{
	const char *out = getenv("VFIO_MIG_TEST_JSON");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	report_json(f, &p->sr, &p->dr);
	fclose(f);
	if (out) {
		f = fopen(out, "w");
		if (f) {
			fputs(buf, f);
			fclose(f);
		}
	}
	ok(json_balanced(buf) && strstr(buf, "\"result\": \"ok\"") &&
	   strstr(buf, "\"downtime_ms\": ") && strstr(buf, "\"decision\": \"converged\"") &&
	   strstr(buf, "\"stopcopy\": ") && strstr(buf, "{\"index\": 3, "),
	   "report: JSON report is balanced and has phases, policy and 4 channels");
	free(buf);
}

void mig_precopy_p2p(void)
{
	static const uint32_t src_trace[] = {
		S(PRE_COPY), S(PRE_COPY_P2P), S(STOP_COPY), S(STOP),
	};
	static const uint32_t dst_trace[] = {
		S(STOP), S(RESUMING), S(STOP), S(RUNNING),
	};
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.o.channels = 4;
	p.o.crc = true;
	pair_converge_at_any_speed(&p);
	pair_run(&p);
	ok(p.ret == 0 && dst_loaded(&p) && p.dst.received > 5 * MIB,
	   "migrate: PRE_COPY with P2P, 4 channels, %llu bytes loaded byte-exact",
	   (unsigned long long)p.dst.received);
	ok(fake_trace_is(&p.src, src_trace, 4) &&
	   fake_trace_is(&p.dst, dst_trace, 4),
	   "migrate: source RUNNING->PRE_COPY->PRE_COPY_P2P->STOP_COPY->STOP, destination STOP->RESUMING->STOP->RUNNING");
	check_json(&p);
	ok(p.sr.precopy && p.sr.v2 && p.sr.rounds >= 1 &&
	   !strcmp(p.sr.decision, "converged") && p.sr.precopy_bytes >= 3 * MIB &&
	   p.sr.stopcopy_bytes >= 2 * MIB &&
	   p.dr.rx.stopcopy_bytes == p.sr.stopcopy_bytes &&
	   p.sr.downtime_ms > 0 && p.sr.final_state == S(STOP),
	   "migrate: report has phases, rounds (%u), decision (%s), downtime (%.2f ms)",
	   p.sr.rounds, p.sr.decision, p.sr.downtime_ms);
	pair_free(&p);
}

void mig_no_precopy(void)
{
	static const uint32_t src_trace[] = {
		S(RUNNING_P2P), S(STOP), S(STOP_COPY), S(STOP),
	};
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.o.no_precopy = true;
	p.o.channels = 2;
	pair_run(&p);
	ok(p.ret == 0 && dst_loaded(&p) && fake_trace_is(&p.src, src_trace, 4) &&
	   p.sr.precopy_bytes == 0 && !strcmp(p.sr.decision, "no-precopy"),
	   "migrate --no-precopy: RUNNING->RUNNING_P2P->STOP->STOP_COPY, byte-exact");
	pair_free(&p);
}

void mig_no_p2p_device(void)
{
	static const uint32_t src_trace[] = {
		S(STOP), S(STOP_COPY), S(STOP),
	};
	struct pair p;

	pair_init(&p, VFIO_MIGRATION_STOP_COPY);
	p.o.channels = 1;
	pair_run(&p);
	ok(p.ret == 0 && dst_loaded(&p) && fake_trace_is(&p.src, src_trace, 3) &&
	   !p.sr.precopy,
	   "migrate: STOP_COPY-only device goes RUNNING->STOP->STOP_COPY");
	pair_free(&p);
}

void mig_reinit(void)
{
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.src.reinit_at = 1;
	p.src.reinit_size = 1 * MIB;
	pair_run(&p);
	ok(p.ret == 0 && dst_loaded(&p) && p.sr.reinits == 1 && p.sr.rounds >= 2 &&
	   p.sr.precopy_bytes >= 4 * MIB,
	   "migrate: REINIT after opting into PRECOPY_INFOv2 is waited out (%u rounds)",
	   p.sr.rounds);
	pair_free(&p);
}

void mig_max_rounds(void)
{
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.o.downtime_ms = 0;
	p.o.max_rounds = 3;
	pair_run(&p);
	ok(p.ret == 0 && dst_loaded(&p) && p.sr.rounds == 3 &&
	   !strcmp(p.sr.decision, "max-rounds"),
	   "migrate: never converging device switches after --max-rounds 3");
	pair_free(&p);
}

void mig_dirty(void)
{
	struct pair p;
	uint8_t zero[4096] = { 0 };

	pair_init(&p, ALL_FLAGS);
	p.o.dirty_rate = 4 * MIB;
	p.o.max_precopy_ms = 100;
	p.o.downtime_ms = 0;
	pair_run(&p);
	ok(p.ret == 0 && dst_loaded(&p) && p.sr.dirty_written > 0 &&
	   !memcmp(p.src.region, zero, sizeof(zero)) &&
	   fake_region_sum(&p.src) != fake_region_sum(&p.dst),
	   "migrate --dirty: BAR written (%llu bytes), first 4 KiB untouched",
	   (unsigned long long)p.sr.dirty_written);
	ok(p.src.region_summed &&
	   p.src.region_sum_at_switch == fake_region_sum(&p.src) &&
	   !strcmp(p.sr.decision, "max-precopy-time"),
	   "migrate --dirty: no writes after the device left PRE_COPY");
	pair_free(&p);
}

void mig_dst_write_error(void)
{
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.dst.fail_write_after = 1 * MIB;
	pair_run(&p);
	ok(p.ret != 0 && p.sr.exit_code == VMIG_EXIT_FAILED &&
	   strstr(p.sr.error, "destination failed") &&
	   p.src.state == S(RUNNING) && p.sr.final_state == S(RUNNING),
	   "fault: destination write error returns the source to RUNNING (\"%s\")",
	   p.sr.error);
	ok(p.dr.exit_code == VMIG_EXIT_DEVICE && p.dst.resets == 1 &&
	   p.dst.state != S(RESUMING),
	   "fault: destination device is reset, not left half-loaded (\"%s\")",
	   p.dr.error);
	pair_free(&p);
}

void mig_src_stopcopy_fails(void)
{
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.src.fail_state_on = true;
	p.src.fail_state = S(STOP_COPY);
	pair_run(&p);
	ok(p.ret == VMIG_EXIT_DEVICE && p.src.state == S(RUNNING) &&
	   strstr(p.sr.error, "pre_copy_p2p -> stop_copy failed"),
	   "fault: failed STOP_COPY request brings the source back to RUNNING (\"%s\")",
	   p.sr.error);
	ok(p.dr.exit_code != 0 && p.dst.resets == 1 &&
	   strstr(p.dr.error, "source aborted"),
	   "fault: destination learns the source aborted and resets (\"%s\")",
	   p.dr.error);
	pair_free(&p);
}

void mig_incomplete_stream(void)
{
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.dst.expect_size = 1ULL << 40;	/* the device wants more */
	pair_run(&p);
	ok(p.ret != 0 && p.dst.resets == 1 && p.dst.state == S(RUNNING) &&
	   strstr(p.dr.error, "resuming -> stop failed") &&
	   p.src.state == S(RUNNING),
	   "fault: destination refusing RESUMING->STOP resets it, source back to RUNNING (\"%s\")",
	   p.sr.error);
	pair_free(&p);
}

void mig_src_not_running(void)
{
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.src.state = S(STOP);
	pair_run(&p);
	ok(p.ret == VMIG_EXIT_DEVICE && strstr(p.sr.error, "must be RUNNING") &&
	   p.src.ntrace == 0 && p.dst.resets == 1,
	   "migrate: source not RUNNING is refused untouched, destination released");
	pair_free(&p);
}

/*
 * A device that says STOP_COPY would read 4 GiB: no loopback converges on
 * that within 300 ms, so the policy waits for the round limit and reports
 * the estimate from MIG_DATA_SIZE.  The estimate needs a bandwidth, that
 * is bytes the destination acknowledged: a session window (one chunk per
 * channel) smaller than the initial data makes the first round wait for
 * acknowledgements, so four rounds measure one however slow the
 * destination (here 20 ms per write; with pair_init's 4 MiB session
 * window the four rounds ran before anything was written, and the
 * estimate was unknown).  The bandwidth is then at most one 256 KiB chunk
 * per 20 ms, and far above 100 kB/s: a unit slip in the sampled time
 * (ms for us, or the reverse) lands outside.
 */
void mig_data_size(void)
{
	const uint64_t big = 4ULL << 30;
	uint64_t want;
	struct pair p;

	pair_init(&p, ALL_FLAGS);
	p.src.data_size = big;
	p.dst.write_delay_ms = 20;
	p.o.window = p.o.chunk;
	p.o.max_rounds = 4;
	pair_run(&p);
	want = p.sr.bandwidth ?
	       (p.sr.remaining * 1000 + p.sr.bandwidth - 1) / p.sr.bandwidth : 0;
	ok(p.ret == 0 && dst_loaded(&p) && p.src.data_size_calls > p.sr.rounds,
	   "migrate: MIG_DATA_SIZE queried every round (%u calls, %u rounds)",
	   p.src.data_size_calls, p.sr.rounds);
	ok(!strcmp(p.sr.decision, "max-rounds") && p.sr.rounds == 4 &&
	   p.sr.last_data_size == big && p.sr.remaining >= big &&
	   p.sr.bandwidth && p.sr.estimate_ms == want,
	   "migrate: MIG_DATA_SIZE 4 GiB: %s after %u rounds, %llu bytes remaining, estimate %llu ms (%llu at %llu B/s)",
	   p.sr.decision, p.sr.rounds,
	   (unsigned long long)p.sr.remaining,
	   (unsigned long long)p.sr.estimate_ms, (unsigned long long)want,
	   (unsigned long long)p.sr.bandwidth);
	ok(p.sr.bandwidth >= 100000 && p.sr.bandwidth <= 256 * KIB * 1000 / 20,
	   "migrate: bandwidth %llu B/s: what a destination writing 256 KiB per 20 ms can do",
	   (unsigned long long)p.sr.bandwidth);
	pair_free(&p);

	/* without MIG_DATA_SIZE the precopy counts decide */
	pair_init(&p, ALL_FLAGS);
	p.src.no_data_size = true;
	pair_converge_at_any_speed(&p);
	pair_run(&p);
	ok(p.ret == 0 && dst_loaded(&p) && !strcmp(p.sr.decision, "converged") &&
	   p.sr.data_size == 0 && p.sr.last_data_size == 0,
	   "migrate: device without MIG_DATA_SIZE converges on the precopy counts (%s)",
	   p.sr.decision);
	pair_free(&p);
}

/*
 * Skew: channel 0 holds each chunk 300 ms before sending it.  The window
 * is a per-channel share (--window times the channels), so while channel
 * 0 sits on its chunk the other three keep delivering until the whole
 * window is used: the destination buffers at least (N - 1) shares behind
 * the missing chunk, and never more than N shares plus one chunk.
 */
void mig_skew_window(void)
{
	const uint64_t share = 256 * KIB, chunk = 64 * KIB;
	const unsigned n = 4;
	uint64_t others = 0;
	struct pair p;
	unsigned i;

	pair_init(&p, ALL_FLAGS);
	p.o.no_precopy = true;
	p.src.final_size = 3 * MIB;
	p.o.channels = n;
	p.o.chunk = chunk;
	p.o.window = share;
	p.o.chan_delay_us[0] = 300000;
	pair_run(&p);
	for (i = 1; i < n; i++)
		others += p.dr.rx.chan[i].bytes;
	ok(p.ret == 0 && dst_loaded(&p) && others > p.dr.rx.chan[0].bytes,
	   "skew: channel 0 slowed, %llu bytes loaded byte-exact, %llu of them by channels 1-3",
	   (unsigned long long)p.dst.received, (unsigned long long)others);
	ok(p.dr.rx.max_buffered >= (n - 1) * share &&
	   p.dr.rx.max_buffered <= n * share + chunk,
	   "skew: the other channels ran ahead of the stuck one: %llu bytes held, within [(N-1) x share, N x share + chunk] = [%llu, %llu]",
	   (unsigned long long)p.dr.rx.max_buffered,
	   (unsigned long long)((n - 1) * share),
	   (unsigned long long)(n * share + chunk));
	ok(p.sr.tx.max_inflight <= n * share,
	   "skew: source in flight at most %llu <= N x share = %llu",
	   (unsigned long long)p.sr.tx.max_inflight,
	   (unsigned long long)(n * share));
	pair_free(&p);
}

/*
 * A channel four times slower than the fastest leaves the chunks to the
 * others unless they could not drain the queue before it would deliver:
 * channel 0 takes 100 ms per 64 KiB chunk, the others move the 16 MiB
 * in far less, so channel 0 carries its first chunk (taken before its
 * rate was known) and at most one more per 1.6 s of standing aside: at
 * most 4 chunks, or one more per 1.6 s of a run longer than 4.8 s (a
 * loaded host).  Without the rule it takes a chunk whenever it is free
 * (13 seen in a 1.4 s run).
 */
void mig_skew_defer(void)
{
	struct pair p;
	uint64_t most;
	unsigned i;

	pair_init(&p, ALL_FLAGS);
	p.o.no_precopy = true;
	p.src.final_size = 16 * MIB;
	p.o.channels = 4;
	p.o.chunk = 64 * KIB;
	p.o.window = 256 * KIB;
	p.o.chan_delay_us[0] = 100000;
	pair_run(&p);
	ok(p.ret == 0 && dst_loaded(&p),
	   "skew: 16 MiB loaded byte-exact with channel 0 slowed");
	most = 1 + (uint64_t)(p.sr.total_ms / 1600);
	if (most < 4)
		most = 4;
	ok(p.dr.rx.chan[0].chunks >= 1 && p.dr.rx.chan[0].chunks <= most,
	   "skew: the slow channel carried %llu chunk(s) in %.0f ms (1 to %llu expected)",
	   (unsigned long long)p.dr.rx.chan[0].chunks, p.sr.total_ms,
	   (unsigned long long)most);
	for (i = 1; i < 4; i++)
		tap_diag("channel %u: %llu chunks", i,
			 (unsigned long long)p.dr.rx.chan[i].chunks);
	pair_free(&p);
}
