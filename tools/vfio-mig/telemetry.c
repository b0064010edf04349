// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mig monitor and stats: the telemetry of mlx5c-vfio-pci through its
 * generic netlink family "mlx5c" (include/uapi/linux/mlx5c_genl.h,
 * Documentation/mlx5c-netlink.rst), with libnl-genl-3.
 *
 * monitor prints one line per event, text or JSON, as events arrive.  It
 * also listens to nlctrl's "notify" group: when the module is unloaded it
 * prints that the family went away, and when the module comes back it
 * subscribes again.  stats prints the counters of every bound function (a
 * dump) or of one (DEV), in the manner of "ip -s" and "ip -j".
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <netlink/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <linux/genetlink.h>
#include <linux/mlx5c_genl.h>
#include <linux/mlx5c_vfio.h>

#include "mig.h"
#include "telemetry.h"
#include "util.h"
#include "vfio_dev.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static const char *prog = "vfio-mig";

/* Netlink plumbing */

struct nl_err {
	int error;		/* positive errno from the kernel */
	char msg[256];		/* its extended ACK message, if any */
};

/* Keep the kernel's errno and extended ACK message of a failed request. */
static int on_nl_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct nl_err *ne = arg;
	struct nlattr *a;
	size_t off;
	int rem;

	(void)who;
	ne->error = -e->error;
	ne->msg[0] = 0;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	off = NLMSG_HDRLEN + sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if (off >= nlh->nlmsg_len)
		return NL_STOP;
	nla_for_each_attr(a, (struct nlattr *)((char *)nlh + off),
			  nlh->nlmsg_len - off, rem) {
		if (nla_type(a) == NLMSGERR_ATTR_MSG)
			snprintf(ne->msg, sizeof(ne->msg), "%.*s",
				 nla_len(a), (const char *)nla_data(a));
	}
	return NL_STOP;
}

static struct nl_sock *nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int one = 1;

	if (!sk) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return NULL;
	}
	if (genl_connect(sk)) {
		fprintf(stderr, "%s: cannot open a generic netlink socket\n",
			prog);
		nl_socket_free(sk);
		return NULL;
	}
	setsockopt(nl_socket_get_fd(sk), SOL_NETLINK, NETLINK_EXT_ACK, &one,
		   sizeof(one));
	return sk;
}

static int resolve_family(struct nl_sock *sk)
{
	int id = genl_ctrl_resolve(sk, MLX5C_GENL_NAME);

	if (id < 0)
		fprintf(stderr, "%s: no generic netlink family '%s' (is mlx5c-vfio-pci loaded?)\n",
			prog, MLX5C_GENL_NAME);
	return id;
}

/* Names */

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case MLX5C_IMAGE_INITIAL:
		return "initial";
	case MLX5C_IMAGE_MIDDLE:
		return "middle";
	case MLX5C_IMAGE_FINAL:
		return "final";
	default:
		return "unknown";
	}
}

static const char *cause_name(uint32_t cause)
{
	switch (cause) {
	case MLX5C_GENL_CAUSE_ARC:
		return "arc";
	case MLX5C_GENL_CAUSE_FAILURE:
		return "failure";
	case MLX5C_GENL_CAUSE_RESET:
		return "reset";
	case MLX5C_GENL_CAUSE_OPEN:
		return "open";
	default:
		return "unknown";
	}
}

static const char *source_name(uint32_t src)
{
	switch (src) {
	case MLX5C_GENL_ERR_STATE:
		return "state";
	case MLX5C_GENL_ERR_SAVE:
		return "save";
	case MLX5C_GENL_ERR_LOAD:
		return "load";
	case MLX5C_GENL_ERR_PRECOPY:
		return "precopy_info";
	default:
		return "unknown";
	}
}

static const char *errno_name(uint32_t err)
{
	const char *s = err ? strerrorname_np(err) : NULL;

	return s ? s : "-";
}

/* "2025-01-31T12:00:00.123456789Z" from CLOCK_REALTIME nanoseconds. */
static void fmt_time(uint64_t ns, char *buf, size_t len)
{
	time_t sec = ns / 1000000000ULL;
	struct tm tm;
	char d[32];

	gmtime_r(&sec, &tm);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09lluZ", d,
		 (unsigned long long)(ns % 1000000000ULL));
}

/* monitor */

