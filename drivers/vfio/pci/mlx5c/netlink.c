// SPDX-License-Identifier: GPL-2.0
/*
 * Migration telemetry over generic netlink: the "mlx5c" family
 * (include/uapi/linux/mlx5c_genl.h, Documentation/mlx5c-netlink.rst).
 *
 * The family answers GET for one bound function or dumps all of them, and
 * zeroes the counters on RESET_STATS.  What it tells is about guests (dirty
 * rates, migration timing), so every operation and the "events" group are
 * CAP_NET_ADMIN only.  The rest of the driver counts what happens with
 * mlx5c_stat_add() and announces state changes, images and errors with
 * mlx5c_notify_*() to the "events" group.
 *
 * Locking: mlx5c_devs_lock protects the list of bound functions and is
 * taken before a function's state mutex.  The counters have their own
 * spinlock, innermost.  Events are built with nla_put only, so no byte of
 * a message comes from uninitialised memory, and carry no kernel pointer.
 */
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <net/genetlink.h>

#include "mlx5c.h"

static LIST_HEAD(mlx5c_devs);
static DEFINE_MUTEX(mlx5c_devs_lock);
/* Bumped on every list change: a dump that spans one is flagged. */
static unsigned int mlx5c_devs_gen = 1;

enum mlx5c_genl_grp {
	MLX5C_GENL_GRP_EVENTS,
};

static const struct genl_multicast_group mlx5c_genl_mcgrps[] = {
	/* Events tell about guests: admin only, as GET is. */
	[MLX5C_GENL_GRP_EVENTS] = { .name = MLX5C_GENL_MCGRP_EVENTS,
				    .flags = GENL_MCAST_CAP_NET_ADMIN },
};

#define MLX5C_REPLY_ONLY \
	{ .type = NLA_REJECT, .reject_message = "attribute is reply-only" }

/* Requests select a function by BDF; everything else is reply-only. */
static const struct nla_policy mlx5c_genl_policy[MLX5C_GENL_A_MAX + 1] = {
	[MLX5C_GENL_A_PAD] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_DEV_NAME] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_BDF] = { .type = NLA_NUL_STRING,
			       .len = MLX5C_GENL_BDF_MAXLEN },
	[MLX5C_GENL_A_MIG_STATE] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_MIG_FLAGS] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_MEM_SIZE] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_STATS] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_EVENT] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_TIMESTAMP] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_OLD_STATE] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_TARGET_STATE] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_CAUSE] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_IMAGE_KIND] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_IMAGE_SEQ] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_IMAGE_BYTES] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_ERRNO] = MLX5C_REPLY_ONLY,
	[MLX5C_GENL_A_ERROR_SOURCE] = MLX5C_REPLY_ONLY,
};

static struct genl_family mlx5c_genl_family;

/* Counters */

void mlx5c_stat_add(struct mlx5c_vf *mvdev, enum mlx5c_stat stat, u64 n)
{
	spin_lock(&mvdev->stats_lock);
	mvdev->stats.v[stat] += n;
	spin_unlock(&mvdev->stats_lock);
}

static void mlx5c_stats_snapshot(struct mlx5c_vf *mvdev,
				 struct mlx5c_stats *stats)
{
	spin_lock(&mvdev->stats_lock);
	*stats = mvdev->stats;
	spin_unlock(&mvdev->stats_lock);
}

static void mlx5c_stats_reset(struct mlx5c_vf *mvdev)
{
	spin_lock(&mvdev->stats_lock);
	memset(&mvdev->stats, 0, sizeof(mvdev->stats));
	spin_unlock(&mvdev->stats_lock);
}

/* Events */

static bool mlx5c_listened(void)
{
	return genl_has_listeners(&mlx5c_genl_family, &init_net,
				  MLX5C_GENL_GRP_EVENTS) > 0;
}

static int mlx5c_put_dev(struct sk_buff *skb, struct mlx5c_vf *mvdev)
{
	if (nla_put_string(skb, MLX5C_GENL_A_DEV_NAME,
			   dev_name(&mvdev->core_device.vdev.device)) ||
	    nla_put_string(skb, MLX5C_GENL_A_BDF,
			   pci_name(mvdev->core_device.pdev)))
		return -EMSGSIZE;
	return 0;
}

