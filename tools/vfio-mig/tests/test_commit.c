// SPDX-License-Identifier: GPL-2.0
/*
 * The commit protocol under a lossy link: whatever control message is lost,
 * at most one of the two devices may run, and the exit codes say which
 * outcome happened.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../mig.h"
#include "../transport.h"
#include "../util.h"
#include "fake_dev.h"
#include "tap.h"

#define ALL_FLAGS	(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | \
			 VFIO_MIGRATION_PRE_COPY)
#define S(x)		VFIO_DEVICE_STATE_##x

struct cpair {
	struct fake_dev src, dst;
	struct mig_opts o;
	struct mig_report sr, dr;
	int ret;
	double seconds;
};

/* Every commit test runs over TLS, as the tool does by default. */
static struct vmig_tls tls;

static void cpair_init(struct cpair *p)
{
	char err[200];

	memset(p, 0, sizeof(*p));
	if (!tls.client && vmig_tls_random_psk(&tls, err, sizeof(err)))
		tap_diag("no TLS: %s", err);
	fake_init(&p->src, "fake-src", ALL_FLAGS, 91);
	fake_init(&p->dst, "fake-dst", ALL_FLAGS, 91);
	p->src.initial_size = 1 * MIB + 5;
	p->src.final_size = 1 * MIB + 3;
	mig_opts_default(&p->o);
	p->o.channels = 2;
	p->o.chunk = 256 * KIB;
	p->o.window = 1 * MIB;
	p->o.timeout_ms = 5000;
	/* long enough for a loaded host, short enough for the lost-message tests */
	p->o.progress_ms = 3000;
	p->o.poll_us = 1000;
	/* pre-copy ends well inside cpair_run's limit, however slow */
	p->o.max_precopy_ms = 10000;
	p->o.tls = tls.client ? &tls : NULL;
}

static void *cpair_main(void *arg)
{
	struct cpair *p = arg;

	p->ret = mig_migrate(&p->src.vd, &p->dst.vd, &p->o, &p->sr, &p->dr);
	return NULL;
}

/* Run with a bound: a migration that hangs fails the test (and its process). */
static void cpair_run(struct cpair *p, unsigned limit_s)
{
	uint64_t t0 = now_us();
	struct timespec ts;
	pthread_t thr;

	pthread_create(&thr, NULL, cpair_main, p);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += limit_s;
	if (pthread_timedjoin_np(thr, NULL, &ts)) {
		ok(0, "migration returned within %u s (source state %s, destination state %s)",
		   limit_s, vdev_state_name(p->src.state),
		   vdev_state_name(p->dst.state));
		fflush(stdout);
		_exit(1);
	}
	p->seconds = (now_us() - t0) / 1e6;
	tap_diag("migrate: %d in %.2f s; source %d \"%s\" (%s), destination %d \"%s\" (%s); %u rounds, %s, estimate %llu ms",
		 p->ret, p->seconds, p->sr.exit_code, p->sr.error,
		 vdev_state_name(p->src.state), p->dr.exit_code, p->dr.error,
		 vdev_state_name(p->dst.state), p->sr.rounds,
		 p->sr.decision ? p->sr.decision : "none",
		 (unsigned long long)p->sr.estimate_ms);
}

/* The destination runs the migrated state (a reset device runs empty). */
static bool dst_runs(struct cpair *p)
{
	return p->dst.state == S(RUNNING) && p->dst.resets == 0;
}

static bool both_running(struct cpair *p)
{
	return p->src.state == S(RUNNING) && dst_runs(p);
}

static bool dst_loaded(struct cpair *p)
{
	return p->dst.received == p->src.pos && !p->dst.mismatch &&
	       p->dst.resets == 0;
}

