// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 with a pre-shared key on every connection, through OpenSSL, and
 * the relay thread that gives the transport a plain fd.  See tls.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "tls.h"

#define RELAY_BUF	(64 * 1024)

/*
 * Relay threads are detached and may still be sending close_notify when
 * the command returns.  OpenSSL's own atexit cleanup would then free its
 * global state under them (glibc once aborted vfio-mig migrate with
 * "free(): invalid pointer" after its summary), so it is switched off
 * (tls_init), and vmig_tls_free() waits a little for the relays to end.
 */
static pthread_mutex_t relays_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t relays_done = PTHREAD_COND_INITIALIZER;
static unsigned int relays;

static int tls_init(char *err, size_t errlen)
{
	if (OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL) != 1) {
		snprintf(err, errlen, "OpenSSL: cannot initialise");
		return -EIO;
	}
	return 0;
}

/* TLS 1.3 suites with SHA-256, as a PSK without a session requires. */
static const char suites[] =
	"TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256";

static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
				  unsigned int max_identity_len,
				  unsigned char *psk, unsigned int max_psk_len)
{
	const struct vmig_tls *t = SSL_get_app_data(ssl);

	(void)hint;
	if (strlen(t->identity) >= max_identity_len || t->keylen > max_psk_len)
		return 0;
	strcpy(identity, t->identity);
	memcpy(psk, t->key, t->keylen);
	return t->keylen;
}

static unsigned int psk_server_cb(SSL *ssl, const char *identity,
				  unsigned char *psk, unsigned int max_psk_len)
{
	const struct vmig_tls *t = SSL_get_app_data(ssl);

	if (!identity || strcmp(identity, t->identity) ||
	    t->keylen > max_psk_len)
		return 0;
	memcpy(psk, t->key, t->keylen);
	return t->keylen;
}

static SSL_CTX *make_ctx(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
					    TLS_client_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, suites)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (server) {
		SSL_CTX_set_psk_server_callback(ctx, psk_server_cb);
		SSL_CTX_set_num_tickets(ctx, 0);
	} else {
		SSL_CTX_set_psk_client_callback(ctx, psk_client_cb);
	}
	return ctx;
}

static int tls_setup(struct vmig_tls *t, char *err, size_t errlen)
{
	t->client = make_ctx(false);
	t->server = make_ctx(true);
	if (!t->client || !t->server) {
		vmig_tls_free(t);
		snprintf(err, errlen, "OpenSSL: cannot set up TLS 1.3 with PSK");
		return -ENOMEM;
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int vmig_tls_load_psk(struct vmig_tls *t, const char *path, char *err,
		      size_t errlen)
{
	char line[512], *colon, *hex;
	size_t n, i;
	FILE *f;

	memset(t, 0, sizeof(*t));
	if (tls_init(err, errlen))
		return -EIO;
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	colon = strchr(line, ':');
	if (!colon || colon == line ||
	    (size_t)(colon - line) >= sizeof(t->identity)) {
		snprintf(err, errlen,
			 "%s: expected one line IDENTITY:HEXKEY", path);
		return -EINVAL;
	}
	*colon = 0;
	hex = colon + 1;
	n = strlen(hex);
	if (n % 2 || n / 2 < VMIG_PSK_MIN || n / 2 > VMIG_PSK_MAX) {
		snprintf(err, errlen,
			 "%s: the key must be %d..%d bytes in hex (got %zu digits)",
			 path, VMIG_PSK_MIN, VMIG_PSK_MAX, n);
		return -EINVAL;
	}
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "%s: the key is not hex", path);
			return -EINVAL;
		}
		t->key[i] = (uint8_t)(hi << 4 | lo);
	}
	t->keylen = n / 2;
	snprintf(t->identity, sizeof(t->identity), "%s", line);
	return tls_setup(t, err, errlen);
}

int vmig_tls_random_psk(struct vmig_tls *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (tls_init(err, errlen))
		return -EIO;
	if (RAND_bytes(t->key, 32) != 1) {
		snprintf(err, errlen, "OpenSSL: no random key");
		return -EIO;
	}
	t->keylen = 32;
	snprintf(t->identity, sizeof(t->identity), "vfio-mig-migrate");
	return tls_setup(t, err, errlen);
}

void vmig_tls_free(struct vmig_tls *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	pthread_mutex_lock(&relays_lock);
	while (relays &&
	       pthread_cond_timedwait(&relays_done, &relays_lock, &ts) == 0)
		;
	pthread_mutex_unlock(&relays_lock);
	SSL_CTX_free(t->client);
	SSL_CTX_free(t->server);
	t->client = t->server = NULL;
	OPENSSL_cleanse(t->key, sizeof(t->key));
}

/* ------------------------------------------------------------- relay */

struct relay {
	int net, app;
	SSL *ssl;
};

