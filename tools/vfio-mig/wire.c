// SPDX-License-Identifier: GPL-2.0
/*
 * Wire format of the vfio-mig transport: handshake, chunk headers and
 * control messages (all big-endian), plus the socket helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"
#include "util.h"

void vmig_hello_encode(const struct vmig_hello *h, uint8_t *b)
{
	memset(b, 0, VMIG_HELLO_SIZE);
	put_be32(b + 0, h->magic);
	put_be16(b + 4, h->version);
	put_be16(b + 6, h->kind);
	put_be64(b + 8, h->session);
	put_be16(b + 16, h->index);
	put_be16(b + 18, h->count);
	put_be32(b + 20, h->max_chunk);
	put_be64(b + 24, h->window);
}

void vmig_hello_decode(const uint8_t *b, struct vmig_hello *h)
{
	h->magic = get_be32(b + 0);
	h->version = get_be16(b + 4);
	h->kind = get_be16(b + 6);
	h->session = get_be64(b + 8);
	h->index = get_be16(b + 16);
	h->count = get_be16(b + 18);
	h->max_chunk = get_be32(b + 20);
	h->window = get_be64(b + 24);
}

void vmig_ack_encode(const struct vmig_ack *a, uint8_t *b)
{
	memset(b, 0, VMIG_ACK_SIZE);
	put_be32(b + 0, a->magic);
	put_be16(b + 4, a->version);
	put_be16(b + 6, a->field);
	put_be64(b + 8, a->expected);
	put_be64(b + 16, a->got);
	/* bytes 24..31 reserved, zero */
}

void vmig_ack_decode(const uint8_t *b, struct vmig_ack *a)
{
	a->magic = get_be32(b + 0);
	a->version = get_be16(b + 4);
	a->field = get_be16(b + 6);
	a->expected = get_be64(b + 8);
	a->got = get_be64(b + 16);
}

void vmig_chunk_encode(const struct vmig_chunk_hdr *c, uint8_t *b)
{
	put_be32(b + 0, c->magic);
	put_be16(b + 4, c->version);
	put_be16(b + 6, c->flags);
	put_be64(b + 8, c->seq);
	put_be64(b + 16, c->offset);
	put_be32(b + 24, c->len);
	put_be32(b + 28, c->crc);
}

void vmig_chunk_decode(const uint8_t *b, struct vmig_chunk_hdr *c)
{
	c->magic = get_be32(b + 0);
	c->version = get_be16(b + 4);
	c->flags = get_be16(b + 6);
	c->seq = get_be64(b + 8);
	c->offset = get_be64(b + 16);
	c->len = get_be32(b + 24);
	c->crc = get_be32(b + 28);
}

int vmig_ctrl_send(int fd, uint16_t type, const void *payload, uint16_t len)
{
	uint8_t buf[VMIG_CTRL_HDR_SIZE + VMIG_CTRL_MAX_PAYLOAD];

	if (len > VMIG_CTRL_MAX_PAYLOAD)
		return -EMSGSIZE;
	put_be32(buf, VMIG_CTRL_MAGIC);
	put_be16(buf + 4, type);
	put_be16(buf + 6, len);
	if (len)
		memcpy(buf + VMIG_CTRL_HDR_SIZE, payload, len);
	return send_full(fd, buf, VMIG_CTRL_HDR_SIZE + len);
}

/* ---------------------------------------------------------- handshake */

static const char *const hs_names[HS_NR_FIELDS] = {
	[HS_OK] = "accepted",
	[HS_MAGIC] = "magic",
	[HS_VERSION] = "protocol version",
	[HS_KIND] = "connection kind",
	[HS_SESSION] = "session id",
	[HS_COUNT] = "channel count",
	[HS_COUNT_RANGE] = "channel count",
	[HS_INDEX] = "channel index",
	[HS_DUP_INDEX] = "channel index",
	[HS_CHUNK] = "max chunk size",
	[HS_CHUNK_RANGE] = "max chunk size",
	[HS_WINDOW] = "credit window",
};

const char *vmig_hs_field_name(unsigned field)
{
	return field < HS_NR_FIELDS ? hs_names[field] : "unknown field";
}

