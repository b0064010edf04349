// SPDX-License-Identifier: GPL-2.0
/*
 * The "mlx5c" generic netlink family: the family and its group, GET (do and
 * dump), strict validation of requests, CAP_NET_ADMIN for every operation
 * on a device and for the events group, the exact events of a STOP_COPY
 * migration, counters that match the bytes moved, and the error event of a
 * failed save.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/capability.h>

#include <netlink/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>
#include <linux/mlx5c_genl.h>

#include "harness.h"
#include "mig_common.h"

#define MAX_REPLIES	16
#define MAX_EVENTS	64

struct dev_info {
	char bdf[64];
	char dev[32];
	uint32_t state;
	uint64_t flags;
	uint64_t mem_size;
	uint64_t st[MLX5C_GENL_A_STATS_MAX + 1];
	bool well_formed;	/* every attribute known, of its exact size */
};

struct replies {
	struct dev_info d[MAX_REPLIES];
	int n;
	int error;		/* positive errno of the kernel's NACK */
	bool finished;
};

struct event {
	uint32_t type;
	char bdf[64];
	uint32_t old, state, cause, kind, err, source;
	uint64_t seq, bytes, ts;
};

struct events {
	struct event e[MAX_EVENTS];
	int n;
};

static bool attr_ok(const struct nlattr *a, int max, int (*size)(int))
{
	int type = nla_type(a);

	return type > 0 && type <= max && (size(type) < 0 ||
					   nla_len(a) == size(type));
}

/* Payload size of a top-level attribute, -1 for strings and nests. */
static int top_size(int type)
{
	switch (type) {
	case MLX5C_GENL_A_PAD:
		return 0;
	case MLX5C_GENL_A_DEV_NAME:
	case MLX5C_GENL_A_BDF:
	case MLX5C_GENL_A_STATS:
		return -1;
	case MLX5C_GENL_A_MIG_FLAGS:
	case MLX5C_GENL_A_MEM_SIZE:
	case MLX5C_GENL_A_TIMESTAMP:
	case MLX5C_GENL_A_IMAGE_SEQ:
	case MLX5C_GENL_A_IMAGE_BYTES:
		return 8;
	default:
		return 4;
	}
}

static int stats_size(int type)
{
	if (type == MLX5C_GENL_A_STATS_PAD)
		return 0;
	return type == MLX5C_GENL_A_STATS_LAST_ERROR ? 4 : 8;
}

static int on_reply(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct replies *r = arg;
	struct dev_info *d;
	struct nlattr *a, *s;
	int rem, srem;

	if (r->n == MAX_REPLIES)
		return NL_SKIP;
	d = &r->d[r->n++];
	memset(d, 0, sizeof(*d));
	d->well_formed = true;
	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem) {
		if (!attr_ok(a, MLX5C_GENL_A_MAX, top_size)) {
			d->well_formed = false;
			continue;
		}
		switch (nla_type(a)) {
		case MLX5C_GENL_A_BDF:
			snprintf(d->bdf, sizeof(d->bdf), "%s", nla_get_string(a));
			break;
		case MLX5C_GENL_A_DEV_NAME:
			snprintf(d->dev, sizeof(d->dev), "%s", nla_get_string(a));
			break;
		case MLX5C_GENL_A_MIG_STATE:
			d->state = nla_get_u32(a);
			break;
		case MLX5C_GENL_A_MIG_FLAGS:
			d->flags = nla_get_u64(a);
			break;
		case MLX5C_GENL_A_MEM_SIZE:
			d->mem_size = nla_get_u64(a);
			break;
		case MLX5C_GENL_A_STATS:
			nla_for_each_nested(s, a, srem) {
				if (!attr_ok(s, MLX5C_GENL_A_STATS_MAX,
					     stats_size)) {
					d->well_formed = false;
					continue;
				}
				d->st[nla_type(s)] = nla_len(s) == 8 ?
					nla_get_u64(s) : nla_len(s) == 4 ?
					nla_get_u32(s) : 0;
			}
			break;
		}
	}
	return NL_OK;
}

