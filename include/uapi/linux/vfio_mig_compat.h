/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * VFIO migration definitions newer than some systems' <linux/vfio.h>.
 *
 * Include after <linux/vfio.h>.  Every definition here carries upstream's
 * value and is used only when the system header lacks it: PRE_COPY and the
 * precopy info ioctl (Linux 6.2), MIG_DATA_SIZE (Linux 6.2) and
 * PRECOPY_INFOv2 with VFIO_PRECOPY_INFO_REINIT (the newest addition, which
 * no 6.12 kernel header has).
 */
#ifndef _UAPI_LINUX_VFIO_MIG_COMPAT_H
#define _UAPI_LINUX_VFIO_MIG_COMPAT_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vfio.h>

#ifndef VFIO_MIG_GET_PRECOPY_INFO
#define VFIO_MIGRATION_PRE_COPY		(1 << 2)
#define VFIO_DEVICE_STATE_PRE_COPY	6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P	7

struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};

#define VFIO_MIG_GET_PRECOPY_INFO	_IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
struct vfio_device_feature_mig_data_size {
	__aligned_u64 stop_copy_length;
};

#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE	9
#endif

#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
/*
 * SET only, no payload: opt in to vfio_precopy_info.flags being an output.
 * With the opt-in the driver zeroes flags and may report REINIT: new initial
 * data is on the stream, initial_bytes has a new value and dirty_bytes is 0.
 */
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2	12
#endif

#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT	(1 << 0)
#endif

#endif /* _UAPI_LINUX_VFIO_MIG_COMPAT_H */
