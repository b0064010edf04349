// SPDX-License-Identifier: GPL-2.0
/*
 * Downtime benchmark (not a test), run in the VM by `make bench`: the
 * stop-copy phase of a migration between two mlx5c functions, with
 * PRE_COPY and with STOP_COPY only, for several fractions of pages
 * dirtied after the precopy round.  The stop-copy phase runs from the
 * STOP_COPY request on the source to RESUMING -> STOP done on the
 * destination, all bytes written.  Also the save-then-restore time of the
 * whole state next to a plain memcpy of it in the same run.
 *
 *   downtime OUT.json
 *
 * Every figure is the median, with the minimum, of MLX5C_BENCH_REPS
 * repetitions (default 5) after one warm-up, the two compared cases run
 * back to back in an order that alternates between repetitions.  Buffers
 * are allocated and touched before the timed windows.  MLX5C_BENCH_COMMIT
 * and MLX5C_VM_ACCEL (set by the VM runner) are recorded in the context.
 * Exit 1 if any migration fails or loads a byte wrong.
 * See Documentation/mlx5c-testing.rst, "Benchmarks".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/utsname.h>
#include <time.h>

#include "../selftests/mlx5c/mig_common.h"
#include "stats.h"

#define PAGE		4096
/* room for the records' headers around a whole-state image */
#define STREAM_SLACK	(8u << 20)

static const double pcts[] = { 0.1, 1, 10 };
#define NR_PCTS (sizeof(pcts) / sizeof(pcts[0]))

static void die(const char *what, int err)
{
	fprintf(stderr, "downtime: %s: %s\n", what, strerror(-err));
	exit(1);
}

static double median(const struct stat_set *s)
{
	return bench_median(s->v, s->n);
}

static double minimum(const struct stat_set *s)
{
	return bench_minimum(s->v, s->n);
}

static void json_stat(FILE *out, const char *name, const struct stat_set *s,
		      const char *end)
{
	fprintf(out, "\"%s\": ", name);
	bench_json_stats(out, s->v, s->n, 4);
	fputs(end, out);
}

static void dirty(uint8_t *mem, size_t size, double pct, unsigned int seed)
{
	size_t pages = size / PAGE, n = pages * pct / 100, step = pages / (n ? n : 1);

	for (size_t i = 0; i < n; i++)
		mem[(1 + i * step % (pages - 1)) * PAGE + seed % PAGE] = seed + i;
}

/*
 * One migration into the pre-sized @s; returns the stop-copy phase in ms,
 * its bytes in *bytes.  Both functions end RUNNING with equal memory.
 */
static double migrate(struct pair *p, struct stream *s, bool precopy,
		      double pct, size_t *bytes)
{
	size_t sent = 0, cap = s->cap;
	int sfd, dfd, ret;
	double t0, t1;

	s->len = 0;
	ret = mig_set_state(&p->dst, ST(RESUMING), &dfd);
	if (ret)
		die("dst RESUMING", ret);
	if (precopy) {
		ret = mig_set_state(&p->src, ST(PRE_COPY), &sfd);
		if (ret)
			die("src PRE_COPY", ret);
		if (stream_drain(s, sfd) < 0)
			die("precopy read", -EIO);
		ret = stream_write(dfd, s->data, s->len, 0);
		if (ret)
			die("precopy write", ret);
		sent = s->len;
	}
	dirty(p->src.bar2, p->src.bar2_size, pct, (unsigned int)(pct * 7) + 1);

	t0 = bench_now_ms();
	if (precopy)
		ret = mig_set_state(&p->src, ST(STOP_COPY), NULL);
	else
		ret = mig_set_state(&p->src, ST(STOP_COPY), &sfd);
	if (ret)
		die("src STOP_COPY", ret);
	ret = stream_read(s, sfd);
	if (ret)
		die("stop-copy read", ret);
	ret = stream_write(dfd, s->data + sent, s->len - sent, 0);
	if (!ret)
		ret = mig_set_state(&p->dst, ST(STOP), NULL);
	if (ret)
		die("dst load", ret);
	t1 = bench_now_ms();

	if (s->cap != cap)
		fprintf(stderr, "downtime: stream buffer grew to %zu bytes in a timed window\n",
			s->cap);
	*bytes = s->len - sent;
	close(sfd);
	close(dfd);
	if (mig_set_state(&p->src, ST(RUNNING), NULL) ||
	    mig_set_state(&p->dst, ST(RUNNING), NULL))
		die("back to RUNNING", -EIO);
	if (memcmp(p->src.bar2, p->dst.bar2, p->src.bar2_size))
		die("destination differs", -EIO);
	return t1 - t0;
}

static void json_context(FILE *out, const struct pair *p, unsigned int reps)
{
	const char *commit = getenv("MLX5C_BENCH_COMMIT");
	const char *accel = getenv("MLX5C_VM_ACCEL");
	struct utsname u;

	uname(&u);
	fprintf(out, "  \"context\": {\"kernel\": \"%s\", \"accelerator\": \"%s\", "
		"\"bar_size\": %zu, \"repetitions\": %u, \"warmup\": 1, "
		"\"order\": \"alternating\", \"commit\": \"%s\"},\n",
		u.release, accel ? accel : "unknown", p->src.bar2_size, reps,
		commit ? commit : "unknown");
}

