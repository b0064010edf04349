// SPDX-License-Identifier: GPL-2.0
/*
 * Flow control: the credit window.  The destination acknowledges what it
 * has written (CREDIT); the source reads a chunk only when it fits in the
 * window and gives up when the destination stops writing; the destination
 * refuses to hold more than the window plus one chunk.
 * See transport_int.h and Documentation/vfio-mig.rst.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "transport_int.h"

int tx_on_credit(struct tx *tx, const uint8_t *p, uint16_t len)
{
	uint64_t seq, bytes;

	if (len != 16)
		return -EPROTO;
	seq = get_be64(p);
	bytes = get_be64(p + 8);
	pthread_mutex_lock(&tx->s.lock);
	if (bytes > tx->off || bytes < tx->acked || seq > tx->seq) {
		pthread_mutex_unlock(&tx->s.lock);
		return -EPROTO;
	}
	if (bytes > tx->acked)
		tx->acked_us = now_us();
	tx->acked = bytes;
	tx->acked_seq = seq;
	tx->st.acked_bytes = bytes;
	pthread_cond_broadcast(&tx->s.cond);
	pthread_mutex_unlock(&tx->s.lock);
	return 0;
}

/*
 * Wait on the session's condition for at most 50 ms; with a progress
 * deadline, fail the session when the destination has acknowledged
 * nothing new for that long while we wait for it (a peer that answers
 * pings but does not write).  Caller holds the lock; false if it failed.
 */
bool tx_wait_ack(struct tx *tx, const char *what)
{
	uint64_t since, idle;
	struct timespec ts;

	deadline_in(&ts, 50);
	pthread_cond_timedwait(&tx->s.cond, &tx->s.lock, &ts);
	if (tx->s.poisoned || !tx->cfg.progress_ms)
		return !tx->s.poisoned;
	since = tx->acked_us;
	idle = now_us() - since;
	if (idle <= (uint64_t)tx->cfg.progress_ms * 1000)
		return true;
	pthread_mutex_unlock(&tx->s.lock);
	session_fail(&tx->s, false, -ETIMEDOUT,
		     "the destination wrote nothing for %d ms while we waited for %s (written through byte %llu)",
		     tx->cfg.progress_ms, what,
		     (unsigned long long)tx->acked);
	pthread_mutex_lock(&tx->s.lock);
	return false;
}

uint64_t tx_wait_credit(struct tx *tx)
{
	uint64_t room = 0;

	pthread_mutex_lock(&tx->s.lock);
	if (tx->off + tx->cfg.chunk > tx->acked + tx->cfg.window)
		tx->acked_us = now_us();	/* the deadline runs from here */
	while (!tx->s.poisoned &&
	       tx->off + tx->cfg.chunk > tx->acked + tx->cfg.window)
		if (!tx_wait_ack(tx, "credit"))
			break;
	if (!tx->s.poisoned)
		room = tx->acked + tx->cfg.window - tx->off;
	pthread_mutex_unlock(&tx->s.lock);
	return room;
}

/*
 * The receiver's half of the window: admit a chunk of @h->len bytes only
 * if what is held stays within the granted window plus one chunk, so a
 * source that ignores the window cannot make us hold more.  Counts the
 * bytes as held.  0, or the session fails and -EPROTO.
 */
int rx_window_admit(struct rx_chan *ch, const struct vmig_chunk_hdr *h)
{
	struct rx *rx = ch->rx;
	uint64_t held;

	/* checked and counted under one lock: channels admit concurrently */
	pthread_mutex_lock(&rx->s.lock);
	held = rx->st.buffered;
	if (held + h->len > rx->limit) {
		pthread_mutex_unlock(&rx->s.lock);
		return rx_chan_fail(ch, -EPROTO,
				    "source overran the window: chunk seq %llu (%u bytes) with %llu bytes held, limit %llu (window %llu + one chunk)",
				    (unsigned long long)h->seq, h->len,
				    (unsigned long long)held,
				    (unsigned long long)rx->limit,
				    (unsigned long long)rx->hs.window);
	}
	rx->st.buffered += h->len;
	if (rx->st.buffered > rx->st.max_buffered)
		rx->st.max_buffered = rx->st.buffered;
	if (h->len > rx->st.max_alloc)
		rx->st.max_alloc = h->len;
	pthread_mutex_unlock(&rx->s.lock);
	return 0;
}

int rx_send_credit(struct rx *rx, uint64_t seq, uint64_t bytes)
{
	uint8_t p[16];

	put_be64(p, seq);
	put_be64(p + 8, bytes);
	return ctrl_send(&rx->s, VMIG_CTRL_CREDIT, p, sizeof(p));
}
