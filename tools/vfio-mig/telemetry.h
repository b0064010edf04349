/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfio-mig monitor and stats: the mlx5c generic netlink family
 * (include/uapi/linux/mlx5c_genl.h) through libnl-genl-3.
 */
#ifndef VFIO_MIG_TELEMETRY_H
#define VFIO_MIG_TELEMETRY_H

/* vfio-mig monitor [--json] [--count N] */
int cmd_monitor(int argc, char **argv);
/* vfio-mig stats [DEV] [--json] [--reset] */
int cmd_stats(int argc, char **argv);

#endif
