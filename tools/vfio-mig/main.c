// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mig: drive VFIO migration state transitions and move the saving
 * stream over several TCP connections.  See Documentation/vfio-mig.rst.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mig.h"
#include "telemetry.h"
#include "transport.h"
#include "util.h"

static const char *prog = "vfio-mig";

#ifndef VFIO_MIG_VERSION
#define VFIO_MIG_VERSION "unknown"
#endif

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: %s COMMAND [ARGS]\n"
		"       %s --version\n"
		"\n"
		"commands:\n"
		"  info DEV                   migration flags, state, data size, PRECOPY_INFOv2\n"
		"  state DEV STATE            set a migration state (error, stop, running,\n"
		"                             stop_copy, resuming, running_p2p, pre_copy,\n"
		"                             pre_copy_p2p)\n"
		"  save DEV --to HOST:PORT    migrate DEV's state out (source)\n"
		"  load DEV --listen HOST:PORT  receive state into DEV (destination)\n"
		"  migrate SRC DST            both ends in one process over loopback\n"
		"  monitor [--json] [--count N]\n"
		"                             print mlx5c-vfio-pci events as they happen\n"
		"  stats [DEV] [--json] [--reset]\n"
		"                             mlx5c-vfio-pci migration counters\n"
		"\n"
		"DEV is a PCI address (0000:00:03.0), an mdev UUID or a sysfs path.\n"
		"'%s COMMAND --help' describes each command's options; -j is short\n"
		"for --json everywhere.\n"
		"exit status: 0 ok, 1 migration failed, 2 usage error, 3 device error,\n"
		"4 migration failed and the source device is not RUNNING, 5 outcome\n"
		"unknown: this side's device is stopped, the other may be running.\n",
		prog, prog, prog);
}

static const char xfer_help[] =
	"  -c, --channels N        data connections, 1..16 (default 4)\n"
	"      --downtime-ms MS    switchover when the rest fits in MS (default 300)\n"
	"      --no-precopy        skip PRE_COPY: straight to STOP_COPY\n"
	"      --max-rounds N      switch after N precopy rounds (default unlimited)\n"
	"      --max-precopy-ms MS switch after MS in PRE_COPY (default 60000, 0 = never)\n"
	"      --dirty RATE        write RATE bytes/s (K/M/G suffixes) into a BAR of\n"
	"                          the source while it runs\n"
	"      --dirty-region N    region index for --dirty (default 2, BAR2)\n"
	"      --dirty-ctx         let --dirty write the first 4 KiB too\n"
	"      --crc               an XXH3 checksum on every chunk\n"
	"      --window BYTES      credit window per channel (default 8M, >= chunk\n"
	"                          size); the session's window is BYTES x channels\n"
	"      --chunk BYTES       max chunk size (default 1M, 4K..16M)\n"
	"      --timeout-ms MS     connect/handshake timeout (default 10000)\n"
	"      --psk-file FILE     TLS 1.3 key, one line IDENTITY:HEXKEY (save and\n"
	"                          load need it; migrate makes a random one)\n"
	"      --insecure          no TLS: clear text, anyone may connect\n"
	"      --progress-timeout-ms MS\n"
	"                          fail when the peer sends nothing, or does not\n"
	"                          progress, for MS (default 30000, 0 = never)\n"
	"  -j, --json              print a JSON report on stdout\n"
	"  -h, --help              this help\n";

enum {
	OPT_DOWNTIME = 256, OPT_NO_PRECOPY, OPT_MAX_ROUNDS, OPT_MAX_PRECOPY,
	OPT_DIRTY, OPT_DIRTY_REGION, OPT_DIRTY_CTX, OPT_CRC, OPT_WINDOW,
	OPT_CHUNK, OPT_JSON, OPT_TO, OPT_LISTEN, OPT_TIMEOUT, OPT_PROGRESS,
	OPT_NO_START, OPT_PSK_FILE, OPT_INSECURE,
};