static int on_done(struct nl_msg *msg, void *arg)
{
	struct replies *r = arg;

	(void)msg;
	r->finished = true;
	return NL_STOP;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct replies *r = arg;

	(void)who;
	r->error = -e->error;
	r->finished = true;
	return NL_STOP;
}

static struct nl_sock *nl_open(int *family)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk)
		return NULL;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return NULL;
	}
	*family = genl_ctrl_resolve(sk, MLX5C_GENL_NAME);
	return sk;
}

/*
 * A request: @cmd with @flags, a BDF attribute if @bdf, and an extra
 * u32 attribute of type @extra if non-zero.  @reserved goes into the
 * genetlink header.  Returns the kernel's errno (0 on success).
 */
static int request(struct nl_sock *sk, int family, uint8_t cmd, int flags,
		   const char *bdf, int extra, uint8_t reserved,
		   struct replies *r)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct genlmsghdr *g;
	int ret;

	memset(r, 0, sizeof(*r));
	if (!msg)
		return ENOMEM;
	g = genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
			MLX5C_GENL_VERSION);
	if (!g || (bdf && nla_put_string(msg, MLX5C_GENL_A_BDF, bdf)) ||
	    (extra && nla_put_u32(msg, extra, 1))) {
		nlmsg_free(msg);
		return ENOMEM;
	}
	((struct genlmsghdr *)nlmsg_data(nlmsg_hdr(msg)))->reserved = reserved;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_reply, r);
	nl_socket_modify_cb(sk, NL_CB_ACK, NL_CB_CUSTOM, on_done, r);
	nl_socket_modify_cb(sk, NL_CB_FINISH, NL_CB_CUSTOM, on_done, r);
	nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, on_error, r);
	ret = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	while (ret >= 0 && !r->finished)
		ret = nl_recvmsgs_default(sk);
	if (ret < 0 && !r->error)
		return EIO;
	return r->error;
}

static int get_dev(struct nl_sock *sk, int family, const char *bdf,
		   struct dev_info *d)
{
	struct replies r;
	int ret;

	ret = request(sk, family, MLX5C_GENL_CMD_GET, 0, bdf, 0, 0, &r);
	if (ret)
		return ret;
	if (r.n != 1)
		return EPROTO;
	*d = r.d[0];
	return 0;
}

/* Events */

static int on_event(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[MLX5C_GENL_A_MAX + 1];
	struct events *ev = arg;
	struct event *e;

	if (ev->n == MAX_EVENTS ||
	    genlmsg_parse(nlmsg_hdr(msg), 0, tb, MLX5C_GENL_A_MAX, NULL))
		return NL_SKIP;
	e = &ev->e[ev->n++];
	memset(e, 0, sizeof(*e));
#define U32(x, a) (e->x = tb[a] ? nla_get_u32(tb[a]) : 0)
#define U64(x, a) (e->x = tb[a] ? nla_get_u64(tb[a]) : 0)
	U32(type, MLX5C_GENL_A_EVENT);
	U32(old, MLX5C_GENL_A_OLD_STATE);
	U32(state, MLX5C_GENL_A_MIG_STATE);
	U32(cause, MLX5C_GENL_A_CAUSE);
	U32(kind, MLX5C_GENL_A_IMAGE_KIND);
	U32(err, MLX5C_GENL_A_ERRNO);
	U32(source, MLX5C_GENL_A_ERROR_SOURCE);
	U64(seq, MLX5C_GENL_A_IMAGE_SEQ);
	U64(bytes, MLX5C_GENL_A_IMAGE_BYTES);
	U64(ts, MLX5C_GENL_A_TIMESTAMP);
#undef U32
#undef U64
	if (tb[MLX5C_GENL_A_BDF])
		snprintf(e->bdf, sizeof(e->bdf), "%s",
			 nla_get_string(tb[MLX5C_GENL_A_BDF]));
	return NL_OK;
}

static struct nl_sock *ev_open(struct events *ev)
{
	struct nl_sock *sk;
	int family, grp;

