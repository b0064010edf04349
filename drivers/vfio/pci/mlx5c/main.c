// SPDX-License-Identifier: GPL-2.0
/*
 * mlx5c-vfio-pci: a vfio-pci variant driver for an mlx5-class function
 * whose device state lives behind BAR2, with live migration.  This file is
 * the VFIO glue: the PCI driver, the vfio_device ops, their life cycle and
 * the reset handling.  See mlx5c.h for where everything else lives.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "mlx5c.h"

unsigned int mlx5c_default_latency_ms = 1;
module_param_named(latency_ms, mlx5c_default_latency_ms, uint, 0644);
MODULE_PARM_DESC(latency_ms,
		 "Default latency of an emulated firmware save, in ms (1)");

static bool mlx5c_precopy = true;
module_param_named(precopy, mlx5c_precopy, bool, 0644);
MODULE_PARM_DESC(precopy,
		 "Offer PRE_COPY to the next opener of a function (Y); N leaves STOP_COPY and P2P");

/* The migration flags a function offers from its next open on. */
static u64 mlx5c_migration_flags(void)
{
	u64 flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P;

	if (READ_ONCE(mlx5c_precopy))
		flags |= VFIO_MIGRATION_PRE_COPY;
	return flags;
}

/*
 * Allocations the driver makes on behalf of a migration, charged to the
 * caller's memory cgroup (how the benchmark measures a session's kernel
 * memory).  stream.c calls these so that it also builds in userspace.
 */
void *mlx5c_alloc(size_t size)
{
	return kvmalloc(size, GFP_KERNEL_ACCOUNT);
}

void *mlx5c_zalloc(size_t size)
{
	return kvzalloc(size, GFP_KERNEL_ACCOUNT);
}

void mlx5c_free(void *p)
{
	kvfree(p);
}

/*
 * Apply a reset that mlx5c_reset_done() could only note: back to RUNNING
 * with every session ended.  Caller holds the state mutex.
 */
static void mlx5c_apply_reset(struct mlx5c_vf *mvdev)
{
	u32 old;

	for (;;) {
		spin_lock(&mvdev->reset_lock);
		if (!mvdev->deferred_reset) {
			spin_unlock(&mvdev->reset_lock);
			return;
		}
		mvdev->deferred_reset = false;
		spin_unlock(&mvdev->reset_lock);
		old = mvdev->mig_state;
		mvdev->mig_state = VFIO_DEVICE_STATE_RUNNING;
		mlx5c_disable_files(mvdev);
		mlx5c_emu_reset(mvdev);
		mlx5c_stat_add(mvdev, MLX5C_STAT_RESETS, 1);
		mlx5c_notify_state(mvdev, old, mvdev->mig_state,
				   MLX5C_GENL_CAUSE_RESET, GFP_KERNEL);
	}
}

/*
 * Every taker of the state mutex goes through these two, so that whoever
 * looks at the migration state after a reset sees it applied.
 */
void mlx5c_state_mutex_lock(struct mlx5c_vf *mvdev)
{
	mutex_lock(&mvdev->state_mutex);
	mlx5c_apply_reset(mvdev);
}

void mlx5c_state_mutex_unlock(struct mlx5c_vf *mvdev)
{
	mlx5c_apply_reset(mvdev);
	mutex_unlock(&mvdev->state_mutex);
}

/*
 * Apply a reset that is pending, from a path that holds no lock: the data
 * files' read and write call this before taking their own lock, so that
 * once a reset has returned no session moves another byte.  The flag is
 * read without reset_lock: a reset that has returned to its caller before
 * this read or write started was noted before it (the caller's own
 * ordering of the two calls, a return and a later call, or whatever it
 * used to order two threads); one that lands during the call is seen by
 * the file through the reset count.
 */
void mlx5c_settle_reset(struct mlx5c_vf *mvdev)
{
	if (!READ_ONCE(mvdev->deferred_reset))
		return;
	mlx5c_state_mutex_lock(mvdev);
	mlx5c_state_mutex_unlock(mvdev);
}

