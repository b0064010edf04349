// SPDX-License-Identifier: GPL-2.0
/*
 * Transport benchmark, run on the host by `make bench`: vfio-mig's
 * multi-channel transport (tools/vfio-mig, clear text) over loopback TCP,
 * with the same in-memory source and sink as a plain single-stream copy.
 *
 *   transport-bench OUT.json
 *
 * Figures (each the median, with the minimum, of per-repetition ratios of
 * two runs made back to back, their order alternating):
 *   n1_uncapped_over_raw         1 channel, no rate cap / raw copy
 *   capped_4_over_1              4 channels / 1 channel, every data socket
 *                                paced to the same per-flow cap
 *   skew_over_uncapped_fraction  skew_channels channels at the cap with
 *                                channel 0 paced to 1/10 of it / the same
 *                                channels all at the cap
 * BENCH_REPS (default 5, at least 5), BENCH_CAP (bytes/s per flow, default
 * 25000000), BENCH_MIB (uncapped stream, default 256), BENCH_CAPPED_MIB
 * (4 over 1 channel, default 32), BENCH_SKEW_MIB (skew pair, default
 * 128), BENCH_SKEW_CHANNELS (default 4) and
 * BENCH_WINDOW (bytes per channel, default vfio-mig's) and BENCH_COMMIT
 * (recorded as is) override the setup.  Exit 1 if any run
 * fails or loads a byte wrong.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "stats.h"
#include "transport.h"
#include "util.h"

#define CHUNK		(1u << 20)

struct mem {
	uint8_t *p;
	size_t size, pos;
};

static struct mem src, dst;
static uint64_t window;		/* per channel */

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;

	if (m->pos >= m->size)
		return 0;
	if (len > m->size - m->pos)
		len = m->size - m->pos;
	memcpy(buf, m->p + m->pos, len);
	m->pos += len;
	return len;
}

static ssize_t dst_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	if (len > m->size - m->pos)
		return -ENOSPC;
	memcpy(m->p + m->pos, buf, len);
	m->pos += len;
	return len;
}

/* Fresh run over the first @size bytes: the sink must be written again. */
static void reset(size_t size)
{
	src.pos = 0;
	src.size = size;
	dst.pos = 0;
	dst.size = size;
	memset(dst.p, 0, 4096);
}

static int verify(size_t size, const char *what)
{
	if (dst.pos != size || memcmp(src.p, dst.p, size)) {
		fprintf(stderr, "transport-bench: %s: %zu of %zu bytes, %s\n",
			what, dst.pos, size,
			dst.pos == size ? "content differs" : "short");
		return -EIO;
	}
	return 0;
}

static int listen_any(int *port)
{
	char err[200];
	int fd = vmig_listen("127.0.0.1", "0", err, sizeof(err));

	if (fd < 0) {
		fprintf(stderr, "transport-bench: %s\n", err);
		return fd;
	}
	*port = vmig_local_port(fd);
	return fd;
}

/* ----------------------------------------------------------- raw copy */

struct raw_rx {
	int lfd;
	size_t size;
	int ret;
};

static void *raw_rx_main(void *arg)
{
	struct raw_rx *r = arg;
	static uint8_t buf[CHUNK];
	uint8_t ack = 1;
	int fd = accept(r->lfd, NULL, NULL);
	ssize_t n;

	r->ret = -EIO;
	if (fd < 0)
		return NULL;
	while (dst.pos < r->size) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (dst_write(&dst, buf, n) != n)
			break;
	}
	if (dst.pos == r->size && write(fd, &ack, 1) == 1)
		r->ret = 0;
	close(fd);
	return NULL;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* One TCP stream: read a chunk from the source, write it, until the end. */
