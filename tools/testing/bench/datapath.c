// SPDX-License-Identifier: GPL-2.0
/*
 * Data path benchmark (not a test), run in the VM by `make bench`, once
 * with 64 MiB functions and once with 1 GiB ones:
 *
 *   datapath OUT.json
 *
 * 1. save+restore over memcpy: the whole state saved (STOP -> STOP_COPY,
 *    read to the end) into a pre-sized, touched user buffer and loaded
 *    (RESUMING, written, -> STOP) into the other function, against a
 *    memcpy of the same bytes between two touched buffers, in the same
 *    run: MLX5C_BENCH_REPS repetitions (default 5) after a warm-up, in an
 *    order that alternates, the median of the per-repetition ratios.
 * 2. Kernel memory one session holds: the process runs in a memory
 *    cgroup of its own (run.sh makes it), the driver charges a session's
 *    allocations to the caller's cgroup, and every user page is touched
 *    before: memory.current sampled after each read() of a saving session
 *    and each write() of a resuming one, minus its value before the
 *    session's data fd existed, is what the session holds (to the memory
 *    cgroup's charge batching, 64 pages per CPU).  The peak of any session
 *    of the run.
 * 3. A PRE_COPY migration with a writer: a thread keeps writing random
 *    pages of the source's BAR2 (through the mmap: write-protect faults,
 *    dirty tracking) while the initial image and incremental images are
 *    read and written straight into the destination through a 1 MiB
 *    buffer; then the writer stops (the guest is paused), STOP_COPY, the
 *    final image, and the destination must hold the source's bytes.  The
 *    peak kernel memory of both sessions together is recorded too.
 *
 * Exit 1 if anything fails or a byte differs.
 * See Documentation/mlx5c-testing.rst, "Benchmarks".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>

#include "../selftests/mlx5c/mig_common.h"
#include "stats.h"

#define PAGE		4096
#define CHUNK		(1u << 20)	/* one read() or write() */
#define STREAM_SLACK	(16u << 20)	/* headers around a whole image */
#define MAX_ROUNDS	8		/* precopy rounds with the writer */

/* memory.current of the benchmark's own cgroup, or -1 unread */
static int memcg_fd = -1;

static void die(const char *what, int err)
{
	fprintf(stderr, "datapath: %s: %s\n", what, strerror(-err));
	exit(1);
}

/* The cgroup this process is in must have a memory.current. */
static void memcg_open(void)
{
	char line[4096], path[4200];
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f || !fgets(line, sizeof(line), f) || strncmp(line, "0::", 3))
		die("not in a cgroup v2 hierarchy", -ENOENT);
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.current",
		 line + 3);
	memcg_fd = open(path, O_RDONLY);
	if (memcg_fd < 0)
		die(path, -errno);
}