static void mlx5c_reset_work(struct work_struct *work)
{
	struct mlx5c_vf *mvdev = container_of(work, struct mlx5c_vf,
					      reset_work);

	mlx5c_state_mutex_lock(mvdev);
	mlx5c_state_mutex_unlock(mvdev);
}

/*
 * The function was reset.  The core calls this with its memory_lock held,
 * which the fault path takes under mmap_lock, and ending a session takes
 * the data file's lock, which a read holds across copy_to_user: applying
 * the reset here could deadlock (lockdep saw the cycle).  So only note it.
 * A reset through this driver's own ioctl is applied by that ioctl before
 * it returns; one from elsewhere (sysfs, AER, a sibling's hot reset) is
 * applied by the next taker of the state mutex or the next read or write
 * of a data file, and a work item makes sure there is one.
 */
static void mlx5c_reset_done(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);
	struct mlx5c_vf *mvdev = container_of(vdev, struct mlx5c_vf,
					      core_device);

	bool queue;

	spin_lock(&mvdev->reset_lock);
	mvdev->deferred_reset = true;
	WRITE_ONCE(mvdev->resets, mvdev->resets + 1);
	queue = !mvdev->sync_resets;
	spin_unlock(&mvdev->reset_lock);
	if (queue)
		queue_work(system_wq, &mvdev->reset_work);
}

/*
 * VFIO_DEVICE_RESET and VFIO_DEVICE_PCI_HOT_RESET: once the core has
 * reset the function (and called reset_done under its locks), apply the
 * reset here, holding none of them, so that every session has ended when
 * the ioctl returns.
 *
 * A reset from elsewhere may land while this ioctl is in the core: its
 * reset_done sees sync_resets raised and leaves it to this ioctl.  Each
 * side writes one variable and then reads the other (reset_done:
 * deferred_reset, then sync_resets; here: sync_resets, then
 * deferred_reset), the store-buffering pattern: with plain accesses, or
 * an atomic_dec and a READ_ONCE, both could read the old value, and the
 * reset would be left to whoever takes the state mutex next.  Both sides
 * do their write and their read in one reset_lock section: whichever
 * section comes second sees the other's write, so either reset_done
 * queues the work or this ioctl applies the reset (or both).
 */
static long mlx5c_reset_ioctl(struct mlx5c_vf *mvdev, unsigned int cmd,
			      unsigned long arg)
{
	bool pending;
	long ret;

	spin_lock(&mvdev->reset_lock);
	mvdev->sync_resets++;
	spin_unlock(&mvdev->reset_lock);
	ret = vfio_pci_core_ioctl(&mvdev->core_device.vdev, cmd, arg);
	spin_lock(&mvdev->reset_lock);
	mvdev->sync_resets--;
	pending = mvdev->deferred_reset;
	spin_unlock(&mvdev->reset_lock);
	if (pending) {
		mlx5c_state_mutex_lock(mvdev);
		mlx5c_state_mutex_unlock(mvdev);
	}
	return ret;
}

static long mlx5c_ioctl(struct vfio_device *core_vdev, unsigned int cmd,
			unsigned long arg)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);

	switch (cmd) {
	case VFIO_DEVICE_RESET:
	case VFIO_DEVICE_PCI_HOT_RESET:
		return mlx5c_reset_ioctl(mvdev, cmd, arg);
	case VFIO_DEVICE_IOEVENTFD:
		/*
		 * The core writes for an ioeventfd behind the driver's back,
		 * so such writes to BAR2 could not be tracked, and the core
		 * reads the request from userspace itself, so checking its
		 * offset here first would race with a change of it.  Refuse
		 * them all: a VMM falls back to trapping the access.
		 */
		return -EINVAL;
	default:
		return vfio_pci_core_ioctl(core_vdev, cmd, arg);
	}
}