static void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* SSL_read/SSL_write result: 1 progress, 0 wait (sets @ev), -1 closed. */
static int ssl_result(SSL *ssl, int n, short *ev)
{
	if (n > 0)
		return 1;
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
		*ev |= POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*ev |= POLLOUT;
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/*
 * Moves bytes both ways until both are closed.  net -> app: SSL_read into
 * @in, send to the app; app -> net: recv from the app into @out,
 * SSL_write.  The app closing its writing side becomes close_notify; the
 * peer's close_notify (or a broken connection) becomes end of stream for
 * the app; the app gone (EPIPE) ends everything at once.
 */
static void *relay_main(void *arg)
{
	struct relay *r = arg;
	uint8_t *in = malloc(RELAY_BUF), *out = malloc(RELAY_BUF);
	size_t in_off = 0, in_len = 0, out_off = 0, out_len = 0;
	bool net_eof = false, app_eof = false, app_shut = false;
	bool sent_close = false;
	struct pollfd p[2];
	ssize_t w;
	int n, res;

	if (!in || !out)
		goto out;
	set_nonblock(r->net, true);
	set_nonblock(r->app, true);
	for (;;) {
		short nev = 0, aev = 0;
		bool progress = false;

		if (!net_eof && !in_len) {
			n = SSL_read(r->ssl, in, RELAY_BUF);
			res = ssl_result(r->ssl, n, &nev);
			if (res > 0) {
				in_off = 0;
				in_len = n;
				progress = true;
			} else if (res < 0) {
				net_eof = true;
				progress = true;
			}
		}
		if (in_len) {
			w = send(r->app, in + in_off, in_len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0) {
				in_off += w;
				in_len -= w;
				progress = true;
			} else if (errno == EAGAIN) {
				aev |= POLLOUT;
			} else {
				break;		/* the app is gone */
			}
		}
		if (net_eof && !in_len && !app_shut) {
			shutdown(r->app, SHUT_WR);
			app_shut = true;
		}
		if (!app_eof && !out_len) {
			w = recv(r->app, out, RELAY_BUF, MSG_DONTWAIT);
			if (w > 0) {
				out_off = 0;
				out_len = w;
				progress = true;
			} else if (w < 0 && errno == EAGAIN) {
				aev |= POLLIN;
			} else {
				app_eof = true;
				progress = true;
			}
		}
		if (out_len) {
			n = SSL_write(r->ssl, out + out_off, out_len);
			res = ssl_result(r->ssl, n, &nev);
			if (res > 0) {
				out_off += n;
				out_len -= n;
				progress = true;
			} else if (res < 0) {
				break;		/* the connection is broken */
			}
		}
		if (app_eof && !out_len && !sent_close) {
			SSL_shutdown(r->ssl);
			shutdown(r->net, SHUT_WR);
			sent_close = true;
		}
		if (net_eof && app_eof && !in_len && !out_len)
			break;
		if (progress)
			continue;
		if (!nev && !aev)
			break;		/* nothing left to wait for */
		/* fd -1: a hung-up end we do not wait on must not spin */
		p[0] = (struct pollfd){ .fd = nev ? r->net : -1, .events = nev };
		p[1] = (struct pollfd){ .fd = aev ? r->app : -1, .events = aev };
		n = poll(p, 2, -1);
		if (n < 0 && errno != EINTR)
			break;
	}
out:
	free(in);
	free(out);
	SSL_free(r->ssl);
	close(r->net);
	close(r->app);
	free(r);
	pthread_mutex_lock(&relays_lock);
	if (!--relays)
		pthread_cond_broadcast(&relays_done);
	pthread_mutex_unlock(&relays_lock);
	return NULL;
}

static void set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int vmig_tls_wrap(const struct vmig_tls *t, int fd, bool server,
		  int timeout_ms, char *err, size_t errlen)
{
	struct relay *r = NULL;
	pthread_attr_t attr;
	pthread_t thr;
	int sv[2], ret;
	SSL *ssl;

	ssl = SSL_new(server ? t->server : t->client);
	if (!ssl) {
		snprintf(err, errlen, "OpenSSL: out of memory");
		return -ENOMEM;
	}
	SSL_set_app_data(ssl, (void *)t);
	SSL_set_fd(ssl, fd);
	set_timeouts(fd, timeout_ms > 0 ? timeout_ms : 10000);
	ret = server ? SSL_accept(ssl) : SSL_connect(ssl);
	set_timeouts(fd, 0);
	if (ret != 1) {
		unsigned long e = ERR_peek_last_error();

		snprintf(err, errlen,
			 "TLS handshake failed (wrong key, or the peer does not use TLS): %s",
			 e ? ERR_reason_error_string(e) : "connection closed");
		ERR_clear_error();
		SSL_free(ssl);
		return -EACCES;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		goto fail;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		goto fail_sv;
	}
	*r = (struct relay){ .net = fd, .app = sv[1], .ssl = ssl };
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&relays_lock);
	relays++;
	ret = -pthread_create(&thr, &attr, relay_main, r);
	if (ret)
		relays--;
	pthread_mutex_unlock(&relays_lock);
	pthread_attr_destroy(&attr);
	if (ret) {
		free(r);
		goto fail_sv;
	}
	return sv[0];
fail_sv:
	close(sv[0]);
	close(sv[1]);
fail:
	snprintf(err, errlen, "TLS relay: %s", strerror(-ret));
	SSL_free(ssl);
	return ret;
}