	sk = nl_open(&family);
	if (!sk)
		return NULL;
	grp = genl_ctrl_resolve_grp(sk, MLX5C_GENL_NAME,
				    MLX5C_GENL_MCGRP_EVENTS);
	memset(ev, 0, sizeof(*ev));
	nl_socket_disable_seq_check(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_event, ev);
	if (family < 0 || grp < 0 || nl_socket_add_membership(sk, grp)) {
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

/* Collect events until none arrives for @quiet_ms. */
static void ev_collect(struct nl_sock *sk, int quiet_ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(sk), .events = POLLIN };

	while (poll(&p, 1, quiet_ms) > 0)
		nl_recvmsgs_default(sk);
}

static uint64_t now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The family */

TEST(family)
{
	struct nl_cache *cache = NULL;
	struct genl_family *f;
	struct nl_sock *sk;
	int family;

	sk = nl_open(&family);
	ASSERT_NE(NULL, sk);
	ASSERT_LT(0, family);
	ASSERT_LT(0, genl_ctrl_resolve_grp(sk, MLX5C_GENL_NAME,
					   MLX5C_GENL_MCGRP_EVENTS));
	ASSERT_EQ(0, genl_ctrl_alloc_cache(sk, &cache));
	f = genl_ctrl_search_by_name(cache, MLX5C_GENL_NAME);
	ASSERT_NE(NULL, f);
	EXPECT_EQ(MLX5C_GENL_VERSION, genl_family_get_version(f));
	EXPECT_EQ(MLX5C_GENL_A_MAX, genl_family_get_maxattr(f));
	genl_family_put(f);
	nl_cache_free(cache);
	nl_socket_free(sk);
}

/* GET */

FIXTURE(nl) {
	char bdf[MLX5C_MAX_FUNCS][BDF_LEN];
	int nr;
	struct nl_sock *sk;
	int family;
};

FIXTURE_SETUP(nl)
{
	const char *why;

	self->nr = mlx5c_functions(self->bdf, 1, &why);
	if (self->nr < 0)
		SKIP(return, "%s", why);
	self->sk = nl_open(&self->family);
	ASSERT_NE(NULL, self->sk);
	ASSERT_LT(0, self->family);
}

FIXTURE_TEARDOWN(nl)
{
	if (self->sk)
		nl_socket_free(self->sk);
}

static uint64_t bar2_size(const char *bdf)
{
	unsigned long long start, end, flags;
	char path[128];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= 2; i++)
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
			break;
	fclose(f);
	return i == 3 ? end - start + 1 : 0;
}

TEST_F(nl, dump_lists_every_bound_function)
{
	struct replies r;
	char drv[64];
	int bound = 0;

	ASSERT_EQ(0, request(self->sk, self->family, MLX5C_GENL_CMD_GET,
			     NLM_F_DUMP, NULL, 0, 0, &r));
	for (int i = 0; i < self->nr; i++) {
		bool seen = false;

		ASSERT_EQ(0, bound_driver(self->bdf[i], drv, sizeof(drv)));
		ASSERT_STREQ(MLX5C_DRIVER, drv);
		bound++;
		for (int j = 0; j < r.n; j++) {
			if (strcmp(r.d[j].bdf, self->bdf[i]))
				continue;
			EXPECT_FALSE(seen);
			seen = true;
			EXPECT_TRUE(r.d[j].well_formed);
			EXPECT_EQ(0, strncmp(r.d[j].dev, "vfio", 4));
			EXPECT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
				  VFIO_MIGRATION_PRE_COPY, r.d[j].flags);
			EXPECT_EQ(bar2_size(self->bdf[i]), r.d[j].mem_size);
			EXPECT_NE(0, r.d[j].mem_size);
		}
		EXPECT_TRUE(seen) TH_LOG("%s missing from the dump",
					 self->bdf[i]);
	}
	EXPECT_EQ(bound, r.n);

	/* A dump filtered by BDF gives that function only. */
	ASSERT_EQ(0, request(self->sk, self->family, MLX5C_GENL_CMD_GET,
			     NLM_F_DUMP, self->bdf[0], 0, 0, &r));
	ASSERT_EQ(1, r.n);
	EXPECT_STREQ(self->bdf[0], r.d[0].bdf);
}