static const char *kind_name(uint64_t kind)
{
	return kind == VMIG_CONN_CONTROL ? "control" :
	       kind == VMIG_CONN_DATA ? "data" : "unknown";
}

void vmig_hs_describe(const struct vmig_ack *a, char *buf, size_t len)
{
	unsigned long long e = a->expected, g = a->got;
	const char *n = vmig_hs_field_name(a->field);

	switch (a->field) {
	case HS_OK:
		snprintf(buf, len, "accepted");
		break;
	case HS_MAGIC:
		snprintf(buf, len, "%s mismatch (expected 0x%08llx, got 0x%08llx)",
			 n, e, g);
		break;
	case HS_SESSION:
		snprintf(buf, len, "%s mismatch (expected 0x%016llx, got 0x%016llx)",
			 n, e, g);
		break;
	case HS_KIND:
		snprintf(buf, len, "%s mismatch (expected %s, got %s)", n,
			 kind_name(e), kind_name(g));
		break;
	case HS_COUNT_RANGE:
		snprintf(buf, len, "%s out of range (expected 1..%llu, got %llu)",
			 n, e, g);
		break;
	case HS_INDEX:
		snprintf(buf, len, "%s out of range (expected < %llu, got %llu)",
			 n, e, g);
		break;
	case HS_DUP_INDEX:
		snprintf(buf, len, "%s duplicate (expected an unused index, got %llu again)",
			 n, g);
		break;
	case HS_CHUNK_RANGE:
		snprintf(buf, len, "%s out of range (expected %u..%llu, got %llu)",
			 n, VMIG_MIN_CHUNK, e, g);
		break;
	case HS_WINDOW:
		snprintf(buf, len, "%s too small (expected >= %llu, got %llu)",
			 n, e, g);
		break;
	default:
		snprintf(buf, len, "%s mismatch (expected %llu, got %llu)",
			 n, e, g);
		break;
	}
}

static int hs_refuse(struct vmig_ack *a, unsigned field, uint64_t expected,
		     uint64_t got)
{
	a->field = field;
	a->expected = expected;
	a->got = got;
	return -EPROTO;
}

static int hs_check_control(struct vmig_hs_state *st,
			    const struct vmig_hello *h, struct vmig_ack *a)
{
	uint64_t local;

	if (h->kind != VMIG_CONN_CONTROL)
		return hs_refuse(a, HS_KIND, VMIG_CONN_CONTROL, h->kind);
	if (h->count < 1 || h->count > VMIG_MAX_CHANNELS)
		return hs_refuse(a, HS_COUNT_RANGE, VMIG_MAX_CHANNELS, h->count);
	if (h->index != 0)
		return hs_refuse(a, HS_INDEX, 1, h->index);
	if (h->max_chunk < VMIG_MIN_CHUNK || h->max_chunk > st->local_max_chunk)
		return hs_refuse(a, HS_CHUNK_RANGE, st->local_max_chunk,
				 h->max_chunk);
	if (h->window < h->max_chunk)
		return hs_refuse(a, HS_WINDOW, h->max_chunk, h->window);
	st->have_session = true;
	st->session = h->session;
	st->count = h->count;
	st->chunk = h->max_chunk;
	st->window = h->window;
	/* the destination's own bound wins: the reply grants the window */
	local = st->local_window;
	if (st->local_per_channel)
		local *= h->count;
	if (local && local < st->window)
		st->window = local > h->max_chunk ? local : h->max_chunk;
	st->seen = 0;
	a->expected = st->window;
	return 0;
}

static int hs_check_data(struct vmig_hs_state *st, const struct vmig_hello *h,
			 struct vmig_ack *a)
{
	if (h->kind != VMIG_CONN_DATA)
		return hs_refuse(a, HS_KIND, VMIG_CONN_DATA, h->kind);
	if (h->session != st->session)
		return hs_refuse(a, HS_SESSION, st->session, h->session);
	if (h->count != st->count)
		return hs_refuse(a, HS_COUNT, st->count, h->count);
	if (h->index >= st->count)
		return hs_refuse(a, HS_INDEX, st->count, h->index);
	if (st->seen & (1u << h->index))
		return hs_refuse(a, HS_DUP_INDEX, h->index, h->index);
	if (h->max_chunk != st->chunk)
		return hs_refuse(a, HS_CHUNK, st->chunk, h->max_chunk);
	st->seen |= 1u << h->index;
	return 0;
}