static const char monitor_help[] =
	"usage: vfio-mig monitor [--json] [--count N]\n"
	"Print the events of every function bound to mlx5c-vfio-pci as they\n"
	"happen, one per line, until interrupted.\n"
	"  -j, --json       one JSON object per line\n"
	"  -n, --count N    exit after N device events\n"
	"  -h, --help       this help\n";

struct monitor {
	struct nl_sock *ev;	/* the events group and nlctrl's notify */
	int family;		/* our family id, -1 while it is gone */
	bool json;
	uint64_t count;		/* device events still to print, 0: forever */
	bool done;
};

static void print_family(struct monitor *m, const char *what)
{
	struct timespec ts;
	char t[48];

	clock_gettime(CLOCK_REALTIME, &ts);
	fmt_time(ts.tv_sec * 1000000000ULL + ts.tv_nsec, t, sizeof(t));
	if (m->json)
		printf("{\"time\":\"%s\",\"event\":\"family_%s\",\"family\":\"%s\"}\n",
		       t, what, MLX5C_GENL_NAME);
	else
		printf("%s family %s %s\n", t, MLX5C_GENL_NAME, what);
	fflush(stdout);
}

/* An nlctrl notification: our family went away or came (back). */
static void on_ctrl(struct monitor *m, struct nlmsghdr *nlh)
{
	struct genlmsghdr *g = nlmsg_data(nlh);
	struct nlattr *tb[CTRL_ATTR_MAX + 1], *grp, *gtb[CTRL_ATTR_MCAST_GRP_MAX + 1];
	int rem;

	if (genlmsg_parse(nlh, 0, tb, CTRL_ATTR_MAX, NULL) ||
	    !tb[CTRL_ATTR_FAMILY_NAME] ||
	    strcmp(nla_get_string(tb[CTRL_ATTR_FAMILY_NAME]), MLX5C_GENL_NAME))
		return;
	if (g->cmd == CTRL_CMD_DELFAMILY) {
		m->family = -1;
		print_family(m, "removed");
		return;
	}
	if (g->cmd != CTRL_CMD_NEWFAMILY && g->cmd != CTRL_CMD_NEWMCAST_GRP)
		return;
	if (tb[CTRL_ATTR_FAMILY_ID] && m->family < 0) {
		m->family = nla_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
		print_family(m, "added");
	}
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return;
	nla_for_each_nested(grp, tb[CTRL_ATTR_MCAST_GROUPS], rem) {
		if (nla_parse_nested(gtb, CTRL_ATTR_MCAST_GRP_MAX, grp, NULL) ||
		    !gtb[CTRL_ATTR_MCAST_GRP_NAME] || !gtb[CTRL_ATTR_MCAST_GRP_ID])
			continue;
		if (!strcmp(nla_get_string(gtb[CTRL_ATTR_MCAST_GRP_NAME]),
			    MLX5C_GENL_MCGRP_EVENTS))
			nl_socket_add_membership(m->ev,
				nla_get_u32(gtb[CTRL_ATTR_MCAST_GRP_ID]));
	}
}

static uint32_t get_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

static uint64_t get_u64(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u64(tb[type]) : 0;
}

static const char *get_str(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_string(tb[type]) : "?";
}

