// SPDX-License-Identifier: GPL-2.0
/*
 * Downtime benchmark (not a test), run in the VM by `make bench`: the
 * stop-copy phase of a migration between two mlx5c functions, with
 * PRE_COPY and with STOP_COPY only, for several fractions of pages
 * dirtied after the precopy rounds.  The stop-copy phase runs from the
 * STOP_COPY request on the source to RESUMING -> STOP done on the
 * destination, all bytes written.  Also the save-then-restore throughput
 * of a full 64 MiB state next to a plain memcpy of it in the same run.
 *
 *   downtime OUT.json
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>

#include "../selftests/mlx5c/mig_common.h"

#define PAGE 4096

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "downtime: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void dirty(uint8_t *mem, size_t size, double pct, unsigned int seed)
{
	size_t pages = size / PAGE, n = pages * pct / 100, step = pages / (n ? n : 1);

	for (size_t i = 0; i < n; i++)
		mem[(1 + i * step % (pages - 1)) * PAGE + seed % PAGE] = seed + i;
}

/* One migration; returns the stop-copy phase in ms, bytes in *bytes. */
static double migrate(struct pair *p, bool precopy, double pct, size_t *bytes)
{
	struct stream s = { 0 };
	size_t sent = 0;
	int sfd, dfd, ret;
	double t0, t1;

	ret = mig_set_state(&p->dst, ST(RESUMING), &dfd);
	if (ret)
		die("dst RESUMING", ret);
	if (precopy) {
		ret = mig_set_state(&p->src, ST(PRE_COPY), &sfd);
		if (ret)
			die("src PRE_COPY", ret);
		if (stream_drain(&s, sfd) < 0)
			die("precopy read", -EIO);
		stream_write(dfd, s.data, s.len, 0);
		sent = s.len;
	}
	dirty(p->src.bar2, p->src.bar2_size, pct, (unsigned int)pct * 7 + 1);

	t0 = now_ms();
	if (precopy)
		ret = mig_set_state(&p->src, ST(STOP_COPY), NULL);
	else
		ret = mig_set_state(&p->src, ST(STOP_COPY), &sfd);
	if (ret)
		die("src STOP_COPY", ret);
	ret = stream_read(&s, sfd);
	if (ret)
		die("stop-copy read", ret);
	ret = stream_write(dfd, s.data + sent, s.len - sent, 0);
	if (!ret)
		ret = mig_set_state(&p->dst, ST(STOP), NULL);
	if (ret)
		die("dst load", ret);
	t1 = now_ms();

	*bytes = s.len - sent;
	close(sfd);
	close(dfd);
	if (mig_set_state(&p->src, ST(RUNNING), NULL) ||
	    mig_set_state(&p->dst, ST(RUNNING), NULL))
		die("back to RUNNING", -EIO);
	if (memcmp(p->src.bar2, p->dst.bar2, p->src.bar2_size))
		die("destination differs", -EIO);
	stream_free(&s);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	static const double pcts[] = { 0.1, 1, 10 };
	struct pair p;
	FILE *out;
	uint8_t *copy;
	double t0, memcpy_ms, full_ms;
	size_t bytes;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: downtime OUT.json\n");
		return 2;
	}
	ret = pair_open(&p);
	if (ret)
		die("open the two functions", ret);
	fill_pattern(p.src.bar2, p.src.bar2_size, 1);

	/* Throughput of save-then-restore next to memcpy, same run. */
	/* A plain memcpy between two faulted-in RAM buffers. */
	copy = malloc(2 * p.src.bar2_size);
	if (!copy)
		die("malloc", -ENOMEM);
	memcpy(copy, p.src.bar2, p.src.bar2_size);
	memset(copy + p.src.bar2_size, 0, p.src.bar2_size);
	t0 = now_ms();
	memcpy(copy + p.src.bar2_size, copy, p.src.bar2_size);
	memcpy_ms = now_ms() - t0;
	if (memcmp(copy + p.src.bar2_size, p.src.bar2, p.src.bar2_size))
		die("memcpy", -EIO);
	full_ms = migrate(&p, false, 0, &bytes);
	printf("64 MiB: memcpy %.1f ms, save+restore %.1f ms (%.2fx memcpy), %.0f MB/s\n",
	       memcpy_ms, full_ms, full_ms / memcpy_ms,
	       p.src.bar2_size / full_ms / 1e3);
	free(copy);

	out = fopen(argv[1], "w");
	if (!out)
		die("open output", -errno);
	printf("%8s %16s %16s %12s %12s %8s %8s\n", "dirty%", "bytes_precopy",
	       "bytes_full", "ms_precopy", "ms_full", "bytes%", "time%");
	fprintf(out, "[\n");
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		size_t bp, bf;
		double tp = migrate(&p, true, pcts[i], &bp);
		double tf = migrate(&p, false, pcts[i], &bf);

		printf("%8.1f %16zu %16zu %12.1f %12.1f %7.2f%% %7.2f%%\n",
		       pcts[i], bp, bf, tp, tf, 100.0 * bp / bf, 100.0 * tp / tf);
		fprintf(out, "  {\"dirty_pct\": %g, \"stop_copy_bytes_precopy\": %zu, "
			"\"stop_copy_bytes_full\": %zu, \"downtime_ms_precopy\": %.2f, "
			"\"downtime_ms_full\": %.2f}%s\n", pcts[i], bp, bf, tp, tf,
			i + 1 < sizeof(pcts) / sizeof(pcts[0]) ? "," : "");
	}
	fprintf(out, "]\n");
	fclose(out);
	pair_close(&p);
	return 0;
}