int vmig_hs_check(struct vmig_hs_state *st, const struct vmig_hello *h,
		  struct vmig_ack *a)
{
	memset(a, 0, sizeof(*a));
	a->magic = VMIG_ACK_MAGIC;
	a->version = VMIG_PROTO_VERSION;
	if (h->magic != VMIG_HELLO_MAGIC)
		return hs_refuse(a, HS_MAGIC, VMIG_HELLO_MAGIC, h->magic);
	if (h->version != VMIG_PROTO_VERSION)
		return hs_refuse(a, HS_VERSION, VMIG_PROTO_VERSION, h->version);
	if (!st->have_session)
		return hs_check_control(st, h, a);
	return hs_check_data(st, h, a);
}

static void set_rcv_timeout(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int hs_recv(int fd, void *buf, size_t len, int timeout_ms,
		   const char *what, char *err, size_t errlen)
{
	ssize_t r;

	set_rcv_timeout(fd, timeout_ms);
	r = recv_full(fd, buf, len);
	set_rcv_timeout(fd, 0);
	if (r == (ssize_t)len)
		return 0;
	if (r == -EAGAIN || r == -EWOULDBLOCK) {
		snprintf(err, errlen, "timed out waiting for the %s", what);
		return -ETIMEDOUT;
	}
	if (r < 0) {
		snprintf(err, errlen, "receiving the %s: %s", what,
			 strerror((int)-r));
		return (int)r;
	}
	snprintf(err, errlen, "peer closed the connection during the %s",
		 what);
	return -ECONNABORTED;
}

int vmig_hs_client(int fd, const struct vmig_hello *h, int timeout_ms,
		   uint64_t *granted, char *err, size_t errlen)
{
	uint8_t buf[VMIG_HELLO_SIZE];
	struct vmig_ack a;
	char why[160];
	int ret;

	vmig_hello_encode(h, buf);
	ret = send_full(fd, buf, sizeof(buf));
	if (ret) {
		snprintf(err, errlen, "sending the handshake: %s",
			 strerror(-ret));
		return ret;
	}
	ret = hs_recv(fd, buf, VMIG_ACK_SIZE, timeout_ms, "handshake reply",
		      err, errlen);
	if (ret)
		return ret;
	vmig_ack_decode(buf, &a);
	if (a.magic != VMIG_ACK_MAGIC) {
		snprintf(err, errlen,
			 "peer is not a vfio-mig destination (reply magic 0x%08x, expected 0x%08x)",
			 a.magic, VMIG_ACK_MAGIC);
		return -EPROTO;
	}
	if (a.field != HS_OK) {
		vmig_hs_describe(&a, why, sizeof(why));
		snprintf(err, errlen, "destination refused %s connection %u: %s",
			 kind_name(h->kind), h->index, why);
		return -EPROTO;
	}
	if (granted)
		*granted = a.expected;
	return 0;
}

int vmig_hs_server(int fd, struct vmig_hs_state *st, struct vmig_hello *h,
		   int timeout_ms, char *err, size_t errlen)
{
	uint8_t buf[VMIG_HELLO_SIZE];
	struct vmig_ack a;
	char why[160];
	int ret, check;

	ret = hs_recv(fd, buf, VMIG_HELLO_SIZE, timeout_ms, "handshake",
		      err, errlen);
	if (ret)
		return ret;
	vmig_hello_decode(buf, h);
	check = vmig_hs_check(st, h, &a);
	vmig_ack_encode(&a, buf);
	ret = send_full(fd, buf, VMIG_ACK_SIZE);
	if (check) {
		vmig_hs_describe(&a, why, sizeof(why));
		snprintf(err, errlen, "refused %s connection %u: %s",
			 kind_name(h->kind), h->index, why);
		return check;
	}
	if (ret) {
		snprintf(err, errlen, "sending the handshake reply: %s",
			 strerror(-ret));
		return ret;
	}
	return 0;
}

/* ------------------------------------------------------------ sockets */

static void tune_socket(int fd)
{
	int one = 1, idle = 10, intvl = 5, cnt = 3;
	unsigned user_timeout = 30000;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
		   sizeof(user_timeout));
}