static void print_event_json(struct nlattr **tb, uint32_t type, const char *t)
{
	static const char *const names[] = {
		[MLX5C_GENL_EVENT_STATE] = "state",
		[MLX5C_GENL_EVENT_IMAGE_SAVED] = "image_saved",
		[MLX5C_GENL_EVENT_IMAGE_LOADED] = "image_loaded",
		[MLX5C_GENL_EVENT_ERROR] = "error",
	};

	printf("{\"time\":\"%s\",\"time_ns\":%llu,\"event\":\"%s\",\"bdf\":",
	       t, (unsigned long long)get_u64(tb, MLX5C_GENL_A_TIMESTAMP),
	       type < ARRAY_SIZE(names) && names[type] ? names[type] : "unknown");
	json_str(stdout, get_str(tb, MLX5C_GENL_A_BDF));
	printf(",\"dev\":");
	json_str(stdout, get_str(tb, MLX5C_GENL_A_DEV_NAME));
	switch (type) {
	case MLX5C_GENL_EVENT_STATE:
		printf(",\"old_state\":\"%s\",\"state\":\"%s\",\"cause\":\"%s\"",
		       vdev_state_name(get_u32(tb, MLX5C_GENL_A_OLD_STATE)),
		       vdev_state_name(get_u32(tb, MLX5C_GENL_A_MIG_STATE)),
		       cause_name(get_u32(tb, MLX5C_GENL_A_CAUSE)));
		break;
	case MLX5C_GENL_EVENT_IMAGE_SAVED:
	case MLX5C_GENL_EVENT_IMAGE_LOADED:
		printf(",\"kind\":\"%s\",\"seq\":%llu,\"bytes\":%llu",
		       kind_name(get_u32(tb, MLX5C_GENL_A_IMAGE_KIND)),
		       (unsigned long long)get_u64(tb, MLX5C_GENL_A_IMAGE_SEQ),
		       (unsigned long long)get_u64(tb, MLX5C_GENL_A_IMAGE_BYTES));
		break;
	case MLX5C_GENL_EVENT_ERROR:
		printf(",\"errno\":%u,\"error\":\"%s\",\"source\":\"%s\"",
		       get_u32(tb, MLX5C_GENL_A_ERRNO),
		       errno_name(get_u32(tb, MLX5C_GENL_A_ERRNO)),
		       source_name(get_u32(tb, MLX5C_GENL_A_ERROR_SOURCE)));
		if (tb[MLX5C_GENL_A_TARGET_STATE])
			printf(",\"state\":\"%s\",\"target\":\"%s\"",
			       vdev_state_name(get_u32(tb, MLX5C_GENL_A_MIG_STATE)),
			       vdev_state_name(get_u32(tb, MLX5C_GENL_A_TARGET_STATE)));
		break;
	}
	printf("}\n");
}

static void print_event_text(struct nlattr **tb, uint32_t type, const char *t)
{
	uint32_t err;

	printf("%s %s %s ", t, get_str(tb, MLX5C_GENL_A_BDF),
	       get_str(tb, MLX5C_GENL_A_DEV_NAME));
	switch (type) {
	case MLX5C_GENL_EVENT_STATE:
		printf("state %s -> %s (%s)\n",
		       vdev_state_name(get_u32(tb, MLX5C_GENL_A_OLD_STATE)),
		       vdev_state_name(get_u32(tb, MLX5C_GENL_A_MIG_STATE)),
		       cause_name(get_u32(tb, MLX5C_GENL_A_CAUSE)));
		break;
	case MLX5C_GENL_EVENT_IMAGE_SAVED:
	case MLX5C_GENL_EVENT_IMAGE_LOADED:
		printf("image %s %s seq %llu %llu bytes\n",
		       type == MLX5C_GENL_EVENT_IMAGE_SAVED ? "saved" : "loaded",
		       kind_name(get_u32(tb, MLX5C_GENL_A_IMAGE_KIND)),
		       (unsigned long long)get_u64(tb, MLX5C_GENL_A_IMAGE_SEQ),
		       (unsigned long long)get_u64(tb, MLX5C_GENL_A_IMAGE_BYTES));
		break;
	case MLX5C_GENL_EVENT_ERROR:
		err = get_u32(tb, MLX5C_GENL_A_ERRNO);
		printf("error %s (%s) in %s", errno_name(err), strerror(err),
		       source_name(get_u32(tb, MLX5C_GENL_A_ERROR_SOURCE)));
		if (tb[MLX5C_GENL_A_TARGET_STATE])
			printf(" (target %s, now %s)",
			       vdev_state_name(get_u32(tb, MLX5C_GENL_A_TARGET_STATE)),
			       vdev_state_name(get_u32(tb, MLX5C_GENL_A_MIG_STATE)));
		printf("\n");
		break;
	default:
		printf("event %u\n", type);
	}
}

static int on_event(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[MLX5C_GENL_A_MAX + 1];
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *g = nlmsg_data(nlh);
	struct monitor *m = arg;
	uint32_t type;
	char t[48];

	if (nlh->nlmsg_type == GENL_ID_CTRL) {
		on_ctrl(m, nlh);
		return NL_OK;
	}
	if (m->family < 0 || nlh->nlmsg_type != m->family ||
	    g->cmd != MLX5C_GENL_CMD_EVENT || m->done)
		return NL_OK;
	if (genlmsg_parse(nlh, 0, tb, MLX5C_GENL_A_MAX, NULL))
		return NL_OK;
	type = get_u32(tb, MLX5C_GENL_A_EVENT);
	fmt_time(get_u64(tb, MLX5C_GENL_A_TIMESTAMP), t, sizeof(t));
	if (m->json)
		print_event_json(tb, type, t);
	else
		print_event_text(tb, type, t);
	fflush(stdout);
	if (m->count && !--m->count)
		m->done = true;
	return NL_OK;
}

