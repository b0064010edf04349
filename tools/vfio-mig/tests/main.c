// SPDX-License-Identifier: GPL-2.0
#include <signal.h>
#include <string.h>

#include "tap.h"

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;

	signal(SIGPIPE, SIG_IGN);
	if (!only || !strcmp(only, "util"))
		test_util();
	if (!only || !strcmp(only, "policy"))
		test_policy();
	if (!only || !strcmp(only, "handshake"))
		test_handshake();
	if (!only || !strcmp(only, "transport"))
		test_transport();
	if (!only || !strcmp(only, "faults"))
		test_faults();
	if (!only || !strcmp(only, "mig"))
		test_mig();
	return tap_done();
}
