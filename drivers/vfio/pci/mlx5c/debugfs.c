// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs knobs, one directory per bound function:
 *
 *   /sys/kernel/debug/mlx5c/BDF/latency_ms    save completion latency
 *   /sys/kernel/debug/mlx5c/BDF/dirty_pages   pages dirty since last image
 *   /sys/kernel/debug/mlx5c/BDF/dma_log_starts   DMA logging starts and
 *   /sys/kernel/debug/mlx5c/BDF/dma_log_reports  reports served (read-only)
 *   /sys/kernel/debug/mlx5c/BDF/CMD/fail_skip   let N commands succeed, then
 *   /sys/kernel/debug/mlx5c/BDF/CMD/fail_count  fail the next N commands
 *   /sys/kernel/debug/mlx5c/BDF/CMD/fail_errno  ... with this errno (EIO)
 *   /sys/kernel/debug/mlx5c/BDF/CMD/issued    commands issued (read-only)
 *   /sys/kernel/debug/mlx5c/BDF/CMD/failed    commands failed (read-only)
 *
 * CMD is one of the command names of cmd.c.
 */
#include <linux/debugfs.h>
#include <linux/pci.h>

#include "mlx5c.h"

static struct dentry *mlx5c_debugfs_root;

void mlx5c_debugfs_init(void)
{
	mlx5c_debugfs_root = debugfs_create_dir("mlx5c", NULL);
}

void mlx5c_debugfs_exit(void)
{
	debugfs_remove_recursive(mlx5c_debugfs_root);
}

static int mlx5c_dirty_pages_get(void *data, u64 *val)
{
	*val = mlx5c_emu_dirty_pages(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(mlx5c_dirty_pages_fops, mlx5c_dirty_pages_get, NULL,
			 "%llu\n");

void mlx5c_debugfs_add(struct mlx5c_vf *mvdev)
{
	struct dentry *dir, *cmd;
	int i;

	dir = debugfs_create_dir(pci_name(mvdev->core_device.pdev),
				 mlx5c_debugfs_root);
	mvdev->debugfs = dir;
	debugfs_create_u32("latency_ms", 0600, dir, &mvdev->emu.latency_ms);
	debugfs_create_file_unsafe("dirty_pages", 0400, dir, mvdev,
				   &mlx5c_dirty_pages_fops);
	debugfs_create_u64("dma_log_starts", 0400, dir, &mvdev->dma_log_starts);
	debugfs_create_u64("dma_log_reports", 0400, dir,
			   &mvdev->dma_log_reports);
	for (i = 0; i < MLX5C_CMD_NR; i++) {
		cmd = debugfs_create_dir(mlx5c_cmd_name(i), dir);
		debugfs_create_u32("fail_skip", 0600, cmd,
				   &mvdev->cmd[i].fail_skip);
		debugfs_create_u32("fail_count", 0600, cmd,
				   &mvdev->cmd[i].fail_count);
		debugfs_create_u32("fail_errno", 0600, cmd,
				   &mvdev->cmd[i].fail_errno);
		debugfs_create_bool("fail_submit", 0600, cmd,
				    &mvdev->cmd[i].fail_submit);
		debugfs_create_u64("issued", 0400, cmd, &mvdev->cmd[i].issued);
		debugfs_create_u64("failed", 0400, cmd, &mvdev->cmd[i].failed);
	}
}

void mlx5c_debugfs_remove(struct mlx5c_vf *mvdev)
{
	debugfs_remove_recursive(mvdev->debugfs);
	mvdev->debugfs = NULL;
}