/* A new event message with its common attributes, or NULL. */
static struct sk_buff *mlx5c_event_new(struct mlx5c_vf *mvdev, u32 event,
				       gfp_t gfp, void **hdr)
{
	struct sk_buff *skb;

	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, gfp);
	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &mlx5c_genl_family, 0,
			   MLX5C_GENL_CMD_EVENT);
	if (!*hdr)
		goto err;
	if (nla_put_u32(skb, MLX5C_GENL_A_EVENT, event) ||
	    nla_put_u64_64bit(skb, MLX5C_GENL_A_TIMESTAMP, ktime_get_real_ns(),
			      MLX5C_GENL_A_PAD) ||
	    mlx5c_put_dev(skb, mvdev))
		goto err;
	return skb;
err:
	nlmsg_free(skb);
	return NULL;
}

static void mlx5c_event_send(struct sk_buff *skb, void *hdr, gfp_t gfp)
{
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&mlx5c_genl_family, skb, 0, MLX5C_GENL_GRP_EVENTS,
			  gfp);
}

/*
 * The migration state went from @old to @new (equal after a reset of a
 * RUNNING function).  Callers hold the state mutex, so events of one
 * function are sent in the order of its changes.
 */
void mlx5c_notify_state(struct mlx5c_vf *mvdev, u32 old, u32 new, u32 cause,
			gfp_t gfp)
{
	struct sk_buff *skb;
	void *hdr;

	if (!mlx5c_listened())
		return;
	skb = mlx5c_event_new(mvdev, MLX5C_GENL_EVENT_STATE, gfp, &hdr);
	if (!skb)
		return;
	if (nla_put_u32(skb, MLX5C_GENL_A_OLD_STATE, old) ||
	    nla_put_u32(skb, MLX5C_GENL_A_MIG_STATE, new) ||
	    nla_put_u32(skb, MLX5C_GENL_A_CAUSE, cause)) {
		nlmsg_free(skb);
		return;
	}
	mlx5c_event_send(skb, hdr, gfp);
}

/* An image of @kind was saved or loaded: count it and announce it. */
void mlx5c_notify_image(struct mlx5c_vf *mvdev, bool saved, u16 kind,
			u64 seq, u64 bytes)
{
	enum mlx5c_stat base = saved ? MLX5C_STAT_SAVED_INITIAL :
				       MLX5C_STAT_LOADED_INITIAL;
	struct sk_buff *skb;
	void *hdr;

	if (kind >= MLX5C_IMAGE_INITIAL && kind <= MLX5C_IMAGE_FINAL)
		mlx5c_stat_add(mvdev, base + kind - MLX5C_IMAGE_INITIAL, 1);
	if (!mlx5c_listened())
		return;
	skb = mlx5c_event_new(mvdev, saved ? MLX5C_GENL_EVENT_IMAGE_SAVED :
				     MLX5C_GENL_EVENT_IMAGE_LOADED,
			      GFP_KERNEL, &hdr);
	if (!skb)
		return;
	if (nla_put_u32(skb, MLX5C_GENL_A_IMAGE_KIND, kind) ||
	    nla_put_u64_64bit(skb, MLX5C_GENL_A_IMAGE_SEQ, seq,
			      MLX5C_GENL_A_PAD) ||
	    nla_put_u64_64bit(skb, MLX5C_GENL_A_IMAGE_BYTES, bytes,
			      MLX5C_GENL_A_PAD)) {
		nlmsg_free(skb);
		return;
	}
	mlx5c_event_send(skb, hdr, GFP_KERNEL);
}

static void __mlx5c_notify_error(struct mlx5c_vf *mvdev, u32 source, int err,
				 const u32 *states)
{
	struct sk_buff *skb;
	void *hdr;

	spin_lock(&mvdev->stats_lock);
	mvdev->stats.last_error = -err;
	spin_unlock(&mvdev->stats_lock);
	if (!mlx5c_listened())
		return;
	skb = mlx5c_event_new(mvdev, MLX5C_GENL_EVENT_ERROR, GFP_KERNEL, &hdr);
	if (!skb)
		return;
	if (nla_put_u32(skb, MLX5C_GENL_A_ERRNO, -err) ||
	    nla_put_u32(skb, MLX5C_GENL_A_ERROR_SOURCE, source) ||
	    (states &&
	     (nla_put_u32(skb, MLX5C_GENL_A_MIG_STATE, states[0]) ||
	      nla_put_u32(skb, MLX5C_GENL_A_TARGET_STATE, states[1])))) {
		nlmsg_free(skb);
		return;
	}
	mlx5c_event_send(skb, hdr, GFP_KERNEL);
}

