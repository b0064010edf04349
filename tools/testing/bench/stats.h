/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every benchmark reports of its repetitions: the median, the
 * minimum, and the runs, as a JSON object; and what the VM benchmarks
 * share: their clock, their repetitions, the memcpy they compare with.
 */
#ifndef MLX5C_BENCH_STATS_H
#define MLX5C_BENCH_STATS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_REPS	64

/* The values of one figure, one per repetition. */
struct stat_set {
	double v[BENCH_MAX_REPS];
	unsigned int n;
};

static inline double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A plain memcpy of @size bytes between two touched buffers, in ms. */
static inline double bench_memcpy_ms(unsigned char *copy, size_t size)
{
	double t0 = bench_now_ms();

	memcpy(copy + size, copy, size);
	return bench_now_ms() - t0;
}

/* MLX5C_BENCH_REPS (default 5, 1..BENCH_MAX_REPS); exits 2 if invalid. */
static inline unsigned int bench_reps_from_env(const char *prog)
{
	const char *v = getenv("MLX5C_BENCH_REPS");
	long n = v ? strtol(v, NULL, 10) : 5;

	if (n < 1 || n > BENCH_MAX_REPS) {
		fprintf(stderr, "%s: MLX5C_BENCH_REPS must be 1..%d\n", prog,
			BENCH_MAX_REPS);
		exit(2);
	}
	if (n < 5)
		fprintf(stderr, "%s: %ld repetitions: a quick look, not a figure\n",
			prog, n);
	return n;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* @n: 1..BENCH_MAX_REPS */
static inline double bench_median(const double *v, unsigned int n)
{
	double s[BENCH_MAX_REPS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), bench_cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static inline double bench_minimum(const double *v, unsigned int n)
{
	double m = v[0];
	unsigned int i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

/* {"median": M, "min": m, "runs": [...]} with @prec decimals */
static inline void bench_json_stats(FILE *o, const double *v, unsigned int n,
				    int prec)
{
	unsigned int i;

	fprintf(o, "{\"median\": %.*f, \"min\": %.*f, \"runs\": [", prec,
		bench_median(v, n), prec, bench_minimum(v, n));
	for (i = 0; i < n; i++)
		fprintf(o, "%s%.*f", i ? ", " : "", prec, v[i]);
	fprintf(o, "]}");
}

#endif