TEST_F(nl, get_one)
{
	struct dev_info d;

	ASSERT_EQ(0, get_dev(self->sk, self->family, self->bdf[0], &d));
	EXPECT_STREQ(self->bdf[0], d.bdf);
	EXPECT_TRUE(d.well_formed);
	EXPECT_EQ(ST(RUNNING), d.state);
	EXPECT_EQ(ENODEV, get_dev(self->sk, self->family, "0000:ff:1f.7", &d));
}

TEST_F(nl, strict_validation)
{
	char longbdf[64];
	struct replies r;

	/* GET needs a BDF unless it is a dump. */
	EXPECT_EQ(EINVAL, request(self->sk, self->family, MLX5C_GENL_CMD_GET,
				  0, NULL, 0, 0, &r));
	/* Reply-only and unknown attributes are refused. */
	EXPECT_EQ(EINVAL, request(self->sk, self->family, MLX5C_GENL_CMD_GET,
				  0, self->bdf[0], MLX5C_GENL_A_MIG_STATE, 0,
				  &r));
	EXPECT_EQ(EINVAL, request(self->sk, self->family, MLX5C_GENL_CMD_GET,
				  NLM_F_DUMP, NULL, MLX5C_GENL_A_STATS, 0, &r));
	EXPECT_EQ(EINVAL, request(self->sk, self->family, MLX5C_GENL_CMD_GET,
				  0, self->bdf[0], MLX5C_GENL_A_MAX + 1, 0, &r));
	/* An over-long BDF, a non-zero reserved field, an unknown command. */
	memset(longbdf, 'a', sizeof(longbdf) - 1);
	longbdf[sizeof(longbdf) - 1] = 0;
	EXPECT_EQ(EINVAL, request(self->sk, self->family, MLX5C_GENL_CMD_GET,
				  0, longbdf, 0, 0, &r));
	EXPECT_EQ(EINVAL, request(self->sk, self->family, MLX5C_GENL_CMD_GET,
				  0, self->bdf[0], 0, 1, &r));
	EXPECT_EQ(EOPNOTSUPP, request(self->sk, self->family,
				      MLX5C_GENL_CMD_EVENT, 0, NULL, 0, 0, &r));
	/* And a correct one still works. */
	EXPECT_EQ(0, request(self->sk, self->family, MLX5C_GENL_CMD_GET, 0,
			     self->bdf[0], 0, 0, &r));
}

static int drop_cap_net_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct c[2];

	if (syscall(SYS_capget, &h, c))
		return -1;
	c[CAP_NET_ADMIN / 32].effective &= ~(1U << (CAP_NET_ADMIN % 32));
	c[CAP_NET_ADMIN / 32].permitted &= ~(1U << (CAP_NET_ADMIN % 32));
	c[CAP_NET_ADMIN / 32].inheritable &= ~(1U << (CAP_NET_ADMIN % 32));
	return syscall(SYS_capset, &h, c) ? -1 : 0;
}

/*
 * Exit status: 0 if everything per-device is refused without CAP_NET_ADMIN:
 * RESET_STATS and GET (do and dump) with EPERM, and joining the events
 * group.  Resolving the family and its group stays open to anyone.
 */