static const struct option xfer_opts[] = {
	{ "channels", required_argument, NULL, 'c' },
	{ "downtime-ms", required_argument, NULL, OPT_DOWNTIME },
	{ "no-precopy", no_argument, NULL, OPT_NO_PRECOPY },
	{ "max-rounds", required_argument, NULL, OPT_MAX_ROUNDS },
	{ "max-precopy-ms", required_argument, NULL, OPT_MAX_PRECOPY },
	{ "dirty", required_argument, NULL, OPT_DIRTY },
	{ "dirty-region", required_argument, NULL, OPT_DIRTY_REGION },
	{ "dirty-ctx", no_argument, NULL, OPT_DIRTY_CTX },
	{ "crc", no_argument, NULL, OPT_CRC },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "chunk", required_argument, NULL, OPT_CHUNK },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "progress-timeout-ms", required_argument, NULL, OPT_PROGRESS },
	{ "no-start", no_argument, NULL, OPT_NO_START },
	{ "psk-file", required_argument, NULL, OPT_PSK_FILE },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "json", no_argument, NULL, 'j' },
	{ "to", required_argument, NULL, OPT_TO },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct cli {
	struct mig_opts o;
	const char *psk_file;
	bool insecure;
	struct vmig_tls tls;
	bool json;
	const char *to;
	const char *listen;
};

static int bad_value(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "%s: --%s %s: %s\n", prog, opt, val, why);
	return -EINVAL;
}

static int parse_num(const char *opt, const char *val, uint64_t min,
		     uint64_t max, bool size, uint64_t *out)
{
	int ret = size ? parse_size(val, out) : parse_u64(val, out);

	if (ret)
		return bad_value(opt, val, size ? "not a size (e.g. 4M)" :
				 "not a number");
	if (*out < min || *out > max) {
		fprintf(stderr, "%s: --%s %s: out of range %llu..%llu\n", prog,
			opt, val, (unsigned long long)min,
			(unsigned long long)max);
		return -ERANGE;
	}
	return 0;
}

static int parse_opt(struct cli *c, int opt, const char *arg)
{
	uint64_t v;
	int ret = 0;

	switch (opt) {
	case 'c':
		ret = parse_num("channels", arg, 1, VMIG_MAX_CHANNELS, false, &v);
		c->o.channels = v;
		break;
	case OPT_DOWNTIME:
		ret = parse_num("downtime-ms", arg, 0, 86400000, false,
				&c->o.downtime_ms);
		break;
	case OPT_NO_PRECOPY:
		c->o.no_precopy = true;
		break;
	case OPT_MAX_ROUNDS:
		ret = parse_num("max-rounds", arg, 0, UINT32_MAX, false, &v);
		c->o.max_rounds = v;
		break;
	case OPT_MAX_PRECOPY:
		ret = parse_num("max-precopy-ms", arg, 0, UINT64_MAX / 2, false,
				&c->o.max_precopy_ms);
		break;
	case OPT_DIRTY:
		ret = parse_num("dirty", arg, 1, 64ULL << 30, true,
				&c->o.dirty_rate);
		break;
	case OPT_DIRTY_REGION:
		ret = parse_num("dirty-region", arg, 0, 64, false, &v);
		c->o.dirty_region = v;
		break;
	case OPT_DIRTY_CTX:
		c->o.dirty_ctx = true;
		break;
	case OPT_CRC:
		c->o.crc = true;
		break;
	case OPT_WINDOW:
		ret = parse_num("window", arg, VMIG_MIN_CHUNK, 1ULL << 40, true,
				&c->o.window);
		c->o.window_set = true;
		break;
	case OPT_CHUNK:
		ret = parse_num("chunk", arg, VMIG_MIN_CHUNK, VMIG_MAX_CHUNK,
				true, &v);
		c->o.chunk = v;
		break;
	case OPT_TIMEOUT:
		ret = parse_num("timeout-ms", arg, 1, 3600000, false, &v);
		c->o.timeout_ms = v;
		break;
	case OPT_PROGRESS:
		ret = parse_num("progress-timeout-ms", arg, 0, 86400000, false,
				&v);
		c->o.progress_ms = v;
		break;
	case OPT_NO_START:
		c->o.no_start = true;
		break;
	case OPT_PSK_FILE:
		c->psk_file = arg;
		break;
	case OPT_INSECURE:
		c->insecure = true;
		break;
	case 'j':
		c->json = true;
		break;
	case OPT_TO:
		c->to = arg;
		break;
	case OPT_LISTEN:
		c->listen = arg;
		break;
	default:
		ret = -EINVAL;
	}
	return ret;
}