/* The proxy drops the destination's "loaded" report and closes. */
void commit_lost_loaded_closed(void)
{
	struct cpair p;

	cpair_init(&p);
	p.o.dst_drop_ctrl = VMIG_CTRL_LOADED;
	p.o.drop_close = true;
	cpair_run(&p, 30);
	ok(!both_running(&p), "lost LOADED + close: not both devices RUNNING");
	ok(p.src.state == S(RUNNING) && p.sr.exit_code == VMIG_EXIT_FAILED,
	   "lost LOADED + close: source back to RUNNING, exit %d", p.sr.exit_code);
	ok(p.dst.state == S(STOP) && p.dr.exit_code == VMIG_EXIT_UNKNOWN,
	   "lost LOADED + close: destination stays STOP, exit %d (unknown)",
	   p.dr.exit_code);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* The proxy drops the destination's "loaded" report, connection open. */
void commit_lost_loaded_open(void)
{
	struct cpair p;

	cpair_init(&p);
	p.o.dst_drop_ctrl = VMIG_CTRL_LOADED;
	cpair_run(&p, 30);
	ok(!both_running(&p), "lost LOADED, link open: not both devices RUNNING");
	ok(p.src.state == S(RUNNING) && p.sr.exit_code == VMIG_EXIT_FAILED,
	   "lost LOADED, link open: source back to RUNNING, exit %d",
	   p.sr.exit_code);
	ok(!dst_runs(&p) && p.dr.exit_code != 0,
	   "lost LOADED, link open: destination does not run, exit %d",
	   p.dr.exit_code);
	ok(p.seconds < 15, "lost LOADED, link open: both ends gave up in %.1f s",
	   p.seconds);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* The proxy drops COMMIT and closes: both stay stopped, both say unknown. */
void commit_lost_commit(void)
{
	struct cpair p;

	cpair_init(&p);
	p.o.src_drop_ctrl = VMIG_CTRL_COMMIT;
	p.o.drop_close = true;
	cpair_run(&p, 30);
	ok(p.src.state == S(STOP) && p.sr.exit_code == VMIG_EXIT_UNKNOWN,
	   "lost COMMIT + close: source stays STOP, exit %d (unknown)",
	   p.sr.exit_code);
	ok(p.dst.state == S(STOP) && dst_loaded(&p) &&
	   p.dr.exit_code == VMIG_EXIT_UNKNOWN,
	   "lost COMMIT + close: destination stays STOP with the state loaded, exit %d",
	   p.dr.exit_code);
	ok(p.ret == VMIG_EXIT_UNKNOWN, "lost COMMIT: migrate exits %d (unknown)",
	   p.ret);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* COMMIT lost on an open link: the destination gives up after the deadline. */
void commit_lost_commit_open(void)
{
	struct cpair p;

	cpair_init(&p);
	p.o.src_drop_ctrl = VMIG_CTRL_COMMIT;
	cpair_run(&p, 30);
	ok(p.src.state == S(STOP) && p.sr.exit_code == VMIG_EXIT_UNKNOWN &&
	   p.dst.state == S(STOP) && dst_loaded(&p) &&
	   p.dr.exit_code == VMIG_EXIT_UNKNOWN && p.seconds < 15,
	   "lost COMMIT, link open: both stopped, both exit unknown, in %.1f s",
	   p.seconds);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* STARTED lost: the destination runs, the source stays stopped. */
void commit_lost_started(void)
{
	struct cpair p;

	cpair_init(&p);
	p.o.dst_drop_ctrl = VMIG_CTRL_STARTED;
	p.o.drop_close = true;
	cpair_run(&p, 30);
	ok(p.src.state == S(STOP) && p.sr.exit_code == VMIG_EXIT_UNKNOWN,
	   "lost STARTED: source stays STOP, exit %d (unknown)", p.sr.exit_code);
	ok(dst_runs(&p) && dst_loaded(&p) && p.dr.exit_code == VMIG_EXIT_OK,
	   "lost STARTED: destination runs the migrated state, exit %d",
	   p.dr.exit_code);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* --no-start: the destination is loaded and left in STOP for an orchestrator. */
void commit_no_start(void)
{
	struct cpair p;

	cpair_init(&p);
	p.o.no_start = true;
	cpair_run(&p, 30);
	ok(p.ret == 0 && p.src.state == S(STOP) && p.dst.state == S(STOP) &&
	   dst_loaded(&p) && !p.sr.dst_started,
	   "--no-start: source STOP, destination STOP with the state loaded, exit 0");
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* A normal migration ends with exactly the destination running. */
void commit_ok(void)
{
	struct cpair p;

	cpair_init(&p);
	cpair_run(&p, 30);
	ok(p.ret == 0 && p.src.state == S(STOP) && dst_runs(&p) &&
	   dst_loaded(&p) && p.sr.dst_started,
	   "commit: source STOP, destination RUNNING with the state, exit 0");
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

static void on_sigint(int sig)
{
	(void)sig;
	vmig_signalled = 1;
}

/* Once the source is blocked in its device read, SIGINT the process. */
static void *send_sigint(void *arg)
{
	struct fake_dev *f = arg;
	unsigned i;

	for (i = 0; i < 3000 && !__atomic_load_n(&f->block_start_us,
						  __ATOMIC_RELAXED); i++)
		sleep_us(10000);
	sleep_us(100000);
	kill(getpid(), SIGINT);
	return NULL;
}

/*
 * Ctrl-C while the source is blocked in a device read in STOP_COPY: the
 * read is interrupted, the source returns to RUNNING, the destination does
 * not run.  (The signal may land on any thread, as it does for the tool.)
 */
void commit_sigint_in_read(void)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	struct cpair p;
	pthread_t t;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	cpair_init(&p);
	p.src.block_read_ms = 20000;
	pthread_create(&t, NULL, send_sigint, &p.src);
	cpair_run(&p, 40);
	pthread_join(t, NULL);
	ok(p.seconds < 15 && p.src.interrupted_reads > 0,
	   "SIGINT in a device read: honoured after %.1f s (%u interrupted reads)",
	   p.seconds, p.src.interrupted_reads);
	ok(p.src.state == S(RUNNING) && p.sr.exit_code == VMIG_EXIT_FAILED &&
	   !dst_runs(&p),
	   "SIGINT in a device read: source RUNNING, destination not running (exit %d)",
	   p.sr.exit_code);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* mtty's saving fd returns 0 when PRE_COPY is drained for now. */
void commit_zero_read_in_precopy(void)
{
	struct cpair p;

	cpair_init(&p);
	p.src.zero_when_drained = true;
	p.src.dirty_per_round = 4096;
	/* converges as soon as it measures: a spin on 0 meets the time limit */
	p.o.downtime_ms = 3600 * 1000;
	cpair_run(&p, 30);
	ok(p.ret == 0 && p.sr.precopy && dst_runs(&p) && dst_loaded(&p) &&
	   p.sr.decision && !strcmp(p.sr.decision, "converged"),
	   "0-byte read in PRE_COPY means drained for now: migrated byte-exact, %s (%s)",
	   p.sr.decision ? p.sr.decision : "no decision", p.sr.error);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* SIGINT to the source as LOADED arrives: it has not committed, so it runs. */
void commit_sigint_at_loaded(void)
{
	struct cpair p;

	cpair_init(&p);
	p.o.src_cancel_on_ctrl = VMIG_CTRL_LOADED;
	cpair_run(&p, 30);
	ok(p.src.state == S(RUNNING) && p.sr.exit_code == VMIG_EXIT_FAILED &&
	   !dst_runs(&p) && p.dr.exit_code == VMIG_EXIT_FAILED,
	   "SIGINT at LOADED: source RUNNING (exit %d), destination reset (exit %d)",
	   p.sr.exit_code, p.dr.exit_code);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* SIGINT to the source as STARTED arrives: committed, it stays stopped. */
void commit_sigint_at_started(void)
{
	struct cpair p;

	cpair_init(&p);
	p.o.src_cancel_on_ctrl = VMIG_CTRL_STARTED;
	cpair_run(&p, 30);
	ok(p.src.state == S(STOP) && (p.sr.exit_code == VMIG_EXIT_UNKNOWN ||
					p.sr.exit_code == VMIG_EXIT_OK) &&
	   dst_runs(&p) && dst_loaded(&p) && p.dr.exit_code == 0,
	   "SIGINT at STARTED: source stays STOP (exit %d), destination runs (exit %d)",
	   p.sr.exit_code, p.dr.exit_code);
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}

/* --max-precopy-ms holds inside a round that never drains. */
void commit_precopy_time_limit_in_round(void)
{
	struct cpair p;

	cpair_init(&p);
	p.src.endless_precopy = true;
	p.o.max_precopy_ms = 300;
	p.o.window = 256 * KIB;
	cpair_run(&p, 30);
	ok(p.ret == 0 && dst_runs(&p) && dst_loaded(&p) && p.sr.precopy_bytes &&
	   p.seconds < 10,
	   "endless PRE_COPY round: the round ended at the time limit, %.1f s in all (%s)",
	   p.seconds, p.sr.decision ? p.sr.decision : "none");
	fake_destroy(&p.src);
	fake_destroy(&p.dst);
}