static int unprivileged_child(const char *bdf)
{
	struct nl_sock *sk;
	struct replies r;
	int family, grp;

	if (drop_cap_net_admin())
		return 10;
	sk = nl_open(&family);
	if (!sk || family < 0)
		return 11;
	if (request(sk, family, MLX5C_GENL_CMD_RESET_STATS, 0, NULL, 0, 0,
		    &r) != EPERM)
		return 12;
	if (request(sk, family, MLX5C_GENL_CMD_RESET_STATS, 0, bdf, 0, 0,
		    &r) != EPERM)
		return 13;
	if (request(sk, family, MLX5C_GENL_CMD_GET, 0, bdf, 0, 0, &r) != EPERM ||
	    r.n)
		return 14;
	if (request(sk, family, MLX5C_GENL_CMD_GET, NLM_F_DUMP, NULL, 0, 0,
		    &r) != EPERM || r.n)
		return 15;
	grp = genl_ctrl_resolve_grp(sk, MLX5C_GENL_NAME,
				    MLX5C_GENL_MCGRP_EVENTS);
	if (grp < 0)
		return 16;
	if (!nl_socket_add_membership(sk, grp))
		return 17;
	nl_socket_free(sk);
	return 0;
}

TEST_F(nl, telemetry_needs_cap_net_admin)
{
	struct dev_info d;
	struct replies r;
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(unprivileged_child(self->bdf[0]));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* With CAP_NET_ADMIN it zeroes every counter. */
	ASSERT_EQ(0, request(self->sk, self->family,
			     MLX5C_GENL_CMD_RESET_STATS, 0, NULL, 0, 0, &r));
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->bdf[0], &d));
	for (int i = MLX5C_GENL_A_STATS_SAVED_INITIAL;
	     i <= MLX5C_GENL_A_STATS_MAX; i++) {
		EXPECT_EQ(0, d.st[i]) TH_LOG("counter %d", i);
	}
	EXPECT_EQ(ENODEV, request(self->sk, self->family,
				  MLX5C_GENL_CMD_RESET_STATS, 0,
				  "0000:ff:1f.7", 0, 0, &r));
}

/* A migration between two functions */

FIXTURE(mig) {
	struct pair p;
	struct nl_sock *sk, *ev_sk;
	int family;
	struct events ev;
};

FIXTURE_SETUP(mig)
{
	struct replies r;
	int ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	fill_pattern(self->p.src.bar2, self->p.src.bar2_size, getpid());
	memset(self->p.dst.bar2, 0x5a, self->p.dst.bar2_size);
	self->sk = nl_open(&self->family);
	ASSERT_NE(NULL, self->sk);
	ASSERT_EQ(0, request(self->sk, self->family,
			     MLX5C_GENL_CMD_RESET_STATS, 0, NULL, 0, 0, &r));
	self->ev_sk = ev_open(&self->ev);
	ASSERT_NE(NULL, self->ev_sk);
}

FIXTURE_TEARDOWN(mig)
{
	if (self->ev_sk)
		nl_socket_free(self->ev_sk);
	if (self->sk)
		nl_socket_free(self->sk);
	pair_close(&self->p);
}

struct expect {
	int dev;		/* 0 source, 1 destination */
	uint32_t type;
	uint32_t old, state;	/* state events */
	uint32_t kind;		/* image events */
};

#define EV_ST(d, o, n) { d, MLX5C_GENL_EVENT_STATE, ST(o), ST(n), 0 }
#define EV_IMG(d, t, k) { d, MLX5C_GENL_EVENT_IMAGE_##t, 0, 0, \
			  MLX5C_IMAGE_##k }