/* TLS by default; clear text only with --insecure, and said loudly. */
static int setup_tls(struct cli *c, const char *cmd)
{
	char err[512];
	int ret;

	if (c->insecure && c->psk_file) {
		fprintf(stderr, "%s %s: --insecure and --psk-file exclude each other\n",
			prog, cmd);
		return -1;
	}
	if (c->insecure) {
		fprintf(stderr,
			"%s: warning: --insecure: the migration stream is neither authenticated nor encrypted; anyone who reaches the port can feed or read the device state\n",
			prog);
		return 0;
	}
	if (c->psk_file)
		ret = vmig_tls_load_psk(&c->tls, c->psk_file, err, sizeof(err));
	else if (!strcmp(cmd, "migrate"))
		ret = vmig_tls_random_psk(&c->tls, err, sizeof(err));
	else {
		fprintf(stderr,
			"%s %s: --psk-file FILE is required (TLS 1.3 with a pre-shared key; --insecure for clear text)\n",
			prog, cmd);
		return -1;
	}
	if (ret) {
		fprintf(stderr, "%s %s: %s\n", prog, cmd, err);
		return -1;
	}
	c->o.tls = &c->tls;
	return 0;
}

/*
 * Parse options for save/load/migrate; @allowed lists extra options the
 * command takes ("to", "listen") - the transfer options are shared.
 * Returns the index of the first positional argument, -1 on error, -2 for
 * --help.
 */
static int parse_cmd(struct cli *c, int argc, char **argv, const char *cmd,
		     unsigned npos)
{
	int opt;

	mig_opts_default(&c->o);
	c->o.progress = true;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:jh", xfer_opts, NULL)) != -1) {
		if (opt == 'h')
			return -2;
		if (opt == '?' || parse_opt(c, opt, optarg))
			return -1;
		if ((opt == OPT_TO && strcmp(cmd, "save")) ||
		    (opt == OPT_LISTEN && strcmp(cmd, "load")) ||
		    (opt == OPT_NO_START && !strcmp(cmd, "save"))) {
			fprintf(stderr, "%s %s: --%s is not an option of %s\n",
				prog, cmd, opt == OPT_TO ? "to" :
				opt == OPT_LISTEN ? "listen" : "no-start", cmd);
			return -1;
		}
	}
	if ((unsigned)(argc - optind) != npos) {
		fprintf(stderr, "%s %s: expected %u device argument%s\n", prog,
			cmd, npos, npos > 1 ? "s" : "");
		return -1;
	}
	if (c->o.window < c->o.chunk) {
		fprintf(stderr, "%s %s: --window must be at least the chunk size (%u)\n",
			prog, cmd, c->o.chunk);
		return -1;
	}
	if (setup_tls(c, cmd))
		return -1;
	return optind;
}