int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct monitor m = { .family = -1 };
	struct nl_sock *ctl;
	int opt, grp, notify, ret, rc = VMIG_EXIT_DEVICE;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jn:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			m.json = true;
			break;
		case 'n':
			if (parse_u64(optarg, &m.count) || !m.count) {
				fprintf(stderr, "%s monitor: --count %s: not a positive number\n",
					prog, optarg);
				return VMIG_EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(monitor_help, stdout);
			return VMIG_EXIT_OK;
		default:
			fputs(monitor_help, stderr);
			return VMIG_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(monitor_help, stderr);
		return VMIG_EXIT_USAGE;
	}

	ctl = nl_open();
	if (!ctl)
		return VMIG_EXIT_DEVICE;
	m.ev = nl_open();
	if (!m.ev)
		goto out_ctl;
	m.family = resolve_family(ctl);
	if (m.family < 0)
		goto out;
	grp = genl_ctrl_resolve_grp(ctl, MLX5C_GENL_NAME,
				    MLX5C_GENL_MCGRP_EVENTS);
	notify = genl_ctrl_resolve_grp(ctl, "nlctrl",
				       "notify");
	if (grp < 0 || notify < 0) {
		fprintf(stderr, "%s: cannot resolve the multicast groups\n",
			prog);
		goto out;
	}
	nl_socket_disable_seq_check(m.ev);
	nl_socket_modify_cb(m.ev, NL_CB_VALID, NL_CB_CUSTOM, on_event, &m);
	nl_socket_set_buffer_size(m.ev, 4 << 20, 0);
	if (nl_socket_add_memberships(m.ev, grp, notify, 0)) {
		fprintf(stderr, "%s: cannot join the multicast groups\n", prog);
		goto out;
	}
	fprintf(stderr, "%s: monitoring %s events (family %d, group %d)\n",
		prog, MLX5C_GENL_NAME, m.family, grp);

	rc = VMIG_EXIT_OK;
	while (!m.done && !vmig_signalled) {
		struct pollfd p = { .fd = nl_socket_get_fd(m.ev),
				    .events = POLLIN };

		ret = poll(&p, 1, -1);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			rc = VMIG_EXIT_DEVICE;
			break;
		}
		ret = nl_recvmsgs_default(m.ev);
		if (ret == -NLE_NOMEM) {
			/* ENOBUFS: the socket overflowed, events were lost. */
			fprintf(stderr, "%s: events lost (receive buffer overrun)\n",
				prog);
		} else if (ret < 0 && ret != -NLE_AGAIN && ret != -NLE_INTR) {
			fprintf(stderr, "%s: netlink: %s\n", prog,
				nl_geterror(ret));
			rc = VMIG_EXIT_DEVICE;
			break;
		}
	}
out:
	nl_socket_free(m.ev);
out_ctl:
	nl_socket_free(ctl);
	return rc;
}

/* stats */

static const char stats_help[] =
	"usage: vfio-mig stats [DEV] [--json] [--reset]\n"
	"Print the migration counters of every function bound to\n"
	"mlx5c-vfio-pci, or of DEV (a PCI address).\n"
	"  -j, --json       a JSON array\n"
	"      --reset      zero the counters instead (CAP_NET_ADMIN)\n"
	"  -h, --help       this help\n";

struct dev_stats {
	char bdf[64];
	char dev[32];
	uint32_t state;
	uint64_t flags;
	uint64_t mem_size;
	uint64_t v[MLX5C_GENL_A_STATS_MAX + 1];
};

struct stats_list {
	struct dev_stats *d;
	size_t n;
	bool finished;		/* the ACK or the end of the dump arrived */
};

static int on_finish(struct nl_msg *msg, void *arg)
{
	struct stats_list *l = arg;

	(void)msg;
	l->finished = true;
	return NL_STOP;
}