TEST_F(mig, stop_copy_events_and_counters)
{
	static const struct expect want[] = {
		EV_ST(0, RUNNING, RUNNING_P2P),
		EV_ST(0, RUNNING_P2P, STOP),
		EV_ST(0, STOP, STOP_COPY),
		EV_IMG(0, SAVED, FINAL),
		EV_ST(0, STOP_COPY, STOP),
		EV_ST(0, STOP, RUNNING_P2P),
		EV_ST(0, RUNNING_P2P, RUNNING),
		EV_ST(1, RUNNING, RUNNING_P2P),
		EV_ST(1, RUNNING_P2P, STOP),
		EV_ST(1, STOP, RESUMING),
		EV_IMG(1, LOADED, FINAL),
		EV_ST(1, RESUMING, STOP),
		EV_ST(1, STOP, RUNNING_P2P),
		EV_ST(1, RUNNING_P2P, RUNNING),
	};
	const int nwant = sizeof(want) / sizeof(want[0]);
	struct dev_info src, dst;
	struct stream s = { 0 };
	uint64_t t0, t1, last = 0;
	int fd;

	t0 = now_real_ns();
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_EQ(0, stream_read(&s, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 0));
	ev_collect(self->ev_sk, 500);
	t1 = now_real_ns();
	ASSERT_EQ(0, memcmp(self->p.src.bar2, self->p.dst.bar2,
			    self->p.src.bar2_size));

	for (int i = 0; i < self->ev.n; i++) {
		struct event *e = &self->ev.e[i];

		TH_LOG("event %d: %s type %u %u -> %u kind %u bytes %llu", i,
		       e->bdf, e->type, e->old, e->state, e->kind,
		       (unsigned long long)e->bytes);
	}
	ASSERT_EQ(nwant, self->ev.n);
	for (int i = 0; i < nwant; i++) {
		const struct expect *w = &want[i];
		struct event *e = &self->ev.e[i];

		EXPECT_STREQ(self->p.bdf[w->dev], e->bdf);
		EXPECT_EQ(w->type, e->type) TH_LOG("event %d", i);
		if (w->type == MLX5C_GENL_EVENT_STATE) {
			EXPECT_EQ(w->old, e->old) TH_LOG("event %d", i);
			EXPECT_EQ(w->state, e->state) TH_LOG("event %d", i);
			EXPECT_EQ(MLX5C_GENL_CAUSE_ARC, e->cause);
		} else {
			EXPECT_EQ(w->kind, e->kind) TH_LOG("event %d", i);
			EXPECT_EQ(0, e->seq);
			/* The stream: version and size, then the image. */
			EXPECT_EQ(s.len - START_SIZE, e->bytes);
		}
		EXPECT_LE(t0, e->ts);
		EXPECT_GE(t1, e->ts);
		EXPECT_LE(last, e->ts);
		last = e->ts;
	}

	/* The counters match the bytes moved. */
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[0], &src));
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[1], &dst));
	EXPECT_EQ(s.len, src.st[MLX5C_GENL_A_STATS_BYTES_SAVED]);
	EXPECT_EQ(0, src.st[MLX5C_GENL_A_STATS_BYTES_LOADED]);
	EXPECT_EQ(1, src.st[MLX5C_GENL_A_STATS_SAVED_FINAL]);
	EXPECT_EQ(0, src.st[MLX5C_GENL_A_STATS_SAVED_INITIAL]);
	EXPECT_EQ(s.len, dst.st[MLX5C_GENL_A_STATS_BYTES_LOADED]);
	EXPECT_EQ(0, dst.st[MLX5C_GENL_A_STATS_BYTES_SAVED]);
	EXPECT_EQ(1, dst.st[MLX5C_GENL_A_STATS_LOADED_FINAL]);
	EXPECT_EQ(0, src.st[MLX5C_GENL_A_STATS_FW_FAILURES]);
	EXPECT_EQ(0, dst.st[MLX5C_GENL_A_STATS_FW_FAILURES]);
	EXPECT_EQ(0, src.st[MLX5C_GENL_A_STATS_LAST_ERROR]);
	EXPECT_EQ(ST(RUNNING), src.state);
	EXPECT_EQ(ST(RUNNING), dst.state);
	stream_free(&s);
}