/* @err (negative errno) ended a save, a load or a precopy info call. */
void mlx5c_notify_error(struct mlx5c_vf *mvdev, u32 source, int err)
{
	__mlx5c_notify_error(mvdev, source, err, NULL);
}

/* A request for @target failed with @err; the function is in @state. */
void mlx5c_notify_state_error(struct mlx5c_vf *mvdev, int err, u32 state,
			      u32 target)
{
	u32 states[2] = { state, target };

	__mlx5c_notify_error(mvdev, MLX5C_GENL_ERR_STATE, err, states);
}

/* GET */

static int mlx5c_fill_stats(struct sk_buff *skb, struct mlx5c_vf *mvdev)
{
	struct mlx5c_stats stats;
	struct nlattr *nest;
	int i;

	BUILD_BUG_ON(MLX5C_GENL_A_STATS_SAVED_INITIAL + MLX5C_STAT_NR !=
		     MLX5C_GENL_A_STATS_LAST_ERROR);
	mlx5c_stats_snapshot(mvdev, &stats);
	nest = nla_nest_start(skb, MLX5C_GENL_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < MLX5C_STAT_NR; i++)
		if (nla_put_u64_64bit(skb, MLX5C_GENL_A_STATS_SAVED_INITIAL + i,
				      stats.v[i], MLX5C_GENL_A_STATS_PAD))
			goto cancel;
	if (nla_put_u32(skb, MLX5C_GENL_A_STATS_LAST_ERROR, stats.last_error))
		goto cancel;
	nla_nest_end(skb, nest);
	return 0;
cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

/* One function's GET message; caller holds mlx5c_devs_lock. */
static int mlx5c_fill_dev(struct sk_buff *skb, struct mlx5c_vf *mvdev,
			  u32 portid, u32 seq, int flags,
			  struct netlink_callback *cb)
{
	struct vfio_device *vdev = &mvdev->core_device.vdev;
	u64 mig_flags;
	u32 state;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &mlx5c_genl_family, flags,
			  MLX5C_GENL_CMD_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);

	/* The flags are the last opener's: set under the state mutex. */
	mlx5c_state_mutex_lock(mvdev);
	state = mvdev->mig_state;
	mig_flags = vdev->migration_flags;
	mlx5c_state_mutex_unlock(mvdev);

	if (mlx5c_put_dev(skb, mvdev) ||
	    nla_put_u32(skb, MLX5C_GENL_A_MIG_STATE, state) ||
	    nla_put_u64_64bit(skb, MLX5C_GENL_A_MIG_FLAGS,
			      mig_flags, MLX5C_GENL_A_PAD) ||
	    nla_put_u64_64bit(skb, MLX5C_GENL_A_MEM_SIZE, mvdev->emu.mem_size,
			      MLX5C_GENL_A_PAD) ||
	    mlx5c_fill_stats(skb, mvdev)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* The bound function named by @attr; caller holds mlx5c_devs_lock. */
static struct mlx5c_vf *mlx5c_find(const struct nlattr *attr)
{
	struct mlx5c_vf *mvdev;

	list_for_each_entry(mvdev, &mlx5c_devs, genl_node)
		if (!nla_strcmp(attr, pci_name(mvdev->core_device.pdev)))
			return mvdev;
	return NULL;
}

static int mlx5c_genl_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct mlx5c_vf *mvdev;
	struct sk_buff *msg;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, MLX5C_GENL_A_BDF))
		return -EINVAL;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	mutex_lock(&mlx5c_devs_lock);
	mvdev = mlx5c_find(info->attrs[MLX5C_GENL_A_BDF]);
	if (!mvdev) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[MLX5C_GENL_A_BDF],
				    "no such function bound to " MLX5C_DRV_NAME);
		ret = -ENODEV;
	} else {
		ret = mlx5c_fill_dev(msg, mvdev, info->snd_portid,
				     info->snd_seq, 0, NULL);
	}
	mutex_unlock(&mlx5c_devs_lock);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/* cb->args[0]: functions already dumped. */
