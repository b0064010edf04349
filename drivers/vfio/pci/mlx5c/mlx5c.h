/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mlx5c-vfio-pci: private definitions shared by the driver's files.
 */
#ifndef MLX5C_H
#define MLX5C_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/vfio_pci_core.h>

#define MLX5C_DRV_NAME		"mlx5c-vfio-pci"
#define MLX5C_STATE_BAR		2

struct mlx5c_vf {
	struct vfio_pci_core_device core_device;
};

static inline struct mlx5c_vf *to_mlx5c(struct vfio_device *vdev)
{
	return container_of(vdev, struct mlx5c_vf, core_device.vdev);
}

#endif /* MLX5C_H */
