/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The "mlx5c" generic netlink family of mlx5c-vfio-pci: migration telemetry
 * of every bound function, for the operators and orchestrators that watch a
 * migration they do not drive.  See Documentation/mlx5c-netlink.rst.
 *
 *   MLX5C_GENL_CMD_GET          do: one function (MLX5C_GENL_A_BDF required);
 *                               dump: every bound function (optionally only
 *                               MLX5C_GENL_A_BDF).  CAP_NET_ADMIN.
 *   MLX5C_GENL_CMD_RESET_STATS  zero the counters of one function
 *                               (MLX5C_GENL_A_BDF) or of all.  CAP_NET_ADMIN.
 *   MLX5C_GENL_CMD_EVENT        notifications on the "events" group only;
 *                               joining it needs CAP_NET_ADMIN.
 *
 * Requests may carry MLX5C_GENL_A_BDF and nothing else: every other
 * attribute is reply- or event-only and is rejected in a request.
 */
#ifndef _UAPI_LINUX_MLX5C_GENL_H
#define _UAPI_LINUX_MLX5C_GENL_H

#define MLX5C_GENL_NAME			"mlx5c"
#define MLX5C_GENL_VERSION		1
#define MLX5C_GENL_MCGRP_EVENTS		"events"

/* Longest PCI address accepted in MLX5C_GENL_A_BDF, NUL excluded. */
#define MLX5C_GENL_BDF_MAXLEN		31

enum mlx5c_genl_cmd {
	MLX5C_GENL_CMD_UNSPEC,
	MLX5C_GENL_CMD_GET,
	MLX5C_GENL_CMD_RESET_STATS,
	MLX5C_GENL_CMD_EVENT,

	__MLX5C_GENL_CMD_MAX,
	MLX5C_GENL_CMD_MAX = __MLX5C_GENL_CMD_MAX - 1
};

enum mlx5c_genl_attr {
	MLX5C_GENL_A_UNSPEC,
	MLX5C_GENL_A_PAD,
	MLX5C_GENL_A_DEV_NAME,		/* string: VFIO device, "vfio0" */
	MLX5C_GENL_A_BDF,		/* string: PCI address, "0000:01:00.0" */
	MLX5C_GENL_A_MIG_STATE,		/* u32: enum vfio_device_mig_state */
	MLX5C_GENL_A_MIG_FLAGS,		/* u64: VFIO_MIGRATION_* */
	MLX5C_GENL_A_MEM_SIZE,		/* u64: device memory bytes (BAR2) */
	MLX5C_GENL_A_STATS,		/* nest: MLX5C_GENL_A_STATS_* */
	MLX5C_GENL_A_EVENT,		/* u32: MLX5C_GENL_EVENT_* */
	MLX5C_GENL_A_TIMESTAMP,		/* u64: CLOCK_REALTIME, ns */
	MLX5C_GENL_A_OLD_STATE,		/* u32: state before a change */
	MLX5C_GENL_A_TARGET_STATE,	/* u32: state a failed request asked */
	MLX5C_GENL_A_CAUSE,		/* u32: MLX5C_GENL_CAUSE_* */
	MLX5C_GENL_A_IMAGE_KIND,	/* u32: MLX5C_IMAGE_* (mlx5c_vfio.h) */
	MLX5C_GENL_A_IMAGE_SEQ,		/* u64: image number in its session */
	MLX5C_GENL_A_IMAGE_BYTES,	/* u64: image bytes, header included */
	MLX5C_GENL_A_ERRNO,		/* u32: positive errno */
	MLX5C_GENL_A_ERROR_SOURCE,	/* u32: MLX5C_GENL_ERR_* */

	__MLX5C_GENL_A_MAX,
	MLX5C_GENL_A_MAX = __MLX5C_GENL_A_MAX - 1
};

/* Inside MLX5C_GENL_A_STATS: every counter is a u64 but LAST_ERROR. */
enum mlx5c_genl_stats_attr {
	MLX5C_GENL_A_STATS_UNSPEC,
	MLX5C_GENL_A_STATS_PAD,
	MLX5C_GENL_A_STATS_SAVED_INITIAL,	/* images saved, by kind */
	MLX5C_GENL_A_STATS_SAVED_MIDDLE,
	MLX5C_GENL_A_STATS_SAVED_FINAL,
	MLX5C_GENL_A_STATS_LOADED_INITIAL,	/* images loaded, by kind */
	MLX5C_GENL_A_STATS_LOADED_MIDDLE,
	MLX5C_GENL_A_STATS_LOADED_FINAL,
	MLX5C_GENL_A_STATS_BYTES_SAVED,		/* read from saving fds */
	MLX5C_GENL_A_STATS_BYTES_LOADED,	/* accepted by resuming fds */
	MLX5C_GENL_A_STATS_PRECOPY_INFO,	/* VFIO_MIG_GET_PRECOPY_INFO calls */
	MLX5C_GENL_A_STATS_REINITS,		/* VFIO_PRECOPY_INFO_REINIT */
	MLX5C_GENL_A_STATS_FALLBACKS,		/* to a full final image */
	MLX5C_GENL_A_STATS_RESETS,		/* function resets */
	MLX5C_GENL_A_STATS_FW_FAILURES,		/* failed firmware commands */
	MLX5C_GENL_A_STATS_LAST_ERROR,		/* u32: positive errno, 0 none */

	__MLX5C_GENL_A_STATS_MAX,
	MLX5C_GENL_A_STATS_MAX = __MLX5C_GENL_A_STATS_MAX - 1
};

/* MLX5C_GENL_A_EVENT */
enum mlx5c_genl_event {
	MLX5C_GENL_EVENT_UNSPEC,
	MLX5C_GENL_EVENT_STATE,		/* OLD_STATE -> MIG_STATE, CAUSE */
	MLX5C_GENL_EVENT_IMAGE_SAVED,	/* IMAGE_KIND, IMAGE_SEQ, IMAGE_BYTES */
	MLX5C_GENL_EVENT_IMAGE_LOADED,	/* IMAGE_KIND, IMAGE_SEQ, IMAGE_BYTES */
	MLX5C_GENL_EVENT_ERROR,		/* ERRNO, ERROR_SOURCE [, states] */
};

/* MLX5C_GENL_A_CAUSE of a state event */
enum mlx5c_genl_cause {
	MLX5C_GENL_CAUSE_UNSPEC,
	MLX5C_GENL_CAUSE_ARC,		/* one arc of a requested change */
	MLX5C_GENL_CAUSE_FAILURE,	/* a failed resume: ERROR */
	MLX5C_GENL_CAUSE_RESET,		/* function reset: RUNNING */
	MLX5C_GENL_CAUSE_OPEN,		/* the device was opened: RUNNING */
};

/* MLX5C_GENL_A_ERROR_SOURCE of an error event */
enum mlx5c_genl_err_source {
	MLX5C_GENL_ERR_UNSPEC,
	MLX5C_GENL_ERR_STATE,		/* a state change request failed */
	MLX5C_GENL_ERR_SAVE,		/* a firmware save failed */
	MLX5C_GENL_ERR_LOAD,		/* the resuming stream was refused */
	MLX5C_GENL_ERR_PRECOPY,		/* VFIO_MIG_GET_PRECOPY_INFO failed */
};

#endif /* _UAPI_LINUX_MLX5C_GENL_H */
