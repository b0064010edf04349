/* SPDX-License-Identifier: GPL-2.0 */
/* Progress line on a terminal and the final --json report. */
#ifndef VFIO_MIG_REPORT_H
#define VFIO_MIG_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "transport.h"

struct mig_report {
	bool present;
	const char *device;
	int exit_code;
	char error[400];
	bool state_known;
	uint32_t final_state;

	/* source */
	bool precopy;			/* PRE_COPY used */
	bool v2;			/* PRECOPY_INFOv2 accepted */
	uint64_t data_size;		/* MIG_DATA_SIZE at start, 0 unknown */
	uint64_t precopy_bytes, stopcopy_bytes, chunks;
	unsigned rounds, reinits;
	const char *decision;
	uint64_t downtime_limit_ms;
	uint64_t last_initial, last_dirty, bandwidth, estimate_ms;
	uint64_t last_data_size;	/* MIG_DATA_SIZE at the last round */
	uint64_t remaining;		/* the estimate's bytes */
	double downtime_ms;		/* switchover request -> DONE */
	double dst_resume_ms;		/* reported by the destination */
	bool dst_started;		/* STARTED said the device runs */
	double total_ms;
	uint64_t dirty_written;
	bool have_tx;
	struct tx_stats tx;

	/* destination */
	bool have_rx;
	struct rx_stats rx;
	double resume_ms;		/* last byte written -> RUNNING */
};

struct progress {
	bool on;
	uint64_t start_us, last_us, last_bytes;
	double rate;
};

void progress_init(struct progress *p, bool enabled);
void progress_show(struct progress *p, const char *phase, uint64_t bytes);
void progress_end(struct progress *p);

void report_json(FILE *f, const struct mig_report *src,
		 const struct mig_report *dst);

#endif
