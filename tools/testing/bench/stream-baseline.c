// SPDX-License-Identifier: GPL-2.0
/*
 * The overhead baseline of the channels benchmark (make bench): a
 * STOP_COPY migration with no protocol at all.  The source reads its
 * saving fd straight into one TCP socket; the destination reads the socket
 * straight into its resuming fd.  Timed like vfio-mig's downtime with
 * --no-precopy: from the source's first step out of RUNNING to a one-byte
 * acknowledgement the destination sends once its device is RUNNING.
 *
 *   stream-baseline recv BDF [HOST:]PORT   destination (listens first)
 *   stream-baseline send BDF HOST:PORT     source; prints one JSON object
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../selftests/mlx5c/mlx5c_util.h"

#define BUF	(1 << 20)

static char buf[BUF];

static int die(const char *what, int err)
{
	fprintf(stderr, "stream-baseline: %s: %s\n", what, strerror(err));
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* "HOST:PORT" or "PORT" into an address; HOST defaults to any. */
static struct addrinfo *resolve(const char *arg, bool passive)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char host[256] = "", *colon;
	const char *port = arg;
	int ret;

	colon = strrchr(arg, ':');
	if (colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
		port = colon + 1;
	}
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	ret = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
	if (ret) {
		fprintf(stderr, "stream-baseline: %s: %s\n", arg, gai_strerror(ret));
		exit(2);
	}
	return ai;
}

static void open_dev(struct vdev *d, const char *bdf)
{
	int ret = vdev_open(d, bdf);

	if (ret)
		die(bdf, -ret);
}

static int recv_side(const char *bdf, const char *addr)
{
	struct addrinfo *ai = resolve(addr, true);
	int one = 1, lfd, sock, dfd, ret;
	struct vdev d;
	ssize_t n;
	char ack = 'k';

	open_dev(&d, bdf);
	lfd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, ai->ai_addr, ai->ai_addrlen) || listen(lfd, 1))
		die("listen", errno);
	freeaddrinfo(ai);
	ret = mig_set_state(&d, VFIO_DEVICE_STATE_RESUMING, &dfd);
	if (ret)
		die("RESUMING", -ret);
	sock = accept(lfd, NULL, NULL);
	if (sock < 0)
		die("accept", errno);
	while ((n = read(sock, buf, BUF)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("socket read", errno);
		if (write_all(dfd, buf, n) != n)
			die("resuming write", errno);
	}
	ret = mig_set_state(&d, VFIO_DEVICE_STATE_STOP, NULL);
	if (!ret)
		ret = mig_set_state(&d, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		die("RESUMING -> STOP -> RUNNING", -ret);
	if (write(sock, &ack, 1) != 1)
		die("ack", errno);
	close(sock);
	close(dfd);
	vdev_close(&d);
	return 0;
}

static int send_side(const char *bdf, const char *addr)
{
	struct addrinfo *ai = resolve(addr, false);
	long long bytes = 0;
	int sock, sfd, ret;
	struct vdev d;
	double t0, t1;
	ssize_t n;
	char ack;

	open_dev(&d, bdf);
	sock = socket(ai->ai_family, SOCK_STREAM, 0);
	if (sock < 0 || connect(sock, ai->ai_addr, ai->ai_addrlen))
		die("connect", errno);
	freeaddrinfo(ai);

	t0 = now_ms();
	ret = mig_set_state(&d, VFIO_DEVICE_STATE_STOP_COPY, &sfd);
	if (ret)
		die("STOP_COPY", -ret);
	while ((n = read(sfd, buf, BUF)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("saving read", errno);
		if (write_all(sock, buf, n) != n)
			die("socket write", errno);
		bytes += n;
	}
	shutdown(sock, SHUT_WR);
	if (read(sock, &ack, 1) != 1)
		die("no acknowledgement from the destination", errno ? errno : EPIPE);
	t1 = now_ms();

	close(sfd);
	mig_set_state(&d, VFIO_DEVICE_STATE_STOP, NULL);
	close(sock);
	vdev_close(&d);
	printf("{\"bytes\": %lld, \"ms\": %.3f}\n", bytes, t1 - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return recv_side(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "send"))
		return send_side(argv[2], argv[3]);
	fprintf(stderr, "usage: stream-baseline recv BDF [HOST:]PORT | send BDF HOST:PORT\n");
	return 2;
}