static int on_stats(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[MLX5C_GENL_A_MAX + 1];
	struct nlattr *st[MLX5C_GENL_A_STATS_MAX + 1];
	struct stats_list *l = arg;
	struct dev_stats *d;
	int i;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, MLX5C_GENL_A_MAX, NULL))
		return NL_SKIP;
	d = realloc(l->d, (l->n + 1) * sizeof(*d));
	if (!d)
		return NL_STOP;
	l->d = d;
	d = &l->d[l->n++];
	memset(d, 0, sizeof(*d));
	snprintf(d->bdf, sizeof(d->bdf), "%s", get_str(tb, MLX5C_GENL_A_BDF));
	snprintf(d->dev, sizeof(d->dev), "%s",
		 get_str(tb, MLX5C_GENL_A_DEV_NAME));
	d->state = get_u32(tb, MLX5C_GENL_A_MIG_STATE);
	d->flags = get_u64(tb, MLX5C_GENL_A_MIG_FLAGS);
	d->mem_size = get_u64(tb, MLX5C_GENL_A_MEM_SIZE);
	if (tb[MLX5C_GENL_A_STATS] &&
	    !nla_parse_nested(st, MLX5C_GENL_A_STATS_MAX, tb[MLX5C_GENL_A_STATS],
			      NULL)) {
		for (i = MLX5C_GENL_A_STATS_SAVED_INITIAL;
		     i <= MLX5C_GENL_A_STATS_MAX; i++)
			if (st[i])
				d->v[i] = i == MLX5C_GENL_A_STATS_LAST_ERROR ?
					  nla_get_u32(st[i]) : nla_get_u64(st[i]);
	}
	return NL_OK;
}

/* Send a request for @cmd (optionally about @bdf) and read the answer. */
static int nl_request(struct nl_sock *sk, int family, uint8_t cmd, int flags,
		      const char *bdf, struct stats_list *l)
{
	struct nl_err ne = { 0 };
	struct nl_msg *msg = nlmsg_alloc();
	int ret = -NLE_NOMEM;

	if (!msg)
		goto out;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags,
			 cmd, MLX5C_GENL_VERSION) ||
	    (bdf && nla_put_string(msg, MLX5C_GENL_A_BDF, bdf)))
		goto out;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_stats, l);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_CUSTOM, on_finish, l);
	nl_socket_modify_cb(sk, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, l);
	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_nl_error, &ne);
	/* A reply, then the ACK (NL_AUTO_ACK); or a dump, then DONE. */
	ret = nl_send_auto(sk, msg);
	while (ret >= 0 && !l->finished)
		ret = nl_recvmsgs_default(sk);
out:
	nlmsg_free(msg);
	if (ret < 0) {
		if (ne.error)
			fprintf(stderr, "%s: %s%s%s\n", prog, strerror(ne.error),
				ne.msg[0] ? ": " : "", ne.msg);
		else
			fprintf(stderr, "%s: netlink: %s\n", prog,
				nl_geterror(ret));
		return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	int attr;
} counters[] = {
	{ "precopy_info", MLX5C_GENL_A_STATS_PRECOPY_INFO },
	{ "reinits", MLX5C_GENL_A_STATS_REINITS },
	{ "fallbacks", MLX5C_GENL_A_STATS_FALLBACKS },
	{ "resets", MLX5C_GENL_A_STATS_RESETS },
	{ "fw_failures", MLX5C_GENL_A_STATS_FW_FAILURES },
};

static void print_stats_text(const struct dev_stats *d)
{
	const uint64_t *v = d->v;
	size_t i;

	printf("%s: %s state %s flags %s%s%s mem %llu\n", d->bdf, d->dev,
	       vdev_state_name(d->state),
	       d->flags & VFIO_MIGRATION_STOP_COPY ? "stop_copy" : "-",
	       d->flags & VFIO_MIGRATION_P2P ? ",p2p" : "",
	       d->flags & VFIO_MIGRATION_PRE_COPY ? ",pre_copy" : "",
	       (unsigned long long)d->mem_size);
	printf("    %-8s %-10s %-10s %-10s %s\n", "images:", "initial",
	       "middle", "final", "bytes");
	printf("    %-8s %-10llu %-10llu %-10llu %llu\n", "saved",
	       (unsigned long long)v[MLX5C_GENL_A_STATS_SAVED_INITIAL],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_SAVED_MIDDLE],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_SAVED_FINAL],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_BYTES_SAVED]);
	printf("    %-8s %-10llu %-10llu %-10llu %llu\n", "loaded",
	       (unsigned long long)v[MLX5C_GENL_A_STATS_LOADED_INITIAL],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_LOADED_MIDDLE],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_LOADED_FINAL],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_BYTES_LOADED]);
	printf("    ");
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf("%-13s", counters[i].name);
	printf("last_error\n    ");
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf("%-13llu", (unsigned long long)v[counters[i].attr]);
	printf("%s\n", errno_name(v[MLX5C_GENL_A_STATS_LAST_ERROR]));
}