/*
 * A source's data connection, when it shares the stream with others, is
 * "free" for the next chunk only when little of what it was given is still
 * unsent: without this a channel's send buffer (megabytes after
 * autotuning) swallows several chunks, chunks pile up behind a slow
 * channel and the in-order writer waits for them while the credit window
 * keeps the other channels idle.  A lone channel has nobody to leave
 * chunks to; there the low-water mark would only cost a wake-up per
 * 128 KiB sent.
 */
void vmig_share_channel(int fd)
{
	int notsent_lowat = 128 << 10;

	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &notsent_lowat,
		   sizeof(notsent_lowat));
}

int vmig_listen(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE,
	};
	struct addrinfo *res, *ai;
	int fd = -1, one = 1, ret, saved = 0;

	ret = getaddrinfo(host && *host ? host : NULL, port, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "%s:%s: %s", host ? host : "*", port,
			 gai_strerror(ret));
		return -EINVAL;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 64))
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "listen on %s:%s: %s", host ? host : "*",
			 port, strerror(saved ? saved : EADDRNOTAVAIL));
		return -(saved ? saved : EADDRNOTAVAIL);
	}
	return fd;
}

static int connect_timeout(int fd, const struct addrinfo *ai, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int flags = fcntl(fd, F_GETFL), soerr = 0;
	socklen_t sl = sizeof(soerr);
	int ret;

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	ret = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (ret && errno != EINPROGRESS)
		return -errno;
	if (ret) {
		do {
			ret = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
		} while (ret < 0 && errno == EINTR);
		if (ret == 0)
			return -ETIMEDOUT;
		if (ret < 0)
			return -errno;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr)
			return -soerr;
	}
	fcntl(fd, F_SETFL, flags);
	return 0;
}

int vmig_dial(const char *host, const char *port, int timeout_ms,
	      char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *res, *ai;
	int fd = -1, ret = -EHOSTUNREACH;

	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "%s:%s: %s", host, port,
			 gai_strerror(ret));
		return -EINVAL;
	}
	ret = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		ret = connect_timeout(fd, ai, timeout_ms);
		if (!ret)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "connect to %s:%s: %s", host, port,
			 strerror(-ret));
		return ret;
	}
	tune_socket(fd);
	return fd;
}

int vmig_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

int vmig_split_hostport(const char *arg, char *host, size_t hlen,
			char *port, size_t plen, bool host_required)
{
	const char *colon, *h = arg;
	size_t n;

	if (!arg || !*arg)
		return -EINVAL;
	colon = strrchr(arg, ':');
	if (!colon) {
		if (host_required)
			return -EINVAL;
		host[0] = 0;
		snprintf(port, plen, "%s", arg);
		return 0;
	}
	n = colon - arg;
	if (n >= 2 && arg[0] == '[' && arg[n - 1] == ']') {
		h = arg + 1;
		n -= 2;
	}
	if (n >= hlen || !colon[1] || (host_required && !n))
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = 0;
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

/* Accept one connection, waiting at most @timeout_ms (<= 0: forever). */
int vmig_accept(int lfd, int timeout_ms, const volatile int *cancel)
{
	uint64_t deadline = timeout_ms > 0 ? now_us() + timeout_ms * 1000ULL : 0;
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd, ret;

	for (;;) {
		if (vmig_signalled || (cancel && *cancel))
			return -ECANCELED;
		if (deadline && now_us() >= deadline)
			return -ETIMEDOUT;
		ret = poll(&p, 1, 100);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			tune_socket(fd);
			return fd;
		}
		if (errno != EINTR && errno != ECONNABORTED)
			return -errno;
	}
}
