// SPDX-License-Identifier: GPL-2.0
/*
 * The migration state machine.  The VFIO core walks a requested state one
 * arc at a time (vfio_mig_get_next_state); each arc here sends the firmware
 * commands it needs.  mig_state always holds the last state reached: a
 * failed arc leaves the device where it was, except a failed resume, after
 * which the function cannot be returned to running and is in ERROR until
 * VFIO_DEVICE_RESET.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>

#include "mlx5c.h"

#define S(x) VFIO_DEVICE_STATE_##x

void mlx5c_disable_files(struct mlx5c_vf *mvdev)
{
	if (mvdev->saving_migf) {
		mlx5c_save_file_disable(mvdev->saving_migf);
		fput(mvdev->saving_migf->filp);
		mvdev->saving_migf = NULL;
		mlx5c_cmd_track(mvdev, false);
	}
	if (mvdev->resuming_migf) {
		mlx5c_resume_file_disable(mvdev->resuming_migf);
		fput(mvdev->resuming_migf->filp);
		mvdev->resuming_migf = NULL;
	}
}

/*
 * A data fd: a stream (no pread/pwrite) that may outlive the device's
 * binding, so it holds a reference on the device until its release.
 */
struct file *mlx5c_data_file(struct mlx5c_vf *mvdev,
			     const struct file_operations *fops, void *priv,
			     int flags)
{
	struct file *filp;

	filp = anon_inode_getfile("mlx5c_mig", fops, priv, flags);
	if (IS_ERR(filp))
		return filp;
	stream_open(filp->f_inode, filp);
	get_device(&mvdev->core_device.vdev.device);
	return filp;
}

/* Drop the reference a data fd held; from its release. */
void mlx5c_data_file_put(struct mlx5c_vf *mvdev)
{
	put_device(&mvdev->core_device.vdev.device);
}

/* A failed resume leaves a function that cannot run: ERROR. */
static int mlx5c_resume_or_error(struct mlx5c_vf *mvdev, bool initiator)
{
	int ret = mlx5c_cmd_resume(mvdev, initiator);

	if (ret)
		mvdev->mig_state = S(ERROR);
	return ret;
}

static struct file *mlx5c_start_saving(struct mlx5c_vf *mvdev, bool precopy)
{
	struct mlx5c_save_file *migf;

	migf = mlx5c_save_file_create(mvdev, precopy);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	get_file(migf->filp);
	mvdev->saving_migf = migf;
	return migf->filp;
}

static struct file *mlx5c_start_resuming(struct mlx5c_vf *mvdev)
{
	struct mlx5c_resume_file *migf;

	migf = mlx5c_resume_file_create(mvdev);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	/* Nothing loaded in an earlier session counts in this one. */
	mlx5c_emu_load_begin(mvdev);
	get_file(migf->filp);
	mvdev->resuming_migf = migf;
	return migf->filp;
}

/* PRE_COPY_P2P -> STOP_COPY: stop the function, then the final image. */
static int mlx5c_stop_copy_from_precopy(struct mlx5c_vf *mvdev)
{
	int ret;

	ret = mlx5c_cmd_suspend(mvdev, false);
	if (ret)
		return ret;
	ret = mlx5c_save_final(mvdev->saving_migf);
	if (ret)
		mlx5c_resume_or_error(mvdev, false);
	return ret;
}

static struct file *mlx5c_step(struct mlx5c_vf *mvdev, u32 new)
{
	u32 cur = mvdev->mig_state;
	int ret;

	if ((cur == S(RUNNING) && new == S(RUNNING_P2P)) ||
	    (cur == S(PRE_COPY) && new == S(PRE_COPY_P2P)))
		return ERR_PTR(mlx5c_cmd_suspend(mvdev, true));
	if ((cur == S(RUNNING_P2P) && new == S(RUNNING)) ||
	    (cur == S(PRE_COPY_P2P) && new == S(PRE_COPY)))
		return ERR_PTR(mlx5c_resume_or_error(mvdev, true));
	if (cur == S(RUNNING_P2P) && new == S(STOP))
		return ERR_PTR(mlx5c_cmd_suspend(mvdev, false));
	if (cur == S(STOP) && new == S(RUNNING_P2P))
		return ERR_PTR(mlx5c_resume_or_error(mvdev, false));

	if ((cur == S(RUNNING) && new == S(PRE_COPY)) ||
	    (cur == S(RUNNING_P2P) && new == S(PRE_COPY_P2P)))
		return mlx5c_start_saving(mvdev, true);
	if (cur == S(STOP) && new == S(STOP_COPY))
		return mlx5c_start_saving(mvdev, false);
	if (cur == S(PRE_COPY_P2P) && new == S(STOP_COPY))
		return ERR_PTR(mlx5c_stop_copy_from_precopy(mvdev));
	if ((cur == S(PRE_COPY) && new == S(RUNNING)) ||
	    (cur == S(PRE_COPY_P2P) && new == S(RUNNING_P2P)) ||
	    (cur == S(STOP_COPY) && new == S(STOP))) {
		mlx5c_disable_files(mvdev);
		return NULL;
	}

