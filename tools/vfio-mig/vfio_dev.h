/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Access to one VFIO migration device.
 *
 * struct vdev carries an ops table so that the migration flow (mig.c) can
 * run against a real device (vdev_open) or a fake one in the host tests.
 */
#ifndef VFIO_MIG_VFIO_DEV_H
#define VFIO_MIG_VFIO_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/vfio.h>
#include "linux/vfio_mig_compat.h"

struct vdev;

struct vdev_region {
	uint64_t size;
	uint64_t offset;	/* in the device fd */
	void *map;		/* NULL: not mmap-able, use pwrite */
	int fd;
};

struct vdev_ops {
	int (*get_flags)(struct vdev *d, uint64_t *flags);
	int (*get_state)(struct vdev *d, uint32_t *state);
	/* @data_fd: new data fd or -1 */
	int (*set_state)(struct vdev *d, uint32_t state, int *data_fd);
	int (*data_size)(struct vdev *d, uint64_t *bytes);
	int (*precopy_info)(struct vdev *d, int fd,
			    struct vfio_precopy_info *info);
	/* 1 accepted, 0 not supported, -errno */
	int (*precopy_v2)(struct vdev *d);
	int (*reset)(struct vdev *d);
	ssize_t (*read)(struct vdev *d, int fd, void *buf, size_t len);
	ssize_t (*write)(struct vdev *d, int fd, const void *buf, size_t len);
	int (*map_region)(struct vdev *d, unsigned index,
			  struct vdev_region *r);
	void (*unmap_region)(struct vdev *d, struct vdev_region *r);
	void (*close_fd)(struct vdev *d, int fd);
	void (*close)(struct vdev *d);
};

struct vdev {
	const struct vdev_ops *ops;
	void *priv;
	char name[256];		/* what the user gave */
	char devname[128];	/* BDF or mdev UUID */
	int container_fd;
	int group_fd;
	int device_fd;
	int group;
};

/* Open "0000:00:03.0", "00:03.0", an mdev UUID or a sysfs device path. */
int vdev_open(struct vdev *d, const char *spec, char *err, size_t errlen);
void vdev_close(struct vdev *d);

/* State name <-> value; names are case-insensitive uAPI names. */
const char *vdev_state_name(uint32_t state);
int vdev_parse_state(const char *name, uint32_t *state);

/*
 * Set @state.  On failure ask the device where it is (*@actual), as the
 * SET ioctl does not say.  @data_fd may be NULL (then a returned fd is
 * closed).  Returns 0 or -errno.
 */
int vdev_set_state(struct vdev *d, uint32_t state, int *data_fd,
		   uint32_t *actual);

static inline int vdev_get_state(struct vdev *d, uint32_t *state)
{
	return d->ops->get_state(d, state);
}

static inline int vdev_get_flags(struct vdev *d, uint64_t *flags)
{
	return d->ops->get_flags(d, flags);
}

#endif
