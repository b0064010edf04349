// SPDX-License-Identifier: GPL-2.0
/*
 * mlx5c-vfio-pci: a vfio-pci variant driver for an mlx5-class function
 * whose device state lives behind BAR2.  This file is the VFIO glue: the
 * PCI driver, the vfio_device ops and their life cycle.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "mlx5c.h"

static int mlx5c_init_dev(struct vfio_device *core_vdev)
{
	return vfio_pci_core_init_dev(core_vdev);
}

static void mlx5c_release_dev(struct vfio_device *core_vdev)
{
	vfio_pci_core_release_dev(core_vdev);
}

static int mlx5c_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev = &to_mlx5c(core_vdev)->core_device;
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void mlx5c_close_device(struct vfio_device *core_vdev)
{
	vfio_pci_core_close_device(core_vdev);
}

static const struct vfio_device_ops mlx5c_vfio_ops = {
	.name = MLX5C_DRV_NAME,
	.init = mlx5c_init_dev,
	.release = mlx5c_release_dev,
	.open_device = mlx5c_open_device,
	.close_device = mlx5c_close_device,
	.ioctl = vfio_pci_core_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
};

static int mlx5c_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct mlx5c_vf *mvdev;
	int ret;

	mvdev = vfio_alloc_device(mlx5c_vf, core_device.vdev, &pdev->dev,
				  &mlx5c_vfio_ops);
	if (IS_ERR(mvdev))
		return PTR_ERR(mvdev);

	dev_set_drvdata(&pdev->dev, &mvdev->core_device);
	ret = vfio_pci_core_register_device(&mvdev->core_device);
	if (ret) {
		vfio_put_device(&mvdev->core_device.vdev);
		return ret;
	}
	return 0;
}

static void mlx5c_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(vdev);
	vfio_put_device(&vdev->vdev);
}

static const struct pci_device_id mlx5c_pci_table[] = {
	/* QEMU ivshmem-plain: RAM behind BAR2 stands in for the function. */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },
	{}
};
MODULE_DEVICE_TABLE(pci, mlx5c_pci_table);

static const struct pci_error_handlers mlx5c_err_handlers = {
	.error_detected = vfio_pci_core_aer_err_detected,
};

static struct pci_driver mlx5c_pci_driver = {
	.name = MLX5C_DRV_NAME,
	.id_table = mlx5c_pci_table,
	.probe = mlx5c_probe,
	.remove = mlx5c_remove,
	.err_handler = &mlx5c_err_handlers,
	.driver_managed_dma = true,
};
module_pci_driver(mlx5c_pci_driver);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The mlx5c authors");
MODULE_DESCRIPTION("VFIO PCI variant driver with live migration for mlx5-class functions");
MODULE_VERSION("0.1");
