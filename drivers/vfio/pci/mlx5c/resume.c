// SPDX-License-Identifier: GPL-2.0
/*
 * The resuming data file: a parser for the record stream written by
 * userspace in RESUMING.
 *
 * Writes may split the stream anywhere, one byte at a time included.  The
 * parser collects each 16-byte header, then the record's payload: FW_DATA
 * images are collected whole and loaded in order as each one completes;
 * STOP_COPY_SIZE preallocates the image buffer; unknown OPTIONAL records
 * are skipped and unknown MANDATORY ones refused.  Sizes are checked
 * against the largest image this function can take before anything is
 * allocated.  The first error is sticky: every later write fails.
 */
#include <linux/file.h>
#include <linux/uaccess.h>

#include "mlx5c.h"

static int mlx5c_resume_reserve(struct mlx5c_resume_file *migf, size_t size)
{
	if (migf->buf_size >= size)
		return 0;
	mlx5c_free(migf->buf);
	migf->buf_size = 0;
	migf->buf = mlx5c_alloc(size);
	if (!migf->buf)
		return -ENOMEM;
	migf->buf_size = size;
	return 0;
}

/* A whole header arrived: check it and set up for the payload. */
static int mlx5c_resume_header(struct mlx5c_resume_file *migf)
{
	const struct mlx5c_mig_header *hdr = (const void *)migf->hdr;
	size_t max = mlx5c_emu_max_image(migf->mvdev);
	u32 flags = le32_to_cpu(hdr->flags);
	u64 size = le64_to_cpu(hdr->record_size);

	migf->hdr_len = 0;
	migf->rec_size = size;
	migf->rec_tag = le32_to_cpu(hdr->tag);
	migf->rec_pos = 0;
	if (flags & ~MLX5C_MIG_F_OPTIONAL)
		return -EINVAL;

	switch (migf->rec_tag) {
	case MLX5C_MIG_TAG_FW_DATA:
		if (size < sizeof(struct mlx5c_image_header) || size > max)
			return -EINVAL;
		migf->state = MLX5C_PARSE_PAYLOAD;
		return mlx5c_resume_reserve(migf, size);
	case MLX5C_MIG_TAG_STOP_COPY_SIZE:
		if (size != sizeof(struct mlx5c_mig_stop_copy_size))
			return -EINVAL;
		migf->state = MLX5C_PARSE_PAYLOAD;
		return 0;
	default:
		if (!(flags & MLX5C_MIG_F_OPTIONAL))
			return -EOPNOTSUPP;
		if (size > max)
			return -EINVAL;
		migf->state = size ? MLX5C_PARSE_SKIP : MLX5C_PARSE_HEADER;
		return 0;
	}
}

/* A whole payload arrived: act on it. */
static int mlx5c_resume_record(struct mlx5c_resume_file *migf)
{
	const struct mlx5c_mig_stop_copy_size *scs = (const void *)migf->small;
	const struct mlx5c_image_header *img = migf->buf;
	u64 size;
	int ret;

	migf->state = MLX5C_PARSE_HEADER;
	if (migf->rec_tag == MLX5C_MIG_TAG_FW_DATA) {
		ret = mlx5c_cmd_load(migf->mvdev, migf->buf, migf->rec_size);
		if (ret)
			return ret;
		migf->images++;
		mlx5c_notify_image(migf->mvdev, false, le16_to_cpu(img->kind),
				   le64_to_cpu(img->seq), migf->rec_size);
		return 0;
	}
	size = le64_to_cpu(scs->size);
	if (!size || size > mlx5c_emu_max_image(migf->mvdev))
		return -EINVAL;
	return mlx5c_resume_reserve(migf, size);
}

static void *mlx5c_resume_dest(struct mlx5c_resume_file *migf)
{
	if (migf->state == MLX5C_PARSE_SKIP)
		return NULL;
	if (migf->rec_tag == MLX5C_MIG_TAG_FW_DATA)
		return migf->buf;
	return migf->small;
}

static ssize_t mlx5c_resume_parse(struct mlx5c_resume_file *migf,
				  const char __user *ubuf, size_t len)
{
	size_t done = 0, n;
	void *dest;
	int ret;

	while (done < len) {
		if (migf->state == MLX5C_PARSE_HEADER) {
			n = min(len - done, MLX5C_HDR_SIZE - migf->hdr_len);
			if (copy_from_user(migf->hdr + migf->hdr_len,
					   ubuf + done, n))
				return -EFAULT;
			migf->hdr_len += n;
			done += n;
			if (migf->hdr_len < MLX5C_HDR_SIZE)
				continue;
			ret = mlx5c_resume_header(migf);
			if (ret)
				return ret;
			continue;
		}

		n = min_t(u64, len - done, migf->rec_size - migf->rec_pos);
		dest = mlx5c_resume_dest(migf);
		if (dest && copy_from_user((u8 *)dest + migf->rec_pos,
					   ubuf + done, n))
			return -EFAULT;
		migf->rec_pos += n;
		done += n;
		if (migf->rec_pos < migf->rec_size)
			continue;
		if (migf->state == MLX5C_PARSE_SKIP) {
			migf->state = MLX5C_PARSE_HEADER;
			continue;
		}
		ret = mlx5c_resume_record(migf);
		if (ret)
			return ret;
	}
	return done;
}

static ssize_t mlx5c_resume_write(struct file *filp, const char __user *ubuf,
				  size_t len, loff_t *pos)
{
	struct mlx5c_resume_file *migf = filp->private_data;
	ssize_t ret;

	if (pos)
		return -ESPIPE;

	mutex_lock(&migf->lock);
	if (migf->disabled || migf->error) {
		ret = -ENODEV;
	} else {
		ret = mlx5c_resume_parse(migf, ubuf, len);
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
	migf->state = MLX5C_PARSE_HEADER;

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
 * RESUMING -> STOP: the stream must have ended on a record boundary with
 * at least one image loaded, and without error.
 */
int mlx5c_resume_file_finish(struct mlx5c_resume_file *migf)
{
	int ret = 0;

	mutex_lock(&migf->lock);
	if (migf->disabled || migf->error ||
	    migf->state != MLX5C_PARSE_HEADER || migf->hdr_len ||
	    !migf->images)
		ret = -EINVAL;
	mutex_unlock(&migf->lock);
	return ret;
}

void mlx5c_resume_file_disable(struct mlx5c_resume_file *migf)
{
	mutex_lock(&migf->lock);
	migf->disabled = true;
	mlx5c_free(migf->buf);
	migf->buf = NULL;
	migf->buf_size = 0;
	mutex_unlock(&migf->lock);
}