static long long memcg_current(void)
{
	char buf[32];
	ssize_t n = pread(memcg_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		die("read memory.current", n < 0 ? -errno : -EIO);
	buf[n] = 0;
	return atoll(buf);
}

/* The peak over a session: memory.current after each call, less @base. */
struct peak {
	long long base;
	long long max;
};

static void peak_start(struct peak *pk)
{
	pk->base = memcg_current();
	pk->max = 0;
}

static void peak_sample(struct peak *pk)
{
	long long d = memcg_current() - pk->base;

	if (d > pk->max)
		pk->max = d;
}

/* Read the saving fd to its end (or ENOMSG) into @buf at *len. */
static int save_into(int fd, uint8_t *buf, size_t cap, size_t *len,
		     struct peak *pk)
{
	ssize_t n;

	for (;;) {
		if (*len + CHUNK > cap)
			return -ENOSPC;
		n = read(fd, buf + *len, CHUNK);
		if (pk)
			peak_sample(pk);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == ENOMSG ? 0 : -errno;
		*len += n;
	}
}

static int load_from(int fd, const uint8_t *buf, size_t len,
		     struct peak *pk)
{
	size_t off = 0, n;
	ssize_t w;

	while (off < len) {
		n = len - off < CHUNK ? len - off : CHUNK;
		w = write(fd, buf + off, n);
		if (pk)
			peak_sample(pk);
		if (w < 0)
			return -errno;
		off += w;
	}
	return 0;
}

/*
 * Save the whole state into @buf and load it into the destination; the
 * time of both, in ms.  Each session's peak kernel memory in @save, @load
 * when not NULL.
 */
static double save_restore(struct pair *p, uint8_t *buf, size_t cap,
			   struct peak *save, struct peak *load)
{
	size_t len = 0;
	int sfd, dfd, ret;
	double t0, t1;

	t0 = bench_now_ms();
	ret = mig_set_state(&p->src, ST(STOP), NULL);
	if (ret)
		die("src STOP", ret);
	if (save)
		peak_start(save);
	ret = mig_set_state(&p->src, ST(STOP_COPY), &sfd);
	if (ret)
		die("src STOP_COPY", ret);
	ret = save_into(sfd, buf, cap, &len, save);
	if (ret)
		die("save", ret);
	close(sfd);
	ret = mig_set_state(&p->src, ST(STOP), NULL);
	if (ret)
		die("src STOP after the save", ret);
	if (load)
		peak_start(load);
	ret = mig_set_state(&p->dst, ST(RESUMING), &dfd);
	if (ret)
		die("dst RESUMING", ret);
	ret = load_from(dfd, buf, len, load);
	if (!ret)
		ret = mig_set_state(&p->dst, ST(STOP), NULL);
	if (ret)
		die("load", ret);
	t1 = bench_now_ms();
	close(dfd);
	if (mig_set_state(&p->src, ST(RUNNING), NULL) ||
	    mig_set_state(&p->dst, ST(RUNNING), NULL))
		die("back to RUNNING", -EIO);
	return t1 - t0;
}

/*
 * A user buffer backed by huge pages where the kernel can: under TCG a
 * buffer of 4 KiB pages made every copy through it about twice as slow,
 * and malloc() left it to chance which one a run got (save+restore and
 * memcpy times of one binary went from one mode to the other between
 * runs).  Touched, so that no timed window faults it in.
 */
static uint8_t *big_alloc(size_t size)
{
	void *p;

	size = (size + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	if (posix_memalign(&p, 2u << 20, size))
		die("posix_memalign", -ENOMEM);
	madvise(p, size, MADV_HUGEPAGE);
	memset(p, 0, size);
	return p;
}

struct writer {
	uint8_t *mem;
	size_t pages;
	atomic_bool stop;
	unsigned long writes;
};

/* Write one byte of a random page, again and again, until told to stop. */
static void *writer_run(void *arg)
{
	struct writer *w = arg;
	uint64_t x = 88172645463325252ull;

	while (!atomic_load(&w->stop)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w->mem[(x % w->pages) * PAGE + (x >> 40) % PAGE] = x;
		w->writes++;
		if (!(w->writes % 64))
			usleep(1000);
	}
	return NULL;
}

/* Everything the saving fd has now, written on into the resuming fd. */
static int pump(int sfd, int dfd, uint8_t *buf, struct peak *pk,
		size_t *bytes)
{
	ssize_t n;
	int ret;

	for (;;) {
		n = read(sfd, buf, CHUNK);
		peak_sample(pk);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == ENOMSG ? 0 : -errno;
		ret = load_from(dfd, buf, n, pk);
		if (ret)
			return ret;
		*bytes += n;
	}
}

struct precopy_result {
	double ms;
	long long peak;		/* both sessions together */
	unsigned int rounds;
	unsigned long writes;
	size_t precopy_bytes, stop_copy_bytes;
};

/* A PRE_COPY migration with a writer running; the destination checked. */
static void precopy_with_writer(struct pair *p, uint8_t *buf,
				struct precopy_result *res)
{
	struct writer w = { .mem = p->src.bar2,
			    .pages = p->src.bar2_size / PAGE };
	struct vfio_precopy_info info;
	struct peak pk;
	pthread_t th;
	int sfd, dfd, ret;
	double t0 = bench_now_ms();

	peak_start(&pk);
	ret = mig_set_state(&p->dst, ST(RESUMING), &dfd);
	if (ret)
		die("dst RESUMING", ret);
	if (pthread_create(&th, NULL, writer_run, &w))
		die("writer thread", -EAGAIN);
	ret = mig_set_state(&p->src, ST(PRE_COPY), &sfd);
	if (ret)
		die("src PRE_COPY", ret);
	res->precopy_bytes = 0;
	for (res->rounds = 0; res->rounds < MAX_ROUNDS; res->rounds++) {
		ret = pump(sfd, dfd, buf, &pk, &res->precopy_bytes);
		if (ret)
			die("precopy pump", ret);
		ret = precopy_info(sfd, &info);
		if (ret)
			die("precopy info", ret);
		if (!info.initial_bytes && !info.dirty_bytes)
			break;
	}
	/* The guest stops: no write after this. */
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	res->writes = w.writes;
	ret = mig_set_state(&p->src, ST(STOP_COPY), NULL);
	if (ret)
		die("src STOP_COPY", ret);
	res->stop_copy_bytes = 0;
	ret = pump(sfd, dfd, buf, &pk, &res->stop_copy_bytes);
	if (ret)
		die("stop-copy pump", ret);
	ret = mig_set_state(&p->dst, ST(STOP), NULL);
	if (ret)
		die("dst RESUMING -> STOP", ret);
	res->ms = bench_now_ms() - t0;
	res->peak = pk.max;
	close(sfd);
	close(dfd);
	if (mig_set_state(&p->src, ST(RUNNING), NULL) ||
	    mig_set_state(&p->dst, ST(RUNNING), NULL))
		die("back to RUNNING", -EIO);
	if (memcmp(p->src.bar2, p->dst.bar2, p->src.bar2_size))
		die("destination differs after PRE_COPY with a writer", -EIO);
}

int main(int argc, char **argv)
{
	struct stat_set mc = { 0 }, sr = { 0 }, ratio = { 0 };
	long long save_peak = 0, load_peak = 0;
	struct precopy_result pre;
	const char *commit = getenv("MLX5C_BENCH_COMMIT");
	const char *accel = getenv("MLX5C_VM_ACCEL");
	unsigned int reps, r;
	struct peak sp, lp;
	uint8_t *copy, *buf;
	struct utsname u;
	size_t size, cap;
	struct pair p;
	int ret;
	FILE *out;

	if (argc != 2) {
		fprintf(stderr, "usage: datapath OUT.json\n");
		return 2;
	}
	reps = bench_reps_from_env("datapath");
	memcg_open();
	ret = pair_open(&p);
	if (p.why) {
		fprintf(stderr, "datapath: %s\n", p.why);
		return 1;
	}
	if (ret)
		die("open the two functions", ret);
	if (knob_write(p.src.bdf, "latency_ms", "0") ||
	    knob_write(p.dst.bdf, "latency_ms", "0"))
		die("latency_ms 0", -EIO);
	size = p.src.bar2_size;
	cap = size + size / 64 + STREAM_SLACK;
	copy = big_alloc(2 * size);
	buf = big_alloc(cap);
	fill_pattern(p.src.bar2, size, 1);
	memcpy(copy, p.src.bar2, size);

	/* the warm-up, dropped */
	bench_memcpy_ms(copy, size);
	save_restore(&p, buf, cap, NULL, NULL);
	for (r = 0; r < reps; r++) {
		double m, f;

		if (r % 2) {
			f = save_restore(&p, buf, cap, &sp, &lp);
			m = bench_memcpy_ms(copy, size);
		} else {
			m = bench_memcpy_ms(copy, size);
			f = save_restore(&p, buf, cap, &sp, &lp);
		}
		if (memcmp(p.src.bar2, p.dst.bar2, size))
			die("destination differs", -EIO);
		if (memcmp(copy + size, copy, size))
			die("memcpy", -EIO);
		mc.v[mc.n++] = m;
		sr.v[sr.n++] = f;
		ratio.v[ratio.n++] = f / m;
		if (sp.max > save_peak)
			save_peak = sp.max;
		if (lp.max > load_peak)
			load_peak = lp.max;
	}
	printf("%zu MiB: memcpy %.1f ms, save+restore %.1f ms: %.2fx memcpy (median of %u, min %.2fx)\n",
	       size >> 20, bench_median(mc.v, mc.n), bench_median(sr.v, sr.n),
	       bench_median(ratio.v, ratio.n), reps,
	       bench_minimum(ratio.v, ratio.n));
	printf("kernel memory of one session, peak: saving %lld bytes, resuming %lld bytes\n",
	       save_peak, load_peak);

	precopy_with_writer(&p, buf, &pre);
	printf("PRE_COPY with a writer: %.0f ms, %u rounds, %lu writes, %zu precopy + %zu stop-copy bytes, both sessions %lld bytes, byte-exact\n",
	       pre.ms, pre.rounds, pre.writes, pre.precopy_bytes,
	       pre.stop_copy_bytes, pre.peak);

	out = fopen(argv[1], "w");
	if (!out)
		die("open output", -errno);
	uname(&u);
	fprintf(out, "{\n  \"context\": {\"kernel\": \"%s\", \"accelerator\": \"%s\", "
		"\"bar_size\": %zu, \"repetitions\": %u, \"warmup\": 1, "
		"\"order\": \"alternating\", \"commit\": \"%s\"},\n  ",
		u.release, accel ? accel : "unknown", size, reps,
		commit ? commit : "unknown");
	fprintf(out, "\"save_restore_over_memcpy\": ");
	bench_json_stats(out, ratio.v, ratio.n, 4);
	fprintf(out, ",\n  \"save_restore_ms\": ");
	bench_json_stats(out, sr.v, sr.n, 1);
	fprintf(out, ",\n  \"memcpy_ms\": ");
	bench_json_stats(out, mc.v, mc.n, 1);
	fprintf(out, ",\n  \"session_kernel_bytes\": %lld,\n"
		"  \"saving_session_kernel_bytes\": %lld,\n"
		"  \"resuming_session_kernel_bytes\": %lld,\n",
		save_peak > load_peak ? save_peak : load_peak, save_peak,
		load_peak);
	fprintf(out, "  \"precopy_with_writer\": {\"ms\": %.0f, \"rounds\": %u, "
		"\"writes\": %lu, \"precopy_bytes\": %zu, \"stop_copy_bytes\": %zu, "
		"\"both_sessions_kernel_bytes\": %lld, \"byte_exact\": true}\n}\n",
		pre.ms, pre.rounds, pre.writes, pre.precopy_bytes,
		pre.stop_copy_bytes, pre.peak);
	if (fclose(out))
		die("write output", -errno);
	knob_write(p.src.bdf, "latency_ms", "1");
	knob_write(p.dst.bdf, "latency_ms", "1");
	free(copy);
	free(buf);
	pair_close(&p);
	return 0;
}
