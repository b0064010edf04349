/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TLS 1.3 with a pre-shared key (OpenSSL) on every vfio-mig connection.
 *
 * After the TLS handshake a connection is handed to a relay thread that
 * owns the TCP socket and the TLS state and moves bytes between it and one
 * end of a socketpair; the caller gets the other end.  The transport code
 * thus keeps working on plain file descriptors (several threads, blocking
 * reads and writes, shutdown() to wake them), which one TLS object could
 * not offer.
 */
#ifndef VFIO_MIG_TLS_H
#define VFIO_MIG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMIG_PSK_MIN	16		/* bytes */
#define VMIG_PSK_MAX	64

struct vmig_tls {
	void *client, *server;		/* SSL_CTX */
	char identity[128];
	uint8_t key[VMIG_PSK_MAX];
	size_t keylen;
};

/*
 * Read a key file: one line "IDENTITY:HEXKEY" (as QEMU's tls-creds-psk
 * keys.psk), a key of 16..64 bytes.  0 or -errno with a message in @err.
 */
int vmig_tls_load_psk(struct vmig_tls *t, const char *path, char *err,
		      size_t errlen);
/* A random key, for both ends in one process (migrate). */
int vmig_tls_random_psk(struct vmig_tls *t, char *err, size_t errlen);
void vmig_tls_free(struct vmig_tls *t);

/*
 * Run the TLS handshake on the connected TCP socket @fd (as the server
 * when @server) within @timeout_ms.  On success the relay thread owns @fd
 * and the returned fd carries the plain stream; on failure @fd is left to
 * the caller and -errno is returned (-EACCES: the peer does not have the
 * key or does not speak TLS).
 */
int vmig_tls_wrap(const struct vmig_tls *t, int fd, bool server,
		  int timeout_ms, char *err, size_t errlen);

#endif