static int mlx5c_genl_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	const struct genl_info *info = genl_info_dump(cb);
	const struct nlattr *bdf = info->attrs[MLX5C_GENL_A_BDF];
	struct mlx5c_vf *mvdev;
	long idx = 0;
	int ret = 0;

	mutex_lock(&mlx5c_devs_lock);
	cb->seq = mlx5c_devs_gen;
	list_for_each_entry(mvdev, &mlx5c_devs, genl_node) {
		if (idx++ < cb->args[0])
			continue;
		if (!bdf || !nla_strcmp(bdf, pci_name(mvdev->core_device.pdev))) {
			ret = mlx5c_fill_dev(skb, mvdev,
					     NETLINK_CB(cb->skb).portid,
					     cb->nlh->nlmsg_seq, NLM_F_MULTI,
					     cb);
			if (ret)
				break;
		}
		cb->args[0] = idx;
	}
	mutex_unlock(&mlx5c_devs_lock);
	/* A full skb is continued in the next round, unless it is empty. */
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret ?: skb->len;
}

/* RESET_STATS */

static int mlx5c_genl_reset_stats_doit(struct sk_buff *skb,
				       struct genl_info *info)
{
	const struct nlattr *bdf = info->attrs[MLX5C_GENL_A_BDF];
	struct mlx5c_vf *mvdev;
	int ret = 0;

	mutex_lock(&mlx5c_devs_lock);
	if (bdf) {
		mvdev = mlx5c_find(bdf);
		if (mvdev) {
			mlx5c_stats_reset(mvdev);
		} else {
			NL_SET_ERR_MSG_ATTR(info->extack, bdf,
					    "no such function bound to " MLX5C_DRV_NAME);
			ret = -ENODEV;
		}
	} else {
		list_for_each_entry(mvdev, &mlx5c_devs, genl_node)
			mlx5c_stats_reset(mvdev);
	}
	mutex_unlock(&mlx5c_devs_lock);
	return ret;
}

static const struct genl_small_ops mlx5c_genl_ops[] = {
	{
		.cmd = MLX5C_GENL_CMD_GET,
		.doit = mlx5c_genl_get_doit,
		.dumpit = mlx5c_genl_get_dumpit,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = MLX5C_GENL_CMD_RESET_STATS,
		.doit = mlx5c_genl_reset_stats_doit,
		.flags = GENL_ADMIN_PERM,
	},
};

/*
 * resv_start_op is 0: every command validates the header's reserved field
 * and its attributes strictly (unknown attributes, trailing data and
 * attributes above MLX5C_GENL_A_MAX are refused).
 */
static struct genl_family mlx5c_genl_family __ro_after_init = {
	.name = MLX5C_GENL_NAME,
	.version = MLX5C_GENL_VERSION,
	.maxattr = MLX5C_GENL_A_MAX,
	.policy = mlx5c_genl_policy,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.small_ops = mlx5c_genl_ops,
	.n_small_ops = ARRAY_SIZE(mlx5c_genl_ops),
	.resv_start_op = 0,
	.mcgrps = mlx5c_genl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(mlx5c_genl_mcgrps),
};

/* The list of bound functions, from probe and remove. */

void mlx5c_genl_add(struct mlx5c_vf *mvdev)
{
	mutex_lock(&mlx5c_devs_lock);
	list_add_tail(&mvdev->genl_node, &mlx5c_devs);
	mlx5c_devs_gen++;
	mutex_unlock(&mlx5c_devs_lock);
}

void mlx5c_genl_remove(struct mlx5c_vf *mvdev)
{
	mutex_lock(&mlx5c_devs_lock);
	list_del_init(&mvdev->genl_node);
	mlx5c_devs_gen++;
	mutex_unlock(&mlx5c_devs_lock);
}

int __init mlx5c_genl_init(void)
{
	return genl_register_family(&mlx5c_genl_family);
}

void mlx5c_genl_exit(void)
{
	genl_unregister_family(&mlx5c_genl_family);
}
