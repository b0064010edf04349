/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the mlx5c selftests: the functions the user gave, open
 * through the VFIO group/container interface or the vfio cdev, and the
 * migration uAPI.  Binding is the setup's (mlx5c_setup.sh), not theirs.
 */
#ifndef MLX5C_UTIL_H
#define MLX5C_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>
#include "linux/vfio_mig_compat.h"

#define MLX5C_DRIVER	"mlx5c-vfio-pci"
#define MLX5C_MAX_FUNCS	8
#define BDF_LEN		16

/* How a device is opened: the group/container interface, or its vfio
 * cdev (/dev/vfio/devices/vfioN) bound to an iommufd (/dev/iommu).
 */
enum vdev_mode {
	VDEV_GROUP,
	VDEV_CDEV,
};

struct vdev {
	char bdf[BDF_LEN];
	int container;		/* the iommufd in VDEV_CDEV mode */
	int group;		/* -1 in VDEV_CDEV mode */
	int fd;
	uint8_t *bar2;		/* mmap of BAR2, or NULL */
	size_t bar2_size;
	uint64_t bar2_offset;	/* region offset for pread/pwrite */
};

/*
 * The functions under test, as the user gave them: MLX5C_BDFS (BDFs
 * separated by spaces or commas), each bound to mlx5c-vfio-pci.  Up to
 * MLX5C_MAX_FUNCS of them into @bdf, and how many; -ENODEV with the reason
 * in *why when fewer than @need are given, or one is not a function or not
 * bound: the test skips with that reason.
 */
int mlx5c_functions(char bdf[][BDF_LEN], int need, const char **why);
/*
 * The BDFs among @argv's arguments moved into MLX5C_BDFS (the kselftest
 * way: "./migration 0000:01:00.0 0000:02:00.0"); returns the new argc.
 */
int mlx5c_take_bdf_args(int argc, char **argv);
int sysfs_write(const char *path, const char *val);
int sysfs_read(const char *path, char *buf, size_t len);
int bound_driver(const char *bdf, char *name, size_t len);
int bind_mlx5c(const char *bdf);
int unbind_dev(const char *bdf);

int vdev_open(struct vdev *d, const char *bdf);
/* Without vdev_open's retries while the group is busy. */
int vdev_try_open(struct vdev *d, const char *bdf);
/* Either mode; VDEV_GROUP is vdev_open(). */
int vdev_open_mode(struct vdev *d, const char *bdf, enum vdev_mode mode);
/*
 * 0 if @bdf can be opened through its cdev, or -ENOENT with why not in
 * @why: no /dev/iommu (no CONFIG_IOMMUFD) or no /dev/vfio/devices/vfioN
 * (no CONFIG_VFIO_DEVICE_CDEV).  @bdf must be bound.
 */
int vdev_cdev_available(const char *bdf, const char **why);
void vdev_close(struct vdev *d);
int vdev_map_bar2(struct vdev *d);

int mig_get_flags(struct vdev *d, uint64_t *flags);
int mig_get_state(struct vdev *d, uint32_t *state);
/* Returns the data fd (or -1 if none) in *data_fd; -errno on failure. */
int mig_set_state(struct vdev *d, uint32_t state, int *data_fd);
int mig_data_size(struct vdev *d, uint64_t *size);
int mig_precopy_v2(struct vdev *d);
int precopy_info(int data_fd, struct vfio_precopy_info *info);

/* debugfs knobs of a bound function: /sys/kernel/debug/mlx5c/BDF/... */
int knob_write(const char *bdf, const char *knob, const char *val);
long long knob_read(const char *bdf, const char *knob);


void fill_pattern(uint8_t *p, size_t len, uint64_t seed);
ssize_t read_all(int fd, void *buf, size_t len);
ssize_t write_all(int fd, const void *buf, size_t len);

#endif