static void print_stats_json(const struct dev_stats *d)
{
	const uint64_t *v = d->v;
	size_t i;

	printf("{\"bdf\":");
	json_str(stdout, d->bdf);
	printf(",\"dev\":");
	json_str(stdout, d->dev);
	printf(",\"state\":\"%s\",\"flags\":[", vdev_state_name(d->state));
	printf("%s", d->flags & VFIO_MIGRATION_STOP_COPY ? "\"stop_copy\"" : "");
	printf("%s", d->flags & VFIO_MIGRATION_P2P ? ",\"p2p\"" : "");
	printf("%s", d->flags & VFIO_MIGRATION_PRE_COPY ? ",\"pre_copy\"" : "");
	printf("],\"mem_size\":%llu,\"stats\":{", (unsigned long long)d->mem_size);
	printf("\"saved\":{\"initial\":%llu,\"middle\":%llu,\"final\":%llu,\"bytes\":%llu},",
	       (unsigned long long)v[MLX5C_GENL_A_STATS_SAVED_INITIAL],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_SAVED_MIDDLE],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_SAVED_FINAL],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_BYTES_SAVED]);
	printf("\"loaded\":{\"initial\":%llu,\"middle\":%llu,\"final\":%llu,\"bytes\":%llu}",
	       (unsigned long long)v[MLX5C_GENL_A_STATS_LOADED_INITIAL],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_LOADED_MIDDLE],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_LOADED_FINAL],
	       (unsigned long long)v[MLX5C_GENL_A_STATS_BYTES_LOADED]);
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		printf(",\"%s\":%llu", counters[i].name,
		       (unsigned long long)v[counters[i].attr]);
	printf(",\"last_error\":%llu}}",
	       (unsigned long long)v[MLX5C_GENL_A_STATS_LAST_ERROR]);
}

/* "00:03.0" -> "0000:00:03.0"; a sysfs path -> its last component. */
static void normalize_bdf(const char *in, char *out, size_t len)
{
	const char *slash = strrchr(in, '/');
	const char *s = slash && slash[1] ? slash + 1 : in;
	int colons = 0;
	const char *p;

	for (p = s; *p; p++)
		colons += *p == ':';
	snprintf(out, len, "%s%s", colons == 1 ? "0000:" : "", s);
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "reset", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stats_list l = { 0 };
	bool json = false, reset = false;
	char bdf[MLX5C_GENL_BDF_MAXLEN + 1];
	const char *dev = NULL;
	struct nl_sock *sk;
	int opt, family, ret;
	size_t i;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'r':
			reset = true;
			break;
		case 'h':
			fputs(stats_help, stdout);
			return VMIG_EXIT_OK;
		default:
			fputs(stats_help, stderr);
			return VMIG_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		fputs(stats_help, stderr);
		return VMIG_EXIT_USAGE;
	}
	if (optind < argc) {
		normalize_bdf(argv[optind], bdf, sizeof(bdf));
		dev = bdf;
	}

	sk = nl_open();
	if (!sk)
		return VMIG_EXIT_DEVICE;
	family = resolve_family(sk);
	if (family < 0) {
		nl_socket_free(sk);
		return VMIG_EXIT_DEVICE;
	}
	if (reset)
		ret = nl_request(sk, family, MLX5C_GENL_CMD_RESET_STATS, 0,
				 dev, &l);
	else
		ret = nl_request(sk, family, MLX5C_GENL_CMD_GET,
				 dev ? 0 : NLM_F_DUMP, dev, &l);
	nl_socket_free(sk);
	if (ret) {
		free(l.d);
		return VMIG_EXIT_DEVICE;
	}
	if (json && !reset) {
		printf("[");
		for (i = 0; i < l.n; i++) {
			printf(i ? "," : "");
			print_stats_json(&l.d[i]);
		}
		printf("]\n");
	} else {
		for (i = 0; i < l.n; i++)
			print_stats_text(&l.d[i]);
	}
	free(l.d);
	return VMIG_EXIT_OK;
}
