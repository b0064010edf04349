// SPDX-License-Identifier: GPL-2.0
/* TLS 1.3 with a pre-shared key on every connection; strangers; IPv6. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../mig.h"
#include "../tls.h"
#include "../util.h"
#include "harness.h"
#include "tap.h"

static int key_file(char *path, size_t len, const char *line)
{
	FILE *f;
	int fd;

	snprintf(path, len, "/tmp/vfio-mig-test-psk-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	fputs(line, f);
	fclose(f);
	return 0;
}

static int load_key(struct vmig_tls *t, const char *line)
{
	char path[64], err[300];
	int ret;

	if (key_file(path, sizeof(path), line))
		return -EIO;
	ret = vmig_tls_load_psk(t, path, err, sizeof(err));
	if (ret)
		tap_diag("key: %s", err);
	unlink(path);
	return ret;
}

#define KEY_A "mig:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
#define KEY_B "mig:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n"

void tls_key_file(void)
{
	struct vmig_tls t;

	ok(load_key(&t, KEY_A) == 0 && t.keylen == 32 &&
	   !strcmp(t.identity, "mig"), "key file: IDENTITY:HEXKEY read");
	vmig_tls_free(&t);
	ok(load_key(&t, "mig:0011\n") == -EINVAL,
	   "key file: a key shorter than 16 bytes is refused");
	ok(load_key(&t, "00112233445566778899aabbccddeeff\n") == -EINVAL,
	   "key file: a line without an identity is refused");
	ok(load_key(&t, "mig:zz112233445566778899aabbccddeeff\n") == -EINVAL,
	   "key file: a key that is not hex is refused");
}

static void tls_xfer(const char *host, struct vmig_tls *tx_tls,
		     struct vmig_tls *rx_tls, struct tx_result *res,
		     struct rx_thread *r, bool *exact)
{
	struct mem_sink sink;
	struct mem_source src = { .seed = 5, .size = 3 * MIB + 7,
				  .enomsg_every = 500000 };
	struct tx_config cfg = { .channels = 3, .chunk = 65536,
				 .window = 512 * KIB, .tls = tx_tls,
				 .timeout_ms = 3000 };

	mem_sink_init(&sink);
	memset(r, 0, sizeof(*r));
	r->sink = &sink;
	r->host = host;
	r->cfg.tls = rx_tls;
	r->cfg.timeout_ms = 3000;
	if (rx_thread_start(r)) {
		res->ret = -EIO;
		snprintf(res->err, sizeof(res->err), "listen failed");
		mem_sink_free(&sink);
		*exact = false;
		return;
	}
	run_tx_to(host, r->port, &cfg, &src, res);
	if (res->ret)
		/* refused: the destination still waits for its source */
		shutdown(r->lfd, SHUT_RDWR);
	rx_thread_join(r);
	*exact = mem_sink_matches(&sink, src.seed, src.size);
	mem_sink_free(&sink);
}

void tls_transfer(void)
{
	struct vmig_tls a;
	struct rx_thread r;
	struct tx_result res;
	bool exact;

	if (!ok(load_key(&a, KEY_A) == 0, "key"))
		return;
	tls_xfer("127.0.0.1", &a, &a, &res, &r, &exact);
	ok(res.ret == 0 && r.ret == 0 && exact,
	   "TLS: 3 channels, byte-exact (%d/%d \"%s\" \"%s\")", res.ret, r.ret,
	   res.err, r.err);
	vmig_tls_free(&a);
}

void tls_ipv6(void)
{
	struct vmig_tls a;
	struct rx_thread r;
	struct tx_result res;
	bool exact;

	if (!ok(load_key(&a, KEY_A) == 0, "key"))
		return;
	tls_xfer("::1", &a, &a, &res, &r, &exact);
	ok(res.ret == 0 && r.ret == 0 && exact,
	   "TLS over IPv6 [::1]: byte-exact (%d/%d \"%s\" \"%s\")", res.ret,
	   r.ret, res.err, r.err);
	vmig_tls_free(&a);
}

/* A source with another key is refused at the TLS handshake. */
void tls_wrong_key(void)
{
	struct vmig_tls a, b;
	struct rx_thread r;
	struct tx_result res;
	bool exact;

	if (!ok(load_key(&a, KEY_A) == 0 && load_key(&b, KEY_B) == 0, "keys"))
		return;
	tls_xfer("127.0.0.1", &b, &a, &res, &r, &exact);
	ok(res.ret == -EACCES && strstr(res.err, "TLS handshake failed") &&
	   r.st.written_bytes == 0,
	   "TLS: a source with the wrong key is refused, nothing written (\"%s\")",
	   res.err);
	vmig_tls_free(&a);
	vmig_tls_free(&b);
}

/* A clear-text source gets nowhere with a TLS destination. */
void tls_clear_source_refused(void)
{
	struct vmig_tls a;
	struct rx_thread r;
	struct tx_result res;
	bool exact;

	if (!ok(load_key(&a, KEY_A) == 0, "key"))
		return;
	tls_xfer("127.0.0.1", NULL, &a, &res, &r, &exact);
	ok(res.ret != 0 && r.st.written_bytes == 0,
	   "TLS: a clear-text source is refused, nothing written (%d \"%s\")",
	   res.ret, res.err);
	vmig_tls_free(&a);
}

/*
 * Strangers first: one connects and closes, one connects with the wrong
 * key; then the real source migrates.  Neither stranger ends the wait.
 */
void tls_strangers_first(void)
{
	struct vmig_tls a, b;
	struct mem_sink sink;
	struct mem_source src = { .seed = 6, .size = 1 * MIB + 3 };
	struct tx_config cfg = { .channels = 2, .chunk = 65536,
				 .window = 256 * KIB, .tls = &a,
				 .timeout_ms = 3000 };
	struct tx_config bad = cfg;
	struct rx_thread r = { 0 };
	struct tx_result res;
	int fd, ctrl, data[VMIG_MAX_CHANNELS];
	char err[300];

	if (!ok(load_key(&a, KEY_A) == 0 && load_key(&b, KEY_B) == 0, "keys"))
		return;
	mem_sink_init(&sink);
	r.sink = &sink;
	r.cfg.tls = &a;
	if (!ok(rx_thread_start(&r) == 0, "listener"))
		return;
	fd = vmig_dial("127.0.0.1", r.port, 1000, err, sizeof(err));
	ok(fd >= 0, "stranger 1 connects and closes");
	close(fd);
	bad.tls = &b;
	ok(tx_connect("127.0.0.1", r.port, &bad, &ctrl, data, err,
		      sizeof(err)) == -EACCES,
	   "stranger 2 with the wrong key is refused (\"%s\")", err);
	run_tx(r.port, &cfg, &src, &res);
	rx_thread_join(&r);
	ok(res.ret == 0 && r.ret == 0 && mem_sink_matches(&sink, src.seed, src.size),
	   "strangers first: the real source still migrates byte-exact (%d/%d \"%s\")",
	   res.ret, r.ret, r.err);
	mem_sink_free(&sink);
	vmig_tls_free(&a);
	vmig_tls_free(&b);
}