static int open_dev(struct vdev *d, const char *spec)
{
	char err[512];

	if (vdev_open(d, spec, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	return 0;
}

/* A device that cannot be opened still gets a JSON report. */
static int open_failed(struct cli *c, struct mig_report *r,
		       const char *spec, struct mig_report *s,
		       struct mig_report *d)
{
	r->present = true;
	r->device = spec;
	r->exit_code = VMIG_EXIT_DEVICE;
	snprintf(r->error, sizeof(r->error), "cannot open %s", spec);
	if (c->json)
		report_json(stdout, s, d);
	vmig_tls_free(&c->tls);
	return VMIG_EXIT_DEVICE;
}

static void print_summary(const struct mig_report *s,
			  const struct mig_report *d)
{
	char a[32], b[32], e[32];

	if (s && s->present && !s->exit_code) {
		printf("migrated %s (pre-copy %s, stop-copy %s) in %llu chunks over %u channel%s\n",
		       fmt_bytes(s->precopy_bytes + s->stopcopy_bytes, a, sizeof(a)),
		       fmt_bytes(s->precopy_bytes, b, sizeof(b)),
		       fmt_bytes(s->stopcopy_bytes, e, sizeof(e)),
		       (unsigned long long)s->chunks, s->tx.channels,
		       s->tx.channels == 1 ? "" : "s");
		printf("downtime %.1f ms (limit %llu ms, destination resume %.1f ms); policy: %s after %u round%s\n",
		       s->downtime_ms, (unsigned long long)s->downtime_limit_ms,
		       s->dst_resume_ms, s->decision ? s->decision : "none",
		       s->rounds, s->rounds == 1 ? "" : "s");
	}
	if (d && d->present && !d->exit_code && !(s && s->present))
		printf("loaded %s in %llu chunks; device %s after %.1f ms\n",
		       fmt_bytes(d->rx.written_bytes, a, sizeof(a)),
		       (unsigned long long)d->rx.written_chunks,
		       d->final_state == VFIO_DEVICE_STATE_RUNNING ?
		       "running" : "loaded and stopped", d->resume_ms);
}

static void print_errors(const struct mig_report *s,
			 const struct mig_report *d)
{
	if (s && s->present && s->exit_code)
		fprintf(stderr, "%s: source: %s (device %s)\n", prog, s->error,
			s->state_known ? vdev_state_name(s->final_state) : "unknown");
	if (d && d->present && d->exit_code)
		fprintf(stderr, "%s: destination: %s (device %s)\n", prog,
			d->error,
			d->state_known ? vdev_state_name(d->final_state) : "unknown");
}

static int finish(struct cli *c, int ret, const struct mig_report *s,
		  const struct mig_report *d)
{
	print_errors(s, d);
	if (c->json)
		report_json(stdout, s, d);
	else
		print_summary(s, d);
	vmig_tls_free(&c->tls);
	return ret;
}

static int cmd_save(int argc, char **argv)
{
	struct mig_report rep = { 0 };
	struct cli c = { 0 };
	char host[256], port[32];
	struct vdev d;
	int i, ret;

	i = parse_cmd(&c, argc, argv, "save", 1);
	if (i == -2) {
		printf("usage: %s save DEV --to HOST:PORT [options]\n%s", prog,
		       xfer_help);
		return VMIG_EXIT_OK;
	}
	if (i < 0)
		return VMIG_EXIT_USAGE;
	if (!c.to || vmig_split_hostport(c.to, host, sizeof(host), port,
					 sizeof(port), true)) {
		fprintf(stderr, "%s save: --to HOST:PORT is required\n", prog);
		return VMIG_EXIT_USAGE;
	}
	if (open_dev(&d, argv[i]))
		return open_failed(&c, &rep, argv[i], &rep, NULL);
	ret = mig_save(&d, host, port, &c.o, &rep);
	vdev_close(&d);
	return finish(&c, ret, &rep, NULL);
}

static int cmd_load(int argc, char **argv)
{
	struct mig_report rep = { 0 };
	struct cli c = { 0 };
	char host[256], port[32], err[300];
	struct vdev d;
	int i, ret, lfd;

	i = parse_cmd(&c, argc, argv, "load", 1);
	if (i == -2) {
		printf("usage: %s load DEV --listen HOST:PORT (--psk-file FILE | --insecure)\n"
		       "       [--window BYTES] [--timeout-ms MS] [--progress-timeout-ms MS]\n"
		       "       [--no-start] [--json]\n"
		       "HOST is an address to listen on: 10.0.0.2, [fd00::2], 0.0.0.0 or [::] for all.\n"
		       "The source decides channels, chunk size and CRC; --window caps its\n"
		       "window per channel; --no-start leaves the loaded device in STOP.\n",
		       prog);
		return VMIG_EXIT_OK;
	}
	if (i < 0)
		return VMIG_EXIT_USAGE;
	if (!c.listen || vmig_split_hostport(c.listen, host, sizeof(host), port,
					     sizeof(port), true)) {
		fprintf(stderr, "%s load: --listen HOST:PORT is required (an explicit address; 0.0.0.0 or [::] for all)\n",
			prog);
		return VMIG_EXIT_USAGE;
	}
	lfd = vmig_listen(host[0] ? host : NULL, port, err, sizeof(err));
	if (lfd < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return VMIG_EXIT_FAILED;
	}
	if (open_dev(&d, argv[i])) {
		close(lfd);
		return open_failed(&c, &rep, argv[i], NULL, &rep);
	}
	ret = mig_load(&d, lfd, &c.o, &rep);
	close(lfd);
	vdev_close(&d);
	return finish(&c, ret, NULL, &rep);
}

static int cmd_migrate(int argc, char **argv)
{
	struct mig_report srep = { 0 }, drep = { 0 };
	struct cli c = { 0 };
	struct vdev s, d;
	int i, ret;

	i = parse_cmd(&c, argc, argv, "migrate", 2);
	if (i == -2) {
		printf("usage: %s migrate SRC DST [--no-start] [options]\n%s"
		       "      --no-start          leave DST loaded in STOP\n", prog,
		       xfer_help);
		return VMIG_EXIT_OK;
	}
	if (i < 0)
		return VMIG_EXIT_USAGE;
	if (!strcmp(argv[i], argv[i + 1])) {
		fprintf(stderr, "%s migrate: SRC and DST are the same device\n",
			prog);
		return VMIG_EXIT_USAGE;
	}
	if (open_dev(&s, argv[i]))
		return open_failed(&c, &srep, argv[i], &srep, NULL);
	if (open_dev(&d, argv[i + 1])) {
		vdev_close(&s);
		return open_failed(&c, &drep, argv[i + 1], NULL, &drep);
	}
	ret = mig_migrate(&s, &d, &c.o, &srep, &drep);
	vdev_close(&s);
	vdev_close(&d);
	return finish(&c, ret, &srep, &drep);
}

static void print_flags(uint64_t flags)
{
	printf("migration:   %s%s%s (flags 0x%llx)\n",
	       flags & VFIO_MIGRATION_STOP_COPY ? "stop_copy" : "-",
	       flags & VFIO_MIGRATION_P2P ? " p2p" : "",
	       flags & VFIO_MIGRATION_PRE_COPY ? " pre_copy" : "",
	       (unsigned long long)flags);
}

static int cmd_info(int argc, char **argv)
{
	uint64_t flags, size;
	uint32_t state;
	struct vdev d;
	int ret, rc = VMIG_EXIT_OK;

	if (argc != 2 || argv[1][0] == '-') {
		printf("usage: %s info DEV\n", prog);
		return argc == 2 && (!strcmp(argv[1], "-h") ||
				     !strcmp(argv[1], "--help")) ?
		       VMIG_EXIT_OK : VMIG_EXIT_USAGE;
	}
	if (open_dev(&d, argv[1]))
		return VMIG_EXIT_DEVICE;
	printf("device:      %s (%s, IOMMU group %d)\n", d.name, d.devname,
	       d.group);
	ret = vdev_get_flags(&d, &flags);
	if (ret) {
		printf("migration:   not supported (%s)\n", strerror(-ret));
		vdev_close(&d);
		return VMIG_EXIT_DEVICE;
	}
	print_flags(flags);
	ret = vdev_get_state(&d, &state);
	if (ret) {
		printf("state:       unknown (%s)\n", strerror(-ret));
		rc = VMIG_EXIT_DEVICE;
	} else {
		printf("state:       %s\n", vdev_state_name(state));
	}
	ret = d.ops->data_size(&d, &size);
	if (ret)
		printf("data size:   unknown (MIG_DATA_SIZE: %s)\n",
		       strerror(-ret));
	else
		printf("data size:   %llu bytes (MIG_DATA_SIZE)\n",
		       (unsigned long long)size);
	ret = d.ops->precopy_v2(&d);
	printf("precopy v2:  %s\n", ret > 0 ? "accepted (PRECOPY_INFOv2)" :
	       ret == 0 ? "not supported" : strerror(-ret));
	vdev_close(&d);
	return rc;
}

static int cmd_state(int argc, char **argv)
{
	uint32_t target, before = 0, after;
	struct vdev d;
	int ret;

	if (argc != 3) {
		bool help = argc == 2 && (!strcmp(argv[1], "-h") ||
					  !strcmp(argv[1], "--help"));

		printf("usage: %s state DEV STATE\n"
		       "STATE: error stop running stop_copy resuming running_p2p pre_copy\n"
		       "       pre_copy_p2p (case-insensitive)\n", prog);
		return help ? VMIG_EXIT_OK : VMIG_EXIT_USAGE;
	}
	if (vdev_parse_state(argv[2], &target)) {
		fprintf(stderr, "%s state: unknown state '%s'\n", prog, argv[2]);
		return VMIG_EXIT_USAGE;
	}
	if (open_dev(&d, argv[1]))
		return VMIG_EXIT_DEVICE;
	vdev_get_state(&d, &before);
	ret = vdev_set_state(&d, target, NULL, &after);
	if (ret)
		fprintf(stderr, "%s: %s -> %s failed: %s\n", prog,
			vdev_state_name(before), vdev_state_name(target),
			strerror(-ret));
	if (vdev_get_state(&d, &after))
		printf("state: unknown\n");
	else
		printf("%s\n", vdev_state_name(after));
	vdev_close(&d);
	return ret ? VMIG_EXIT_DEVICE : VMIG_EXIT_OK;
}

static void on_signal(int sig)
{
	(void)sig;
	vmig_signalled = 1;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "info", cmd_info }, { "state", cmd_state },
		{ "save", cmd_save }, { "load", cmd_load },
		{ "migrate", cmd_migrate },
		{ "monitor", cmd_monitor }, { "stats", cmd_stats },
	};
	static char cmdname[64];
	size_t i;

	setup_signals();
	if (argc < 2) {
		usage_main(stderr);
		return VMIG_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage_main(stdout);
		return VMIG_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("%s %s\n", prog, VFIO_MIG_VERSION);
		return VMIG_EXIT_OK;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[1], cmds[i].name)) {
			/* getopt names argv[0] in its errors: "vfio-mig save" */
			snprintf(cmdname, sizeof(cmdname), "%s %s", prog,
				 cmds[i].name);
			argv[1] = cmdname;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage_main(stderr);
	return VMIG_EXIT_USAGE;
}
