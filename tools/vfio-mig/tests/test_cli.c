// SPDX-License-Identifier: GPL-2.0
/* The command line conventions, on the built tool ($VFIO_MIG). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tap.h"

/* Run "$VFIO_MIG ARGS", stdout and stderr together; returns the status. */
static int run(const char *args, char *out, size_t len)
{
	const char *bin = getenv("VFIO_MIG");
	char cmd[512];
	size_t n = 0;
	FILE *p;
	int st;

	out[0] = 0;
	if (!bin)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", bin, args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (n + 1 < len && fgets(out + n, len - n, p))
		n = strlen(out);
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void cli_conventions(void)
{
	char out[4096];
	int rc;

	if (!ok(getenv("VFIO_MIG") != NULL, "VFIO_MIG names the built tool"))
		return;
	rc = run("--version", out, sizeof(out));
	ok(rc == 0 && !strncmp(out, "vfio-mig ", 9) && strchr(out, '\n'),
	   "--version prints \"vfio-mig VERSION\" (%d: %.40s)", rc, out);
	rc = run("save --bogus", out, sizeof(out));
	ok(rc == 2 && !strncmp(out, "vfio-mig save: unrecognized option", 34),
	   "an unknown option names the program and command (%d: %.60s)", rc,
	   out);
	rc = run("save /nonexistent -j --to 127.0.0.1:1 --insecure", out,
		 sizeof(out));
	ok(rc == 3 && strstr(out, "\"result\": \"failed\""),
	   "-j is --json (%d)", rc);
	rc = run("load x --listen 7700 --insecure", out, sizeof(out));
	ok(rc == 2 && strstr(out, "--listen HOST:PORT is required"),
	   "load wants an explicit listen address (%d)", rc);
	rc = run("save x --to 127.0.0.1:1", out, sizeof(out));
	ok(rc == 2 && strstr(out, "--psk-file FILE is required"),
	   "save without a key or --insecure is refused (%d)", rc);
	rc = run("save x --to 127.0.0.1:1 --insecure -j", out, sizeof(out));
	ok(strstr(out, "warning: --insecure") != NULL,
	   "--insecure warns (%d)", rc);
}
