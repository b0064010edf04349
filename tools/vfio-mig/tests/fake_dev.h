/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fake VFIO migration device for the host tests: a saving stream with
 * initial, dirty and final parts (deterministic bytes), precopy info with
 * optional PRECOPY_INFOv2/REINIT, a resuming side that checks every byte,
 * fault injection and a trace of the states it went through.
 */
#ifndef VFIO_MIG_FAKE_DEV_H
#define VFIO_MIG_FAKE_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../vfio_dev.h"

#define FAKE_REGION_SIZE	65536

struct fake_dev {
	struct vdev vd;
	pthread_mutex_t lock;
	uint64_t flags;
	uint32_t state;
	uint64_t seed;
	bool v2_supported, v2_on;
	/* source stream */
	uint64_t initial_size;		/* initial data at PRE_COPY entry */
	uint64_t dirty_per_round;	/* new data per precopy info */
	uint64_t final_size;		/* added at STOP_COPY */
	unsigned reinit_at;		/* info call that reports REINIT */
	uint64_t reinit_size;
	uint64_t produced, pos, initial_end;
	unsigned info_calls;
	/* destination */
	uint64_t received;
	bool mismatch;
	uint64_t expect_size;		/* RESUMING -> STOP needs this (0: any) */
	uint64_t fail_write_after;	/* 0 = never */
	unsigned write_delay_ms;	/* a slow destination: each write waits */
	/* faults */
	uint32_t fail_state;		/* refuse entering this state */
	bool fail_state_on;
	/* a read in STOP_COPY blocks (in poll) until this much time passed */
	unsigned block_read_ms;
	uint64_t block_start_us;
	unsigned interrupted_reads;	/* returned -EINTR */
	/* drained in PRE_COPY: read returns 0 (as mtty does), not -ENOMSG */
	bool zero_when_drained;
	/* PRE_COPY never drains: there is always more to read */
	bool endless_precopy;
	/* MIG_DATA_SIZE: this value (0: final_size), or -ENOTTY */
	uint64_t data_size;
	bool no_data_size;
	unsigned data_size_calls;
	/* bookkeeping */
	uint32_t trace[32];
	unsigned ntrace;
	unsigned resets;
	uint8_t region[FAKE_REGION_SIZE];
	uint64_t region_sum_at_switch;
	bool region_summed;
};

void fake_init(struct fake_dev *f, const char *name, uint64_t flags,
	       uint64_t seed);
void fake_destroy(struct fake_dev *f);
uint64_t fake_region_sum(struct fake_dev *f);
bool fake_trace_is(struct fake_dev *f, const uint32_t *states, unsigned n);

#endif
