// SPDX-License-Identifier: GPL-2.0
/*
 * The session shared by both ends: the first failure poisons it, wakes
 * every waiter and shuts every socket down; the watcher thread turns a
 * signal or a cancel flag into a failure, sends PINGs and enforces the
 * progress deadline.
 * See transport_int.h and Documentation/vfio-mig.rst.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_int.h"

static void kick_handler(int sig)
{
	(void)sig;
}

/*
 * SIGURG (ignored by default) interrupts a blocked device read: its
 * handler is installed without SA_RESTART, so read() returns EINTR.
 */
void kick_setup(void)
{
	struct sigaction sa = { .sa_handler = kick_handler }, old;

	if (sigaction(SIGURG, NULL, &old) || old.sa_handler != SIG_DFL)
		return;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGURG, &sa, NULL);
}

/* An absolute CLOCK_MONOTONIC time @ms from now. */
void deadline_in(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * Every chunk is a malloc() of up to VMIG_MAX_CHUNK, freed once sent or
 * written.  With glibc's defaults that memory goes back to the kernel on
 * free() (an mmap()ed block, or the top of a heap that is then trimmed),
 * so its pages are faulted in and zeroed again for every chunk: the
 * transport spent much of its time in page faults (make bench,
 * n1_uncapped_over_raw).  Serve chunks from the heap and keep up to
 * 64 MiB of freed heap per arena for the next ones; the chunks in flight
 * stay bounded by the window.
 */
static void chunk_malloc_setup(void)
{
	mallopt(M_MMAP_THRESHOLD, 2 * VMIG_MAX_CHUNK);
	mallopt(M_TRIM_THRESHOLD, 4 * VMIG_MAX_CHUNK);
}

void session_init(struct session *s, int ctrl_fd, const int *data_fds,
			 unsigned n, const volatile int *cancel,
			 uint16_t fail_type)
{
	static pthread_once_t malloc_once = PTHREAD_ONCE_INIT;
	pthread_condattr_t ca;
	unsigned i;

	pthread_once(&malloc_once, chunk_malloc_setup);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->ctrl_wlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->cancel = cancel;
	s->fail_type = fail_type;
	s->ctrl_fd = ctrl_fd;
	s->n = n;
	s->last_rx_us = s->last_ping_us = now_us();
	for (i = 0; i < n; i++)
		s->data_fd[i] = data_fds[i];
}

void session_shutdown(struct session *s)
{
	unsigned i;

	shutdown(s->ctrl_fd, SHUT_RDWR);
	for (i = 0; i < s->n; i++)
		shutdown(s->data_fd[i], SHUT_RDWR);
}

void send_error_msg(struct session *s, uint16_t type, int err,
			   const char *msg)
{
	uint8_t buf[VMIG_CTRL_MAX_PAYLOAD];
	size_t len = strlen(msg);

	if (len > sizeof(buf) - 4)
		len = sizeof(buf) - 4;
	put_be32(buf, (uint32_t)-err);
	memcpy(buf + 4, msg, len);
	ctrl_send(s, type, buf, (uint16_t)(len + 4));
}

/*
 * Record the first failure, wake every waiter, tell the peer (unless the
 * failure came from the peer) and shut every socket down.
 */
void session_vfail(struct session *s, bool remote, int err,
			  const char *fmt, va_list ap)
{
	bool first;

	pthread_mutex_lock(&s->lock);
	first = !s->poisoned;
	if (first) {
		s->poisoned = true;
		s->err = err < 0 ? err : -EIO;
		vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (!first)
		return;
	if (!remote && s->fail_type)
		send_error_msg(s, s->fail_type, s->err, s->msg);
	session_shutdown(s);
}

void __attribute__((format(printf, 4, 5)))
session_fail(struct session *s, bool remote, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vfail(s, remote, err, fmt, ap);
	va_end(ap);
}

/*
 * A broken connection is often the peer shutting its sockets down right
 * after it reported the real cause on the control connection: give that
 * message a moment to arrive so that the cause, not the symptom, is
 * reported.
 */
void __attribute__((format(printf, 3, 4)))
session_fail_conn(struct session *s, int err, const char *fmt, ...)
{
	struct timespec ts;
	bool poisoned;
	va_list ap;

	deadline_in(&ts, 1000);	/* generous: a loaded host delays it */
	pthread_mutex_lock(&s->lock);
	while (!s->poisoned &&
	       pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
		;
	poisoned = s->poisoned;
	pthread_mutex_unlock(&s->lock);
	if (poisoned)
		return;
	va_start(ap, fmt);
	session_vfail(s, false, err, fmt, ap);
	va_end(ap);
}

bool session_cancelled(struct session *s)
{
	return vmig_signalled || (s->cancel && *s->cancel) ||
	       __atomic_load_n(&s->test_cancel, __ATOMIC_RELAXED);
}

/*
 * How long the peer has said nothing, at @now.  A channel thread may
 * record bytes from the peer after the caller read @now: that is no
 * silence, not a negative time wrapped around to centuries.
 */
static uint64_t silence_us(struct session *s, uint64_t now)
{
	uint64_t last = __atomic_load_n(&s->last_rx_us, __ATOMIC_RELAXED);

	return now > last ? now - last : 0;
}

/*
 * Turns a signal or the cancel flag into a failure, sends a PING every
 * quarter of the progress deadline and fails the session when the peer has
 * sent nothing at all for the whole deadline (a stopped, hung or
 * black-holed peer that TCP keepalive would not notice).
 */
void *watcher_main(void *arg)
{
	struct session *s = arg;
	uint64_t now, silent;
	struct timespec ts;
	bool ping;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		if (s->poisoned) {
			/* until the reader has left its device read */
			if (s->reading)
				pthread_kill(s->reader, SIGURG);
			deadline_in(&ts, 50);
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			continue;
		}
		if (session_cancelled(s)) {
			pthread_mutex_unlock(&s->lock);
			session_fail(s, false, -ECANCELED,
				     "migration cancelled");
			pthread_mutex_lock(&s->lock);
			continue;
		}
		now = now_us();
		silent = silence_us(s, now);
		if (s->progress_ms && !s->quiet &&
		    silent > (uint64_t)s->progress_ms * 1000) {
			pthread_mutex_unlock(&s->lock);
			session_fail(s, false, -ETIMEDOUT,
				     "nothing from the %s for %llu ms (deadline %d ms)",
				     s->peer, (unsigned long long)(silent / 1000),
				     s->progress_ms);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		ping = s->progress_ms && !s->quiet &&
		       now - s->last_ping_us > (uint64_t)s->progress_ms * 250;
		if (ping) {
			s->last_ping_us = now;
			pthread_mutex_unlock(&s->lock);
			ctrl_send(s, VMIG_CTRL_PING, NULL, 0);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		deadline_in(&ts, 50);
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int session_error(struct session *s, char *buf, size_t len)
{
	int err;

	pthread_mutex_lock(&s->lock);
	err = s->poisoned ? s->err : 0;
	if (buf && len)
		snprintf(buf, len, "%s", s->poisoned ? s->msg : "");
	pthread_mutex_unlock(&s->lock);
	return err;
}

void session_stop_watcher(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->watcher_started)
		pthread_join(s->watcher, NULL);
	s->watcher_started = false;
}

void session_close(struct session *s)
{
	unsigned i;

	close(s->ctrl_fd);
	for (i = 0; i < s->n; i++)
		close(s->data_fd[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->ctrl_wlock);
	pthread_cond_destroy(&s->cond);
}