TEST_F(mig, precopy_counters)
{
	struct vfio_precopy_info info;
	struct dev_info d;
	struct stream s = { 0 };
	int fd, saved = 0;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_EQ(0, stream_read(&s, fd));
	for (int i = 0; i < 3; i++) {
		self->p.src.bar2[4096 * (i + 2)] ^= 1;
		ASSERT_EQ(0, precopy_info(fd, &info));
		ASSERT_NE(0, info.dirty_bytes);
		ASSERT_LT(0, stream_drain(&s, fd));
	}
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	ASSERT_EQ(0, stream_read(&s, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, load_stream(&self->p.dst, s.data, s.len, 4096));
	ev_collect(self->ev_sk, 500);

	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[0], &d));
	EXPECT_EQ(3, d.st[MLX5C_GENL_A_STATS_PRECOPY_INFO]);
	EXPECT_EQ(1, d.st[MLX5C_GENL_A_STATS_SAVED_INITIAL]);
	EXPECT_EQ(3, d.st[MLX5C_GENL_A_STATS_SAVED_MIDDLE]);
	EXPECT_EQ(1, d.st[MLX5C_GENL_A_STATS_SAVED_FINAL]);
	EXPECT_EQ(s.len, d.st[MLX5C_GENL_A_STATS_BYTES_SAVED]);
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[1], &d));
	EXPECT_EQ(1, d.st[MLX5C_GENL_A_STATS_LOADED_INITIAL]);
	EXPECT_EQ(3, d.st[MLX5C_GENL_A_STATS_LOADED_MIDDLE]);
	EXPECT_EQ(1, d.st[MLX5C_GENL_A_STATS_LOADED_FINAL]);
	EXPECT_EQ(s.len, d.st[MLX5C_GENL_A_STATS_BYTES_LOADED]);
	for (int i = 0; i < self->ev.n; i++)
		saved += self->ev.e[i].type == MLX5C_GENL_EVENT_IMAGE_SAVED;
	EXPECT_EQ(5, saved);
	EXPECT_EQ(0, memcmp(self->p.src.bar2, self->p.dst.bar2,
			    self->p.src.bar2_size));
	stream_free(&s);
}

TEST_F(mig, failed_save_error_event)
{
	struct stream s = { 0 };
	struct dev_info d;
	bool found = false;
	int fd;

	ASSERT_EQ(0, knob_write(self->p.bdf[0], "save_final/fail_count", "1"));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	/* The size record, then the save's error. */
	EXPECT_EQ(-EIO, stream_read(&s, fd));
	stream_free(&s);
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ev_collect(self->ev_sk, 500);

	for (int i = 0; i < self->ev.n; i++) {
		struct event *e = &self->ev.e[i];

		if (e->type != MLX5C_GENL_EVENT_ERROR)
			continue;
		EXPECT_FALSE(found);
		found = true;
		EXPECT_STREQ(self->p.bdf[0], e->bdf);
		EXPECT_EQ(EIO, e->err);
		EXPECT_EQ(MLX5C_GENL_ERR_SAVE, e->source);
	}
	EXPECT_TRUE(found);
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[0], &d));
	EXPECT_EQ(1, d.st[MLX5C_GENL_A_STATS_FW_FAILURES]);
	EXPECT_EQ(EIO, d.st[MLX5C_GENL_A_STATS_LAST_ERROR]);
	EXPECT_EQ(0, d.st[MLX5C_GENL_A_STATS_SAVED_FINAL]);
}

/* The FALLBACKS and REINITS counters count what they name, once each. */
TEST_F(mig, fallback_and_reinit_counters)
{
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	struct dev_info d;
	int fd;

	/* A failed incremental save: fallback to a full final image. */
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_EQ(0, stream_read(&s, fd));
	ASSERT_EQ(0, knob_write(self->p.bdf[0], "save_middle/fail_count", "1"));
	self->p.src.bar2[4096 * 5] ^= 1;
	ASSERT_EQ(0, precopy_info(fd, &info));
	/* Until the save has completed (failed): a close would cancel it. */
	ASSERT_LE(0, stream_drain(&s, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[0], &d));
	EXPECT_EQ(1, d.st[MLX5C_GENL_A_STATS_FALLBACKS]);
	EXPECT_EQ(0, d.st[MLX5C_GENL_A_STATS_REINITS]);

	/* With the opt-in, the context page written: a REINIT. */
	s.len = 0;
	ASSERT_EQ(0, mig_precopy_v2(&self->p.src));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_EQ(0, stream_read(&s, fd));
	self->p.src.bar2[17] ^= 1;
	ASSERT_EQ(0, precopy_info(fd, &info));
	EXPECT_EQ(VFIO_PRECOPY_INFO_REINIT, info.flags);
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[0], &d));
	EXPECT_EQ(1, d.st[MLX5C_GENL_A_STATS_FALLBACKS]);
	EXPECT_EQ(1, d.st[MLX5C_GENL_A_STATS_REINITS]);
	stream_free(&s);
}

