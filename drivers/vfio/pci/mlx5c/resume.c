// SPDX-License-Identifier: GPL-2.0
/*
 * The resuming data file: the record stream written by userspace in
 * RESUMING goes through the parser (stream.c), which hands each FW_DATA
 * record (a part of an image in version 3, a whole image before) to the
 * firmware's load command, in order, once its checksum matched.  Writes may
 * split the stream anywhere.  The first error is sticky: every later write
 * fails.
 */
#include <linux/file.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

#include "mlx5c.h"

/*
 * The parser's load callback: one complete image, or one part of an image
 * (version 3), applied once checked; 1 when an image is complete.
 */
static int mlx5c_resume_load(void *ctx, u32 version, const void *image,
			     size_t len)
{
	struct mlx5c_resume_file *migf = ctx;
	const struct mlx5c_image_header *img = image;
	int ret;

	/*
	 * The function was reset during this write: load nothing more,
	 * also once the reset is being applied (it waits for this write).
	 */
	if (mlx5c_reset_since(migf->mvdev, migf->resets))
		return -ENODEV;
	ret = mlx5c_cmd_load(migf->mvdev, migf->resets, version, image, len);
	/* One write may carry many parts: let others run between them. */
	cond_resched();
	if (ret < 0)
		return ret;
	/* The image's records, headers included. */
	migf->image_bytes += len + (version == MLX5C_STREAM_V1 ?
				    MLX5C_HDR_SIZE : MLX5C_HDR_V2_SIZE);
	if (ret) {
		mlx5c_notify_image(migf->mvdev, false, le16_to_cpu(img->kind),
				   le64_to_cpu(img->seq), migf->image_bytes);
		migf->image_bytes = 0;
	}
	return ret;
}

static ssize_t mlx5c_resume_write(struct file *filp, const char __user *ubuf,
				  size_t len, loff_t *pos)
{
	struct mlx5c_resume_file *migf = filp->private_data;
	ssize_t ret;

	if (pos)
		return -ESPIPE;

	/* A reset that has returned ended the session: apply it first. */
	mlx5c_settle_reset(migf->mvdev);
	mutex_lock(&migf->lock);
	if (migf->disabled || migf->error) {
		ret = -ENODEV;
	} else {
		ret = mlx5c_parse(&migf->parser, ubuf, len);
		if (ret == -EPROTONOSUPPORT && migf->parser.version_refused)
			dev_err_ratelimited(&migf->mvdev->core_device.pdev->dev,
					    "migration stream announces version %u: this driver reads versions %u and %u (and version %u, which announces none)\n",
					    migf->parser.bad_version,
					    MLX5C_STREAM_V3, MLX5C_STREAM_V2,
					    MLX5C_STREAM_V1);
		if (ret < 0) {
			migf->error = ret;
			mlx5c_notify_error(migf->mvdev, MLX5C_GENL_ERR_LOAD,
					   ret);
		}
	}
	mutex_unlock(&migf->lock);
	if (ret > 0)
		mlx5c_stat_add(migf->mvdev, MLX5C_STAT_BYTES_LOADED, ret);
	return ret;
}

static int mlx5c_resume_release(struct inode *inode, struct file *filp)
{
	struct mlx5c_resume_file *migf = filp->private_data;
	struct mlx5c_vf *mvdev = migf->mvdev;

	mlx5c_resume_file_disable(migf);
	mutex_destroy(&migf->lock);
	mlx5c_free(migf);
	mlx5c_data_file_put(mvdev);
	return 0;
}

static const struct file_operations mlx5c_resume_fops = {
	.owner = THIS_MODULE,
	.write = mlx5c_resume_write,
	.release = mlx5c_resume_release,
};

struct mlx5c_resume_file *mlx5c_resume_file_create(struct mlx5c_vf *mvdev)
{
	struct mlx5c_resume_file *migf;
	struct file *filp;

	migf = mlx5c_zalloc(sizeof(*migf));
	if (!migf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&migf->lock);
	migf->mvdev = mvdev;
	migf->resets = READ_ONCE(mvdev->resets);
	migf->parser.state = MLX5C_PARSE_HEADER;
	/* Versions 1 and 2 send an image whole, in one record. */
	migf->parser.max_image = mlx5c_image_size(PAGE_SIZE,
						  mvdev->emu.mem_size, true, 0);
	migf->parser.load = mlx5c_resume_load;
	migf->parser.ctx = migf;

	filp = mlx5c_data_file(mvdev, &mlx5c_resume_fops, migf, O_WRONLY);
	if (IS_ERR(filp)) {
		mutex_destroy(&migf->lock);
		mlx5c_free(migf);
		return ERR_CAST(filp);
	}
	migf->filp = filp;
	return migf;
}

/*
 * RESUMING -> STOP: the stream must have ended on a record boundary,
 * outside an image, with at least one image loaded, and without error.
 * Once it has, the file takes no more bytes: a write racing with this arc
 * could otherwise apply the first part of another image after the check.
 */
int mlx5c_resume_file_finish(struct mlx5c_resume_file *migf)
{
	int ret = 0;

	mutex_lock(&migf->lock);
	if (migf->disabled || migf->error ||
	    !mlx5c_parse_complete(&migf->parser))
		ret = -EINVAL;
	else
		migf->disabled = true;
	mutex_unlock(&migf->lock);
	return ret;
}

void mlx5c_resume_file_disable(struct mlx5c_resume_file *migf)
{
	mutex_lock(&migf->lock);
	migf->disabled = true;
	mlx5c_parse_free(&migf->parser);
	mutex_unlock(&migf->lock);
}