	if (cur == S(STOP) && new == S(RESUMING))
		return mlx5c_start_resuming(mvdev);
	if (cur == S(RESUMING) && new == S(STOP)) {
		ret = mlx5c_resume_file_finish(mvdev->resuming_migf);
		if (ret)
			return ERR_PTR(ret);
		mlx5c_disable_files(mvdev);
		return NULL;
	}

	/* The core only asks for the arcs above. */
	WARN_ON_ONCE(1);
	return ERR_PTR(-EINVAL);
}

static struct file *mlx5c_set_state(struct vfio_device *vdev,
				    enum vfio_device_mig_state new_state)
{
	struct mlx5c_vf *mvdev = to_mlx5c(vdev);
	enum vfio_device_mig_state next, cur;
	struct file *res = NULL;
	int ret;

	mlx5c_state_mutex_lock(mvdev);
	/* Nothing leaves ERROR but a reset (the core has no arc from it). */
	if (mvdev->mig_state == S(ERROR))
		res = ERR_PTR(-EINVAL);
	while (!IS_ERR(res) && new_state != mvdev->mig_state) {
		ret = vfio_mig_get_next_state(vdev, mvdev->mig_state,
					      new_state, &next);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		cur = mvdev->mig_state;
		res = mlx5c_step(mvdev, next);
		if (IS_ERR(res)) {
			if (mvdev->mig_state != cur)
				mlx5c_notify_state(mvdev, cur, mvdev->mig_state,
						   MLX5C_GENL_CAUSE_FAILURE,
						   GFP_KERNEL);
			break;
		}
		mvdev->mig_state = next;
		mlx5c_notify_state(mvdev, cur, next, MLX5C_GENL_CAUSE_ARC,
				   GFP_KERNEL);
		if (WARN_ON(res && new_state != next)) {
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
	if (IS_ERR(res))
		mlx5c_notify_state_error(mvdev, PTR_ERR(res), mvdev->mig_state,
					 new_state);
	mlx5c_state_mutex_unlock(mvdev);
	return res;
}

static int mlx5c_get_state(struct vfio_device *vdev,
			   enum vfio_device_mig_state *state)
{
	struct mlx5c_vf *mvdev = to_mlx5c(vdev);

	mlx5c_state_mutex_lock(mvdev);
	*state = mvdev->mig_state;
	mlx5c_state_mutex_unlock(mvdev);
	return 0;
}

/*
 * What STOP_COPY would still move, exactly: in PRE_COPY the unread records
 * and the final image of the pages dirty now; otherwise the size record
 * and a full image.
 */
static int mlx5c_get_data_size(struct vfio_device *vdev,
			       unsigned long *stop_copy_length)
{
	struct mlx5c_vf *mvdev = to_mlx5c(vdev);
	struct mlx5c_save_file *migf;
	bool full = true;
	u64 pending = 0;
	size_t size;
	int ret;

	mlx5c_state_mutex_lock(mvdev);
	migf = mvdev->saving_migf;
	if (migf && (mvdev->mig_state == S(PRE_COPY) ||
		     mvdev->mig_state == S(PRE_COPY_P2P))) {
		mutex_lock(&migf->lock);
		pending = mlx5c_save_pending(migf);
		full = migf->fallback;
		mutex_unlock(&migf->lock);
	} else {
		pending = MLX5C_STREAM_START_SIZE;
	}
	ret = mlx5c_cmd_query_size(mvdev, full, &size);
	/*
	 * The final image is incremental, with a header even when no page
	 * was written (the query says 0 then), or full when that is smaller,
	 * as the save decides.
	 */
	if (!ret && !full)
		size = min(max(size, mlx5c_emu_image_size(mvdev, false, 0)),
			   mlx5c_emu_max_image(mvdev));
	if (!ret)
		*stop_copy_length = pending + size;
	mlx5c_state_mutex_unlock(mvdev);
	return ret;
}

const struct vfio_migration_ops mlx5c_mig_ops = {
	.migration_set_state = mlx5c_set_state,
	.migration_get_state = mlx5c_get_state,
	.migration_get_data_size = mlx5c_get_data_size,
};

/* VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2: SET only, no payload. */
int mlx5c_feature_precopy_v2(struct mlx5c_vf *mvdev, u32 flags, size_t argsz)
{
	int ret;

	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
	if (ret != 1)
		return ret;
	mlx5c_state_mutex_lock(mvdev);
	mvdev->precopy_v2 = true;
	mlx5c_state_mutex_unlock(mvdev);
	return 0;
}