/*
 * Device DMA dirty tracking (VFIO_DEVICE_FEATURE_DMA_LOGGING_*), offered
 * only where the kernel can report it (CONFIG_IOMMUFD_DRIVER, which has
 * the iova_bitmap the report is written through).  The function never
 * writes to memory by DMA: its state is BAR2, written by the CPU.  So there
 * is nothing to track, and the honest report is an empty one: the caller's
 * bitmap is left as it is, all clear.  What remains is the protocol: one
 * start until a stop, no report without a start, and closing the device
 * ends the tracking.
 */
static int mlx5c_log_start(struct vfio_device *core_vdev,
			   struct rb_root_cached *ranges, u32 nnodes,
			   u64 *page_size)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);
	int ret = 0;

	mlx5c_state_mutex_lock(mvdev);
	if (mvdev->dirty_logging) {
		ret = -EBUSY;
	} else {
		mvdev->dirty_logging = true;
		mvdev->dma_log_starts++;
	}
	mlx5c_state_mutex_unlock(mvdev);
	/* Any granularity will do: *page_size is kept as asked. */
	return ret;
}

static int mlx5c_log_stop(struct vfio_device *core_vdev)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);

	mlx5c_state_mutex_lock(mvdev);
	mvdev->dirty_logging = false;
	mlx5c_state_mutex_unlock(mvdev);
	return 0;
}

static int mlx5c_log_read_and_clear(struct vfio_device *core_vdev,
				    unsigned long iova, unsigned long length,
				    struct iova_bitmap *dirty)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);
	int ret;

	mlx5c_state_mutex_lock(mvdev);
	if (mvdev->dirty_logging) {
		mvdev->dma_log_reports++;
		ret = 0;
	} else {
		ret = -EINVAL;
	}
	mlx5c_state_mutex_unlock(mvdev);
	return ret;
}

static const struct vfio_log_ops mlx5c_log_ops = {
	.log_start = mlx5c_log_start,
	.log_stop = mlx5c_log_stop,
	.log_read_and_clear = mlx5c_log_read_and_clear,
};

static int mlx5c_init_dev(struct vfio_device *core_vdev)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);
	int ret;

	ret = vfio_pci_core_init_dev(core_vdev);
	if (ret)
		return ret;
	mutex_init(&mvdev->state_mutex);
	spin_lock_init(&mvdev->reset_lock);
	mvdev->sync_resets = 0;
	INIT_WORK(&mvdev->reset_work, mlx5c_reset_work);
	spin_lock_init(&mvdev->knob_lock);
	spin_lock_init(&mvdev->stats_lock);
	INIT_LIST_HEAD(&mvdev->genl_node);
	/* What GET reports until the first open. */
	mvdev->mig_state = VFIO_DEVICE_STATE_RUNNING;
	ret = mlx5c_emu_init(mvdev);
	if (ret) {
		vfio_pci_core_release_dev(core_vdev);
		return ret;
	}
	core_vdev->migration_flags = mlx5c_migration_flags();
	core_vdev->mig_ops = &mlx5c_mig_ops;
	/* Without it, vfio refuses DMA_LOGGING_* with ENOTTY, as it should. */
	if (IS_ENABLED(CONFIG_IOMMUFD_DRIVER))
		core_vdev->log_ops = &mlx5c_log_ops;
	return 0;
}

static void mlx5c_release_dev(struct vfio_device *core_vdev)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);

	cancel_work_sync(&mvdev->reset_work);
	mlx5c_emu_uninit(mvdev);
	mutex_destroy(&mvdev->state_mutex);
	vfio_pci_core_release_dev(core_vdev);
}

