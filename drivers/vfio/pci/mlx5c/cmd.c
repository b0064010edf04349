// SPDX-License-Identifier: GPL-2.0
/*
 * The firmware command interface.  Every command the driver sends to the
 * firmware goes through here: this is where a hardware backend would post
 * commands to a mailbox, and where the debugfs knobs inject failures and
 * count commands.  The backend here is the emulation in emu.c.
 *
 * Saves are asynchronous: prepare takes the firmware's snapshot (which
 * pages the image holds) and tells the image size, submit starts the
 * command, and the completion arrives in a work item after the configured
 * latency, as it would from hardware.  An injected save failure is
 * reported by that completion.  The image's bytes are then read from the
 * firmware part by part, as the saving fd's reader asks for them.
 */
#include <linux/workqueue.h>

#include "mlx5c.h"

static const char * const mlx5c_cmd_names[MLX5C_CMD_NR] = {
	[MLX5C_CMD_QUERY_SIZE] = "query_size",
	[MLX5C_CMD_SUSPEND_INITIATOR] = "suspend_initiator",
	[MLX5C_CMD_SUSPEND_RESPONDER] = "suspend_responder",
	[MLX5C_CMD_RESUME_INITIATOR] = "resume_initiator",
	[MLX5C_CMD_RESUME_RESPONDER] = "resume_responder",
	[MLX5C_CMD_SAVE_INITIAL] = "save_initial",
	[MLX5C_CMD_SAVE_MIDDLE] = "save_middle",
	[MLX5C_CMD_SAVE_FINAL] = "save_final",
	[MLX5C_CMD_LOAD] = "load",
};

const char *mlx5c_cmd_name(enum mlx5c_cmd_id id)
{
	return mlx5c_cmd_names[id];
}

/* Count a command and decide whether it is to fail. */
static int mlx5c_cmd_begin(struct mlx5c_vf *mvdev, enum mlx5c_cmd_id id)
{
	struct mlx5c_cmd_knobs *k = &mvdev->cmd[id];
	int ret = 0;

	spin_lock(&mvdev->knob_lock);
	k->issued++;
	if (k->fail_count && k->fail_skip) {
		k->fail_skip--;
	} else if (k->fail_count) {
		k->fail_count--;
		ret = k->fail_errno && k->fail_errno < MAX_ERRNO ?
		      -(int)k->fail_errno : -EIO;
	}
	spin_unlock(&mvdev->knob_lock);
	return ret;
}

static int mlx5c_cmd_end(struct mlx5c_vf *mvdev, enum mlx5c_cmd_id id,
			 int ret)
{
	if (ret < 0) {
		spin_lock(&mvdev->knob_lock);
		mvdev->cmd[id].failed++;
		spin_unlock(&mvdev->knob_lock);
		mlx5c_stat_add(mvdev, MLX5C_STAT_FW_FAILURES, 1);
	}
	return ret;
}

/*
 * The size of the image a save would produce now: a full one, or an
 * incremental one of the pages dirty so far (0 when nothing is dirty).
 */
int mlx5c_cmd_query_size(struct mlx5c_vf *mvdev, bool full, size_t *size)
{
	int ret = mlx5c_cmd_begin(mvdev, MLX5C_CMD_QUERY_SIZE);
	u64 nr;

	if (!ret) {
		nr = full ? 0 : mlx5c_emu_dirty_pages(mvdev);
		*size = (full || nr) ? mlx5c_emu_image_size(mvdev, full, nr) : 0;
	}
	return mlx5c_cmd_end(mvdev, MLX5C_CMD_QUERY_SIZE, ret);
}

int mlx5c_cmd_suspend(struct mlx5c_vf *mvdev, bool initiator)
{
	enum mlx5c_cmd_id id = initiator ? MLX5C_CMD_SUSPEND_INITIATOR :
					   MLX5C_CMD_SUSPEND_RESPONDER;
	int ret = mlx5c_cmd_begin(mvdev, id);

	if (!ret)
		ret = mlx5c_emu_suspend(mvdev, initiator);
	return mlx5c_cmd_end(mvdev, id, ret);
}

int mlx5c_cmd_resume(struct mlx5c_vf *mvdev, bool initiator)
{
	enum mlx5c_cmd_id id = initiator ? MLX5C_CMD_RESUME_INITIATOR :
					   MLX5C_CMD_RESUME_RESPONDER;
	int ret = mlx5c_cmd_begin(mvdev, id);

	if (!ret)
		ret = mlx5c_emu_resume(mvdev, initiator);
	return mlx5c_cmd_end(mvdev, id, ret);
}

int mlx5c_cmd_track(struct mlx5c_vf *mvdev, bool on)
{
	return mlx5c_emu_track(mvdev, on);
}

static enum mlx5c_cmd_id mlx5c_save_cmd(u16 kind)
{
	switch (kind) {
	case MLX5C_IMAGE_INITIAL:
		return MLX5C_CMD_SAVE_INITIAL;
	case MLX5C_IMAGE_MIDDLE:
		return MLX5C_CMD_SAVE_MIDDLE;
	default:
		return MLX5C_CMD_SAVE_FINAL;
	}
}

/*
 * Submit a save: count the command and take its pages.  An injected failure
 * is reported on completion, or here with the knob fail_submit.
 */
int mlx5c_cmd_save_prepare(struct mlx5c_vf *mvdev, struct mlx5c_save_req *req)
{
	enum mlx5c_cmd_id id = mlx5c_save_cmd(req->img->kind);

	req->inject = mlx5c_cmd_begin(mvdev, id);
	req->status = 0;
	if (req->inject && READ_ONCE(mvdev->cmd[id].fail_submit))
		return mlx5c_cmd_end(mvdev, id, req->inject);
	return mlx5c_emu_save_prepare(mvdev, req->img);
}

void mlx5c_cmd_save_submit(struct mlx5c_save_req *req)
{
	unsigned int ms = READ_ONCE(req->mvdev->emu.latency_ms);

	queue_delayed_work(system_unbound_wq, &req->work,
			   msecs_to_jiffies(ms));
}

void mlx5c_cmd_save_work(struct work_struct *work)
{
	struct mlx5c_save_req *req = container_of(to_delayed_work(work),
						  struct mlx5c_save_req, work);

	req->status = req->inject;
	mlx5c_cmd_end(req->mvdev, mlx5c_save_cmd(req->img->kind), req->status);
	mlx5c_save_done(req);
}

/*
 * Read the next part of a saved image from the firmware into @part (an
 * image part, struct mlx5c_image_header first); returns its size.  Not a
 * command of its own but the data of the save command, as a device would
 * DMA it: a failure here (a reset cut it) counts as a failure of that
 * save.
 */
ssize_t mlx5c_cmd_save_read(struct mlx5c_vf *mvdev, u32 resets,
			    struct mlx5c_image_out *img, void *part)
{
	ssize_t n = mlx5c_emu_save_part(mvdev, resets, img, part);

	if (n < 0)
		mlx5c_cmd_end(mvdev, mlx5c_save_cmd(img->kind), n);
	return n;
}

/* Load an image, or a part of one: 1 when an image is complete. */
int mlx5c_cmd_load(struct mlx5c_vf *mvdev, u32 resets, u32 version,
		   const void *image, size_t len)
{
	int ret = mlx5c_cmd_begin(mvdev, MLX5C_CMD_LOAD);

	if (!ret)
		ret = mlx5c_emu_load(mvdev, resets, version, image, len);
	return mlx5c_cmd_end(mvdev, MLX5C_CMD_LOAD, ret);
}