static int run_raw(size_t size, double *secs)
{
	static uint8_t buf[CHUNK];
	struct raw_rx r = { .size = size };
	char err[200], port[16];
	uint64_t t0, t1;
	pthread_t thr;
	uint8_t ack;
	int fd, p, ret = 0;
	ssize_t n;

	reset(size);
	r.lfd = listen_any(&p);
	if (r.lfd < 0)
		return r.lfd;
	snprintf(port, sizeof(port), "%d", p);
	pthread_create(&thr, NULL, raw_rx_main, &r);
	t0 = now_us();
	fd = vmig_dial("127.0.0.1", port, 5000, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "transport-bench: raw: %s\n", err);
		shutdown(r.lfd, SHUT_RDWR);
		ret = fd;
	}
	while (fd >= 0 && (n = src_read(&src, buf, sizeof(buf))) > 0)
		if ((ret = write_all(fd, buf, n)))
			break;
	if (fd >= 0 && !ret && read(fd, &ack, 1) != 1)
		ret = -EIO;
	t1 = now_us();
	if (fd >= 0)
		close(fd);
	pthread_join(thr, NULL);
	close(r.lfd);
	if (!ret)
		ret = r.ret;
	if (!ret)
		ret = verify(size, "raw");
	*secs = (t1 - t0) / 1e6;
	return ret;
}

/* ------------------------------------------------------------ vfio-mig */

struct mig_rx {
	int lfd;
	int ret;
	char err[400];
};

static void *mig_rx_main(void *arg)
{
	struct mig_rx *r = arg;
	struct rx_config cfg = { .max_chunk = VMIG_MAX_CHUNK,
				 .timeout_ms = 5000, .progress_ms = 30000 };
	struct vmig_sink sink = { dst_write, &dst };
	struct vmig_hs_state st = { 0 };
	int ctrl, data[VMIG_MAX_CHANNELS];
	struct rx *rx;

	r->ret = rx_accept(r->lfd, &cfg, &st, &ctrl, data, r->err,
			   sizeof(r->err));
	if (r->ret)
		return NULL;
	rx = rx_start(&cfg, &st, ctrl, data, &sink);
	if (!rx) {
		r->ret = -ENOMEM;
		return NULL;
	}
	r->ret = rx_wait(rx);
	if (!r->ret)
		r->ret = rx_loaded(rx, 0);
	if (!r->ret)
		r->ret = rx_wait_commit(rx);
	if (!r->ret)
		r->ret = rx_started(rx, 0, true);
	if (r->ret)
		rx_error(rx, r->err, sizeof(r->err));
	rx_destroy(rx);
	return NULL;
}

/*
 * One vfio-mig session, as `save --insecure` runs the stop-copy phase:
 * connect, read the source to its end, wait for LOADED (the time stops
 * there), COMMIT, STARTED.
 */
static int run_mig(size_t size, unsigned n, const uint64_t *rate,
		   double *secs)
{
	struct tx_config cfg = {
		.channels = n, .chunk = CHUNK,
		.window = window * n,
		.timeout_ms = 5000, .progress_ms = 30000,
	};
	struct vmig_source s = { src_read, &src };
	int ctrl, data[VMIG_MAX_CHANNELS], ret, p;
	struct mig_rx r = { 0 };
	char err[400], port[16];
	struct vmig_done done;
	struct tx *tx = NULL;
	uint64_t t0, t1 = 0, got;
	pthread_t thr;

	reset(size);
	memcpy(cfg.chan_rate, rate, sizeof(cfg.chan_rate));
	r.lfd = listen_any(&p);
	if (r.lfd < 0)
		return r.lfd;
	snprintf(port, sizeof(port), "%d", p);
	pthread_create(&thr, NULL, mig_rx_main, &r);
	t0 = now_us();
	ret = tx_connect("127.0.0.1", port, &cfg, &ctrl, data, err,
			 sizeof(err));
	if (ret) {
		fprintf(stderr, "transport-bench: %u channel(s): %s\n", n, err);
		shutdown(r.lfd, SHUT_RDWR);
	} else {
		tx = tx_start(&cfg, ctrl, data);
		ret = tx ? tx_pump(tx, &s, VMIG_CHUNK_STOPCOPY, &got) : -ENOMEM;
		if (!ret)
			ret = tx_finish(tx, &done);
		t1 = now_us();
		if (!ret)
			ret = tx_commit(tx);
		if (!ret)
			ret = tx_wait_started(tx, &done);
		if (ret && tx && tx_error(tx, err, sizeof(err)))
			fprintf(stderr, "transport-bench: %u channel(s): %s\n",
				n, err);
		tx_destroy(tx);
	}
	pthread_join(thr, NULL);
	close(r.lfd);
	if (!ret && r.ret) {
		fprintf(stderr, "transport-bench: destination: %s\n", r.err);
		ret = r.ret;
	}
	if (!ret)
		ret = verify(size, "vfio-mig");
	*secs = (t1 - t0) / 1e6;
	return ret;
}