static int mlx5c_open_device(struct vfio_device *core_vdev)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);
	struct vfio_pci_core_device *vdev = &mvdev->core_device;
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;

	mlx5c_state_mutex_lock(mvdev);
	ret = mlx5c_emu_open(mvdev);
	if (mvdev->mig_state != VFIO_DEVICE_STATE_RUNNING)
		mlx5c_notify_state(mvdev, mvdev->mig_state,
				   VFIO_DEVICE_STATE_RUNNING,
				   MLX5C_GENL_CAUSE_OPEN, GFP_KERNEL);
	mvdev->mig_state = VFIO_DEVICE_STATE_RUNNING;
	mvdev->precopy_v2 = false;
	/*
	 * The core reads the flags only while the device is open; netlink
	 * reads them under the state mutex.
	 */
	core_vdev->migration_flags = mlx5c_migration_flags();
	mlx5c_state_mutex_unlock(mvdev);
	if (ret) {
		vfio_pci_core_disable(vdev);
		return ret;
	}
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void mlx5c_close_device(struct vfio_device *core_vdev)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);

	mlx5c_state_mutex_lock(mvdev);
	mvdev->dirty_logging = false;
	mlx5c_disable_files(mvdev);
	mlx5c_emu_close(mvdev);
	mlx5c_state_mutex_unlock(mvdev);
	vfio_pci_core_close_device(core_vdev);
}

static int mlx5c_device_feature(struct vfio_device *core_vdev, u32 flags,
				void __user *arg, size_t argsz)
{
	switch (flags & VFIO_DEVICE_FEATURE_MASK) {
	case VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2:
		return mlx5c_feature_precopy_v2(to_mlx5c(core_vdev), flags,
						argsz);
	default:
		return vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
	}
}

static const struct vfio_device_ops mlx5c_vfio_ops = {
	.name = MLX5C_DRV_NAME,
	.init = mlx5c_init_dev,
	.release = mlx5c_release_dev,
	.open_device = mlx5c_open_device,
	.close_device = mlx5c_close_device,
	.ioctl = mlx5c_ioctl,
	.device_feature = mlx5c_device_feature,
	.read = vfio_pci_core_read,
	.write = mlx5c_emu_write,
	.mmap = mlx5c_emu_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	/* NULL on kernels without CONFIG_IOMMUFD, such as Debian's 6.12 */
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
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
	mlx5c_debugfs_add(mvdev);
	ret = vfio_pci_core_register_device(&mvdev->core_device);
	if (ret) {
		mlx5c_debugfs_remove(mvdev);
		vfio_put_device(&mvdev->core_device.vdev);
		return ret;
	}
	mlx5c_genl_add(mvdev);
	return 0;
}

static void mlx5c_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);
	struct mlx5c_vf *mvdev = container_of(vdev, struct mlx5c_vf,
					      core_device);

	mlx5c_genl_remove(mvdev);
	vfio_pci_core_unregister_device(vdev);
	/* The last close may have reset the function: apply it now. */
	flush_work(&mvdev->reset_work);
	mlx5c_debugfs_remove(mvdev);
	vfio_put_device(&vdev->vdev);
}

static const struct pci_device_id mlx5c_pci_table[] = {
	/* QEMU ivshmem-plain: RAM behind BAR2 stands in for the function. */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },
	{}
};
MODULE_DEVICE_TABLE(pci, mlx5c_pci_table);

static const struct pci_error_handlers mlx5c_err_handlers = {
	.reset_done = mlx5c_reset_done,
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

static int __init mlx5c_init(void)
{
	int ret;

	mlx5c_debugfs_init();
	ret = mlx5c_genl_init();
	if (ret)
		goto err_debugfs;
	ret = pci_register_driver(&mlx5c_pci_driver);
	if (ret)
		goto err_genl;
	return 0;

err_genl:
	mlx5c_genl_exit();
err_debugfs:
	mlx5c_debugfs_exit();
	return ret;
}

static void __exit mlx5c_exit(void)
{
	pci_unregister_driver(&mlx5c_pci_driver);
	mlx5c_genl_exit();
	mlx5c_debugfs_exit();
}

module_init(mlx5c_init);
module_exit(mlx5c_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The mlx5c authors");
MODULE_DESCRIPTION("VFIO PCI variant driver with live migration for mlx5-class functions");
MODULE_VERSION("0.2");
