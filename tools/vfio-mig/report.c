// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "util.h"
#include "vfio_dev.h"

void progress_init(struct progress *p, bool enabled)
{
	memset(p, 0, sizeof(*p));
	p->on = enabled && isatty(STDERR_FILENO);
	p->start_us = p->last_us = now_us();
}

void progress_show(struct progress *p, const char *phase, uint64_t bytes)
{
	uint64_t now = now_us();
	double dt;
	char b[32];

	if (!p->on || now - p->last_us < 100000)
		return;
	dt = (now - p->last_us) / 1e6;
	p->rate = 0.7 * p->rate + 0.3 * ((bytes - p->last_bytes) / dt);
	p->last_us = now;
	p->last_bytes = bytes;
	fprintf(stderr, "\r\033[K%-10s %12s  %8.1f MiB/s  %6.1f s", phase,
		fmt_bytes(bytes, b, sizeof(b)), p->rate / MIB,
		(now - p->start_us) / 1e6);
	fflush(stderr);
}

void progress_end(struct progress *p)
{
	if (p->on)
		fprintf(stderr, "\r\033[K");
}

static void json_channels(FILE *f, unsigned n,
			  const struct vmig_chan_stats *cs)
{
	unsigned i;

	fprintf(f, "[");
	for (i = 0; i < n; i++) {
		double secs = cs[i].busy_us / 1e6;

		fprintf(f, "%s\n      {\"index\": %u, \"bytes\": %llu, \"chunks\": %llu, "
			"\"seconds\": %.3f, \"throughput_bytes_per_s\": %.0f}",
			i ? "," : "", i, (unsigned long long)cs[i].bytes,
			(unsigned long long)cs[i].chunks, secs,
			secs > 0 ? cs[i].bytes / secs : 0.0);
	}
	fprintf(f, "%s]", n ? "\n    " : "");
}

static void json_common(FILE *f, const struct mig_report *r)
{
	fprintf(f, "    \"device\": ");
	json_str(f, r->device);
	fprintf(f, ",\n    \"exit_code\": %d,\n    \"error\": ", r->exit_code);
	if (r->error[0])
		json_str(f, r->error);
	else
		fprintf(f, "null");
	fprintf(f, ",\n    \"final_state\": ");
	if (r->state_known)
		json_str(f, vdev_state_name(r->final_state));
	else
		fprintf(f, "null");
	fprintf(f, ",\n");
}

static void json_source(FILE *f, const struct mig_report *r)
{
	fprintf(f, "  \"source\": {\n");
	json_common(f, r);
	fprintf(f, "    \"precopy\": %s,\n    \"precopy_info_v2\": %s,\n",
		r->precopy ? "true" : "false", r->v2 ? "true" : "false");
	fprintf(f, "    \"data_size\": %llu,\n",
		(unsigned long long)r->data_size);
	fprintf(f, "    \"bytes\": {\"precopy\": %llu, \"stopcopy\": %llu, \"total\": %llu},\n",
		(unsigned long long)r->precopy_bytes,
		(unsigned long long)r->stopcopy_bytes,
		(unsigned long long)(r->precopy_bytes + r->stopcopy_bytes));
	fprintf(f, "    \"chunks\": %llu,\n    \"rounds\": %u,\n    \"reinits\": %u,\n",
		(unsigned long long)r->chunks, r->rounds, r->reinits);
	fprintf(f, "    \"policy\": {\"decision\": ");
	json_str(f, r->decision ? r->decision : "none");
	fprintf(f, ", \"downtime_limit_ms\": %llu, \"last_initial_bytes\": %llu, "
		"\"last_dirty_bytes\": %llu, \"last_data_size_bytes\": %llu, "
		"\"remaining_bytes\": %llu, \"bandwidth_bytes_per_s\": %llu, "
		"\"estimate_ms\": ",
		(unsigned long long)r->downtime_limit_ms,
		(unsigned long long)r->last_initial,
		(unsigned long long)r->last_dirty,
		(unsigned long long)r->last_data_size,
		(unsigned long long)r->remaining,
		(unsigned long long)r->bandwidth);
	if (r->estimate_ms == UINT64_MAX)
		fprintf(f, "null},\n");
	else
		fprintf(f, "%llu},\n", (unsigned long long)r->estimate_ms);
	fprintf(f, "    \"downtime_ms\": %.3f,\n    \"destination_resume_ms\": %.3f,\n"
		"    \"destination_started\": %s,\n"
		"    \"total_ms\": %.3f,\n    \"dirty_bytes_written\": %llu,\n",
		r->downtime_ms, r->dst_resume_ms,
		r->dst_started ? "true" : "false", r->total_ms,
		(unsigned long long)r->dirty_written);
	fprintf(f, "    \"max_inflight_bytes\": %llu,\n    \"channels\": ",
		(unsigned long long)r->tx.max_inflight);
	json_channels(f, r->have_tx ? r->tx.channels : 0, r->tx.chan);
	fprintf(f, "\n  }");
}

static void json_dest(FILE *f, const struct mig_report *r)
{
	fprintf(f, "  \"destination\": {\n");
	json_common(f, r);
	fprintf(f, "    \"bytes_written\": %llu,\n    \"chunks\": %llu,\n"
		"    \"stopcopy_bytes\": %llu,\n    \"resume_ms\": %.3f,\n"
		"    \"max_buffered_bytes\": %llu,\n    \"out_of_order_chunks\": %llu,\n"
		"    \"crc\": %s,\n    \"channels\": ",
		(unsigned long long)r->rx.written_bytes,
		(unsigned long long)r->rx.written_chunks,
		(unsigned long long)r->rx.stopcopy_bytes, r->resume_ms,
		(unsigned long long)r->rx.max_buffered,
		(unsigned long long)r->rx.out_of_order,
		r->rx.crc_seen ? "true" : "false");
	json_channels(f, r->have_rx ? r->rx.channels : 0, r->rx.chan);
	fprintf(f, "\n  }");
}

void report_json(FILE *f, const struct mig_report *src,
		 const struct mig_report *dst)
{
	int code = 0;

	if (src && src->present)
		code = src->exit_code;
	if (!code && dst && dst->present)
		code = dst->exit_code;
	/* 5: this side stopped, the peer's outcome unknown (mig.h) */
	fprintf(f, "{\n  \"result\": \"%s\",\n  \"exit_code\": %d",
		!code ? "ok" : code == 5 ? "unknown" : "failed", code);
	if (src && src->present) {
		fprintf(f, ",\n");
		json_source(f, src);
	}
	if (dst && dst->present) {
		fprintf(f, ",\n");
		json_dest(f, dst);
	}
	fprintf(f, "\n}\n");
	fflush(f);
}