/* ------------------------------------------------------------ figures */

enum { RAW, N1, CAP1, CAP4, CAPN, SKEW, NR_CASES };

static const char *const case_name[NR_CASES] = {
	"raw_1_stream_uncapped", "vfio_mig_1_channel_uncapped",
	"vfio_mig_1_channel_capped", "vfio_mig_4_channels_capped",
	"vfio_mig_n_channels_capped", "vfio_mig_n_channels_skewed",
};

static uint64_t cap, uncapped_size, capped_size, skew_size;
static unsigned skew_n, reps;

static int run_case(int c, double *mbs)
{
	uint64_t rate[VMIG_MAX_CHANNELS] = { 0 };
	size_t size = c <= N1 ? uncapped_size :
		      c == CAPN || c == SKEW ? skew_size : capped_size;
	unsigned i, n = 1;
	double secs = 0;
	int ret;

	if (c == CAP1 || c == CAP4 || c == CAPN || c == SKEW) {
		n = c == CAP1 ? 1 : c == CAP4 ? 4 : skew_n;
		for (i = 0; i < n; i++)
			rate[i] = cap;
		if (c == SKEW)
			rate[0] = cap / 10;
	}
	ret = c == RAW ? run_raw(size, &secs) : run_mig(size, n, rate, &secs);
	*mbs = ret || secs <= 0 ? 0 : size / secs / 1e6;
	if (ret)
		fprintf(stderr, "transport-bench: %s failed: %s\n",
			case_name[c], strerror(-ret));
	return ret;
}

struct figure {
	const char *name;
	int num, den;
	double ratio[BENCH_MAX_REPS];
	double rate[2][BENCH_MAX_REPS];	/* MB/s of num and den */
};

/*
 * @reps pairs of runs, the order alternating (num first on even
 * repetitions), after one warm-up pair whose results are dropped.
 */
