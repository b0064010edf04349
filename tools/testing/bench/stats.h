/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every benchmark reports of its repetitions: the median, the
 * minimum, and the runs, as a JSON object.
 */
#ifndef MLX5C_BENCH_STATS_H
#define MLX5C_BENCH_STATS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_MAX_REPS	64

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