int main(int argc, char **argv)
{
	struct stat_set mc = { 0 }, sr = { 0 }, ratio = { 0 };
	struct stat_set tp[NR_PCTS] = { 0 }, tf[NR_PCTS] = { 0 };
	struct stat_set tr[NR_PCTS] = { 0 }, br[NR_PCTS] = { 0 };
	size_t bp[NR_PCTS] = { 0 }, bf[NR_PCTS] = { 0 }, b;
	struct stream s = { 0 };
	unsigned int reps, r, i;
	struct pair p;
	uint8_t *copy;
	size_t size;
	int ret;
	FILE *out;

	if (argc != 2) {
		fprintf(stderr, "usage: downtime OUT.json\n");
		return 2;
	}
	reps = bench_reps_from_env("downtime");
	ret = pair_open(&p);
	if (p.why) {
		fprintf(stderr, "downtime: %s\n", p.why);
		return 1;
	}
	if (ret)
		die("open the two functions", ret);
	size = p.src.bar2_size;
	fill_pattern(p.src.bar2, size, 1);

	copy = malloc(2 * size);
	s.cap = size + STREAM_SLACK;
	s.data = malloc(s.cap);
	if (!copy || !s.data)
		die("malloc", -ENOMEM);
	memcpy(copy, p.src.bar2, size);
	memset(copy + size, 0, size);
	memset(s.data, 0, s.cap);

	/* the warm-up: one of each kind of run, dropped */
	bench_memcpy_ms(copy, size);
	migrate(&p, &s, false, 0, &b);
	migrate(&p, &s, true, 1, &b);

	for (r = 0; r < reps; r++) {
		double m, f;

		if (r % 2) {
			f = migrate(&p, &s, false, 0, &b);
			m = bench_memcpy_ms(copy, size);
		} else {
			m = bench_memcpy_ms(copy, size);
			f = migrate(&p, &s, false, 0, &b);
		}
		if (memcmp(copy + size, copy, size))
			die("memcpy", -EIO);
		mc.v[mc.n++] = m;
		sr.v[sr.n++] = f;
		ratio.v[ratio.n++] = f / m;
	}
	printf("%zu MiB: memcpy %.1f ms, save+restore %.1f ms: %.2fx memcpy (median of %u, min %.2fx)\n",
	       size >> 20, median(&mc), median(&sr), median(&ratio), reps,
	       minimum(&ratio));

	for (i = 0; i < NR_PCTS; i++) {
		for (r = 0; r < reps; r++) {
			double a, c;

			if (r % 2) {
				c = migrate(&p, &s, false, pcts[i], &bf[i]);
				a = migrate(&p, &s, true, pcts[i], &bp[i]);
			} else {
				a = migrate(&p, &s, true, pcts[i], &bp[i]);
				c = migrate(&p, &s, false, pcts[i], &bf[i]);
			}
			tp[i].v[tp[i].n++] = a;
			tf[i].v[tf[i].n++] = c;
			tr[i].v[tr[i].n++] = 100 * a / c;
			br[i].v[br[i].n++] = 100.0 * bp[i] / bf[i];
		}
	}

	out = fopen(argv[1], "w");
	if (!out)
		die("open output", -errno);
	fprintf(out, "{\n");
	json_context(out, &p, reps);
	fprintf(out, "  ");
	json_stat(out, "save_restore_over_memcpy", &ratio, ",\n  ");
	json_stat(out, "save_restore_ms", &sr, ",\n  ");
	json_stat(out, "memcpy_ms", &mc, ",\n");
	fprintf(out, "  \"rows\": [\n");
	printf("stop-copy phase, median (min) of %u; bytes of the last repetition\n",
	       reps);
	printf("%8s %14s %14s %20s %20s %16s %8s\n", "dirty%", "bytes_precopy",
	       "bytes_full", "ms_precopy", "ms_full", "time%", "bytes%");
	for (i = 0; i < NR_PCTS; i++) {
		printf("%8.1f %14zu %14zu %10.1f (%7.1f) %10.1f (%7.1f) %7.2f (%6.2f) %7.2f\n",
		       pcts[i], bp[i], bf[i], median(&tp[i]), minimum(&tp[i]),
		       median(&tf[i]), minimum(&tf[i]), median(&tr[i]),
		       minimum(&tr[i]), median(&br[i]));
		fprintf(out, "    {\"dirty_pct\": %g, \"stop_copy_bytes_precopy\": %zu, "
			"\"stop_copy_bytes_full\": %zu,\n     ", pcts[i], bp[i], bf[i]);
		json_stat(out, "downtime_ms_precopy", &tp[i], ",\n     ");
		json_stat(out, "downtime_ms_full", &tf[i], ",\n     ");
		json_stat(out, "precopy_over_full_time_pct", &tr[i], ",\n     ");
		json_stat(out, "precopy_over_full_bytes_pct", &br[i], "");
		fprintf(out, "}%s\n", i + 1 < NR_PCTS ? "," : "");
	}
	fprintf(out, "  ]\n}\n");
	if (fclose(out))
		die("write output", -errno);
	free(copy);
	stream_free(&s);
	pair_close(&p);
	return 0;
}