static int measure(struct figure *f)
{
	double a, b;
	unsigned r;
	int ret;

	ret = run_case(f->num, &a) ?: run_case(f->den, &b);
	if (ret)
		return ret;
	for (r = 0; r < reps; r++) {
		if (r % 2 == 0)
			ret = run_case(f->num, &a) ?: run_case(f->den, &b);
		else
			ret = run_case(f->den, &b) ?: run_case(f->num, &a);
		if (ret)
			return ret;
		f->rate[0][r] = a;
		f->rate[1][r] = b;
		f->ratio[r] = a / b;
		fprintf(stderr, "transport-bench: %s %u/%u: %.1f / %.1f MB/s = %.3f\n",
			f->name, r + 1, reps, a, b, a / b);
	}
	return 0;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

int main(int argc, char **argv)
{
	struct figure fig[3] = {
		{ .name = "n1_uncapped_over_raw", .num = N1, .den = RAW },
		{ .name = "capped_4_over_1", .num = CAP4, .den = CAP1 },
		{ .name = "skew_over_uncapped_fraction", .num = SKEW,
		  .den = CAPN },
	};
	const char *commit = getenv("BENCH_COMMIT");
	struct utsname u;
	uint64_t max;
	size_t i;
	FILE *o;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT.json\n", argv[0]);
		return 2;
	}
	reps = env_u64("BENCH_REPS", 5);
	cap = env_u64("BENCH_CAP", 25000000);
	uncapped_size = env_u64("BENCH_MIB", 256) << 20;
	capped_size = env_u64("BENCH_CAPPED_MIB", 32) << 20;
	skew_size = env_u64("BENCH_SKEW_MIB", 128) << 20;
	skew_n = env_u64("BENCH_SKEW_CHANNELS", 4);
	window = env_u64("BENCH_WINDOW", VMIG_DEFAULT_WINDOW);
	if (reps < 5 || reps > BENCH_MAX_REPS || skew_n < 2 || skew_n > VMIG_MAX_CHANNELS ||
	    cap < 100000 || !uncapped_size || !capped_size || !skew_size ||
	    window < CHUNK) {
		fprintf(stderr, "transport-bench: BENCH_REPS 5..64, BENCH_SKEW_CHANNELS 2..16, BENCH_CAP >= 100000\n");
		return 2;
	}
	/* buffers sized and touched before the first run */
	max = uncapped_size;
	if (capped_size > max)
		max = capped_size;
	if (skew_size > max)
		max = skew_size;
	src.p = malloc(max);
	dst.p = malloc(max);
	if (!src.p || !dst.p)
		return 1;
	for (i = 0; i < max; i++)
		src.p[i] = (uint8_t)(i * 2654435761u >> 13);
	memset(dst.p, 0, max);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < 3; i++)
		if (measure(&fig[i]))
			return 1;

	o = fopen(argv[1], "w");
	if (!o) {
		perror(argv[1]);
		return 1;
	}
	uname(&u);
	fprintf(o, "{\n");
	for (i = 0; i < 3; i++)
		fprintf(o, "  \"%s\": %.3f,\n", fig[i].name,
			bench_median(fig[i].ratio, reps));
	fprintf(o, "  \"skew_channels\": %u,\n  \"figures\": {\n", skew_n);
	for (i = 0; i < 3; i++) {
		fprintf(o, "    \"%s\": {\n      \"ratio\": ", fig[i].name);
		bench_json_stats(o, fig[i].ratio, reps, 3);
		fprintf(o, ",\n      \"%s_mbytes_per_s\": ", case_name[fig[i].num]);
		bench_json_stats(o, fig[i].rate[0], reps, 1);
		fprintf(o, ",\n      \"%s_mbytes_per_s\": ", case_name[fig[i].den]);
		bench_json_stats(o, fig[i].rate[1], reps, 1);
		fprintf(o, "\n    }%s\n", i < 2 ? "," : "");
	}
	fprintf(o, "  },\n  \"context\": {\n");
	fprintf(o, "    \"commit\": \"%s\",\n", commit ? commit : "unknown");
	fprintf(o, "    \"repetitions\": %u,\n    \"warm_up_pairs\": 1,\n", reps);
	fprintf(o, "    \"order\": \"alternating within each pair\",\n");
	fprintf(o, "    \"kernel\": \"%s %s\",\n", u.sysname, u.release);
	fprintf(o, "    \"host_cores\": %ld,\n", sysconf(_SC_NPROCESSORS_ONLN));
	fprintf(o, "    \"link\": \"loopback TCP on the host, clear text (no TLS)\",\n");
	fprintf(o, "    \"per_flow_cap_bytes_per_s\": %llu,\n",
		(unsigned long long)cap);
	fprintf(o, "    \"cap_method\": \"SO_MAX_PACING_RATE on each data socket\",\n");
	fprintf(o, "    \"uncapped_stream_bytes\": %llu,\n    \"capped_stream_bytes\": %llu,\n"
		"    \"skew_stream_bytes\": %llu,\n",
		(unsigned long long)uncapped_size,
		(unsigned long long)capped_size,
		(unsigned long long)skew_size);
	fprintf(o, "    \"chunk_bytes\": %u,\n    \"window_per_channel_bytes\": %llu,\n",
		CHUNK, (unsigned long long)window);
	fprintf(o, "    \"mbytes\": \"10^6 bytes; time from connect to LOADED (raw: to the receiver's ack)\"\n");
	fprintf(o, "  }\n}\n");
	if (fclose(o)) {
		perror(argv[1]);
		return 1;
	}
	for (i = 0; i < 3; i++)
		printf("%-28s median %.3f  min %.3f\n", fig[i].name,
		       bench_median(fig[i].ratio, reps), bench_minimum(fig[i].ratio, reps));
	printf("wrote %s\n", argv[1]);
	free(src.p);
	free(dst.p);
	return 0;
}