/* The one ERROR event of @bdf in the collected events, or NULL. */
static struct event *error_event(struct events *ev, const char *bdf)
{
	struct event *found = NULL;

	for (int i = 0; i < ev->n; i++) {
		if (ev->e[i].type != MLX5C_GENL_EVENT_ERROR ||
		    strcmp(ev->e[i].bdf, bdf))
			continue;
		if (found)
			return NULL;
		found = &ev->e[i];
	}
	return found;
}

/* A failed state change: an ERROR event from STATE with its errno. */
TEST_F(mig, failed_arc_error_event)
{
	struct event *e;

	ASSERT_EQ(0, knob_write(self->p.bdf[0], "suspend_initiator/fail_count", "1"));
	ASSERT_EQ(0, knob_write(self->p.bdf[0], "suspend_initiator/fail_errno", "16"));
	ASSERT_EQ(-EBUSY, mig_set_state(&self->p.src, ST(STOP), NULL));
	ev_collect(self->ev_sk, 500);
	e = error_event(&self->ev, self->p.bdf[0]);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(EBUSY, e->err);
	EXPECT_EQ(MLX5C_GENL_ERR_STATE, e->source);
	ASSERT_EQ(0, ioctl(self->p.src.fd, VFIO_DEVICE_RESET));
}

/* A refused resuming stream: an ERROR event from LOAD with its errno. */
TEST_F(mig, refused_stream_error_event)
{
	struct mlx5c_mig_header h = {
		.record_size = 64, .flags = 0, .tag = 0x1234,
	};
	struct event *e;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &fd));
	ASSERT_EQ(-EOPNOTSUPP, stream_write(fd, (void *)&h, sizeof(h), 0));
	close(fd);
	ev_collect(self->ev_sk, 500);
	e = error_event(&self->ev, self->p.bdf[1]);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(EOPNOTSUPP, e->err);
	EXPECT_EQ(MLX5C_GENL_ERR_LOAD, e->source);
	ASSERT_EQ(0, ioctl(self->p.dst.fd, VFIO_DEVICE_RESET));
}

TEST_F(mig, reset_event)
{
	struct dev_info src, dst;
	uint64_t base, dst_base;
	bool found = false;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP), NULL));
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[0], &src));
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[1], &dst));
	base = src.st[MLX5C_GENL_A_STATS_RESETS];
	dst_base = dst.st[MLX5C_GENL_A_STATS_RESETS];
	ASSERT_EQ(0, ioctl(self->p.src.fd, VFIO_DEVICE_RESET));
	/* RESETS counts each reset applied, of the function reset only. */
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[0], &src));
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[1], &dst));
	EXPECT_EQ(base + 1, src.st[MLX5C_GENL_A_STATS_RESETS]);
	EXPECT_EQ(dst_base, dst.st[MLX5C_GENL_A_STATS_RESETS]);
	EXPECT_EQ(ST(RUNNING), src.state);
	ev_collect(self->ev_sk, 500);
	for (int i = 0; i < self->ev.n; i++) {
		struct event *e = &self->ev.e[i];

		if (e->type == MLX5C_GENL_EVENT_STATE &&
		    e->cause == MLX5C_GENL_CAUSE_RESET) {
			EXPECT_STREQ(self->p.bdf[0], e->bdf);
			EXPECT_EQ(ST(STOP), e->old);
			EXPECT_EQ(ST(RUNNING), e->state);
			found = true;
		}
	}
	EXPECT_TRUE(found);
	/* And a second one, from RUNNING. */
	ASSERT_EQ(0, ioctl(self->p.src.fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, get_dev(self->sk, self->family, self->p.bdf[0], &src));
	EXPECT_EQ(base + 2, src.st[MLX5C_GENL_A_STATS_RESETS]);
}

TEST_HARNESS_MAIN
