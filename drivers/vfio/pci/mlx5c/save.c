// SPDX-License-Identifier: GPL-2.0
/*
 * The saving data file: the record stream read by userspace from
 * PRE_COPY, PRE_COPY_P2P and STOP_COPY.
 *
 * The stream (version 3) starts with the VERSION record, the
 * STOP_COPY_SIZE record and the first image (the initial one with
 * PRE_COPY, the final full one without).  An image is read as it is cut:
 * each of its parts goes from device memory into one reused record buffer,
 * is sealed, and is copied to the reader, so a session holds one part
 * (MLX5C_PART_DATA bytes of pages and its headers) whatever the size of
 * the device memory.
 * During PRE_COPY, VFIO_MIG_GET_PRECOPY_INFO starts an incremental image
 * when the reader has drained everything and the firmware has dirty pages;
 * STOP_COPY queues the final image and the stream ends after it.
 *
 * Records are queued in the order their saves complete, and only one save
 * is in flight at a time, so the stream order is the save order.
 */
#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/uaccess.h>

#include "mlx5c.h"

static void mlx5c_image_out_free(struct mlx5c_image_out *img)
{
	if (!img)
		return;
	bitmap_free(img->pages);
	mlx5c_free(img);
}

/* A version 2 record header; mlx5c_record_seal() adds the checksum. */
static void mlx5c_put_header(void *p, u64 size, u32 flags, u32 tag)
{
	struct mlx5c_mig_header_v2 *hdr = p;

	hdr->record_size = cpu_to_le64(size);
	hdr->flags = cpu_to_le32(flags);
	hdr->tag = cpu_to_le32(tag);
	hdr->checksum = 0;
}

/* Unread bytes queued or being saved; caller holds migf->lock. */
u64 mlx5c_save_pending(struct mlx5c_save_file *migf)
{
	struct mlx5c_image_out *img;
	u64 n = sizeof(migf->start) - migf->start_pos;

	list_for_each_entry(img, &migf->images, node)
		n += img->len - img->pos;
	if (migf->in_flight)
		n += migf->req.img->len;
	return n;
}

/*
 * Start one firmware save.  Caller holds migf->lock and no save is in
 * flight.  @initial makes the image count as initial data (REINIT).
 */
static int mlx5c_save_start(struct mlx5c_save_file *migf, u16 kind,
			    bool full, bool initial)
{
	struct mlx5c_save_req *req = &migf->req;
	struct mlx5c_image_out *img;
	int ret;

	img = mlx5c_zalloc(sizeof(*img));
	if (!img)
		return -ENOMEM;
	img->kind = kind;
	img->full = full;
	img->seq = migf->seq;
	req->img = img;
	ret = mlx5c_cmd_save_prepare(migf->mvdev, req);
	if (ret) {
		req->img = NULL;
		mlx5c_image_out_free(img);
		return ret;
	}
	img->len = mlx5c_emu_image_size(migf->mvdev, img->full, img->nr_pages);
	img->initial = initial;
	if (initial)
		migf->initial_remaining += img->len;
	migf->in_flight = true;
	migf->seq++;
	get_file(migf->filp);
	mlx5c_cmd_save_submit(req);
	return 0;
}

/* The completion of a save, from the command layer's work item. */
void mlx5c_save_done(struct mlx5c_save_req *req)
{
	struct mlx5c_save_file *migf = req->migf;
	struct mlx5c_vf *mvdev = migf->mvdev;
	struct mlx5c_image_out *img = req->img;

	mutex_lock(&migf->lock);
	if (!migf->disabled && !req->status) {
		/* Announced before a reader can see it, so before it moves. */
		mlx5c_notify_image(mvdev, true, img->kind, img->seq, img->len);
		list_add_tail(&img->node, &migf->images);
	} else {
		if (img->initial)
			migf->initial_remaining -= img->len;
		/*
		 * A failed incremental save loses the pages it took: fall
		 * back to a full final image, which the target loads on top
		 * of what it has.  Any other failure ends the stream.
		 */
		if (req->status && img->kind == MLX5C_IMAGE_MIDDLE) {
			if (!migf->fallback)
				mlx5c_stat_add(mvdev, MLX5C_STAT_FALLBACKS, 1);
			migf->fallback = true;
		} else if (req->status) {
			migf->error = req->status;
		}
		if (req->status && !migf->disabled)
			mlx5c_notify_error(mvdev, MLX5C_GENL_ERR_SAVE,
					   req->status);
		mlx5c_image_out_free(img);
	}
	req->img = NULL;
	migf->in_flight = false;
	wake_up_interruptible(&migf->poll_wait);
	mutex_unlock(&migf->lock);
	fput(migf->filp);
}

static bool mlx5c_save_wait_done(struct mlx5c_save_file *migf)
{
	return !READ_ONCE(migf->in_flight) || READ_ONCE(migf->disabled);
}

/* Copy what is left of the opening records; caller holds migf->lock. */
static ssize_t mlx5c_save_copy_start(struct mlx5c_save_file *migf,
				     char __user *ubuf, size_t len)
{
	size_t n = min(len, sizeof(migf->start) - migf->start_pos);

	if (copy_to_user(ubuf, migf->start + migf->start_pos, n))
		return -EFAULT;
	migf->start_pos += n;
	if (migf->start_initial)
		migf->initial_remaining -= n;
	return n;
}

/*
 * Cut the next part of the head image into the record buffer and seal it.
 * A failure breaks the stream in the middle of an image: it is sticky.
 */
static int mlx5c_save_cut(struct mlx5c_save_file *migf,
			  struct mlx5c_image_out *img)
{
	struct mlx5c_mig_header_v2 *rec = migf->part;
	void *payload = (u8 *)migf->part + MLX5C_HDR_V2_SIZE;
	ssize_t n;

	n = mlx5c_cmd_save_read(migf->mvdev, migf->resets, img, payload);
	if (n < 0) {
		migf->error = n;
		mlx5c_notify_error(migf->mvdev, MLX5C_GENL_ERR_SAVE, n);
		return n;
	}
	mlx5c_put_header(rec, n, MLX5C_MIG_F_MANDATORY, MLX5C_MIG_TAG_FW_DATA);
	mlx5c_record_seal(rec, payload);
	migf->part_len = MLX5C_HDR_V2_SIZE + n;
	migf->part_pos = 0;
	return 0;
}

/*
 * Copy from the head image, cutting its next part when the last one was
 * read; caller holds migf->lock.
 */
static ssize_t mlx5c_save_copy(struct mlx5c_save_file *migf,
			       struct mlx5c_image_out *img, char __user *ubuf,
			       size_t len)
{
	size_t n;
	int ret;

	if (migf->part_pos == migf->part_len) {
		ret = mlx5c_save_cut(migf, img);
		if (ret)
			return ret;
	}
	n = min(len, migf->part_len - migf->part_pos);
	if (copy_to_user(ubuf, (u8 *)migf->part + migf->part_pos, n))
		return -EFAULT;
	migf->part_pos += n;
	img->pos += n;
	if (img->initial)
		migf->initial_remaining -= n;
	if (img->pos == img->len) {
		/* The parts add up to the size announced for the image. */
		if (WARN_ON_ONCE(img->done != img->nr_pages ||
				 migf->part_pos != migf->part_len))
			migf->error = -EIO;
		list_del(&img->node);
		mlx5c_image_out_free(img);
	} else if (WARN_ON_ONCE(img->pos > img->len ||
				(migf->part_pos == migf->part_len &&
				 img->done == img->nr_pages))) {
		migf->error = -EIO;
		return -EIO;
	}
	return n;
}

static ssize_t mlx5c_save_read(struct file *filp, char __user *ubuf,
			       size_t len, loff_t *pos)
{
	struct mlx5c_save_file *migf = filp->private_data;
	struct mlx5c_image_out *img;
	ssize_t done = 0, ret = 0, n;

	if (pos)
		return -ESPIPE;

	/* A reset that has returned ended the session: apply it first. */
	mlx5c_settle_reset(migf->mvdev);
	mutex_lock(&migf->lock);
	while (len) {
		/* A reset during the read: stop moving bytes. */
		if (mlx5c_reset_since(migf->mvdev, migf->resets)) {
			if (!done)
				ret = -ENODEV;
			break;
		}
		if (migf->disabled) {
			ret = -ENODEV;
			break;
		}
		if (migf->error) {
			ret = migf->error;
			break;
		}
		img = list_first_entry_or_null(&migf->images,
					       struct mlx5c_image_out, node);
		if (migf->start_pos < sizeof(migf->start))
			n = mlx5c_save_copy_start(migf, ubuf + done, len);
		else if (img)
			n = mlx5c_save_copy(migf, img, ubuf + done, len);
		else
			n = 0;
		if (n < 0) {
			ret = n;
			break;
		}
		if (n) {
			done += n;
			len -= n;
			/* Whole device memory in one read: let others run. */
			cond_resched();
			continue;
		}
		if (done)
			break;
		if (migf->in_flight) {
			if (filp->f_flags & O_NONBLOCK) {
				ret = -EAGAIN;
				break;
			}
			mutex_unlock(&migf->lock);
			ret = wait_event_interruptible(migf->poll_wait,
						       mlx5c_save_wait_done(migf));
			mutex_lock(&migf->lock);
			if (ret)
				break;
			continue;
		}
		/* Drained: the end for now in PRE_COPY, for good after it. */
		if (!migf->final)
			ret = -ENOMSG;
		break;
	}
	mutex_unlock(&migf->lock);
	if (done)
		mlx5c_stat_add(migf->mvdev, MLX5C_STAT_BYTES_SAVED, done);
	return done ? done : ret;
}

static __poll_t mlx5c_save_poll(struct file *filp,
				struct poll_table_struct *wait)
{
	struct mlx5c_save_file *migf = filp->private_data;
	__poll_t mask = 0;

	poll_wait(filp, &migf->poll_wait, wait);
	mutex_lock(&migf->lock);
	if (migf->disabled || migf->error)
		mask = EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	else if (mlx5c_save_pending(migf) > (migf->in_flight ?
					    migf->req.img->len : 0) ||
		 (!migf->in_flight && migf->final))
		mask = EPOLLIN | EPOLLRDNORM;
	mutex_unlock(&migf->lock);
	return mask;
}

/*
 * Fill @info; caller holds the state mutex (the device is in PRE_COPY or
 * PRE_COPY_P2P) and migf->lock.  Starts an incremental image when the
 * reader has drained everything and the firmware has dirty pages.
 */
static int mlx5c_precopy_fill(struct mlx5c_save_file *migf,
			      struct vfio_precopy_info *info)
{
	struct mlx5c_vf *mvdev = migf->mvdev;
	bool reinit;
	size_t size;
	u64 pending;
	int ret;

	info->flags = 0;
	info->initial_bytes = 0;
	info->dirty_bytes = 0;
	if (migf->initial_remaining) {
		info->initial_bytes = migf->initial_remaining;
		return 0;
	}
	pending = mlx5c_save_pending(migf);
	if (pending || migf->fallback) {
		info->dirty_bytes = pending;
		return 0;
	}

	ret = mlx5c_cmd_query_size(mvdev, false, &size);
	if (ret) {
		mlx5c_notify_error(mvdev, MLX5C_GENL_ERR_PRECOPY, ret);
		return ret;
	}
	if (!size)
		return 0;
	/* New critical data: with the opt-in it is initial data again. */
	reinit = mvdev->precopy_v2 && mlx5c_emu_ctx_dirty(mvdev);
	ret = mlx5c_save_start(migf, MLX5C_IMAGE_MIDDLE, false, reinit);
	if (ret) {
		/* Nothing was queued: fall back to a full final image. */
		migf->fallback = true;
		mlx5c_stat_add(mvdev, MLX5C_STAT_FALLBACKS, 1);
		return 0;
	}
	if (reinit) {
		mlx5c_stat_add(mvdev, MLX5C_STAT_REINITS, 1);
		info->flags = VFIO_PRECOPY_INFO_REINIT;
		info->initial_bytes = migf->initial_remaining;
	} else {
		info->dirty_bytes = migf->req.img->len;
	}
	return 0;
}

static long mlx5c_precopy_ioctl(struct file *filp, unsigned int cmd,
				unsigned long arg)
{
	struct mlx5c_save_file *migf = filp->private_data;
	struct mlx5c_vf *mvdev = migf->mvdev;
	struct vfio_precopy_info info;
	unsigned long minsz;
	int ret;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	mlx5c_stat_add(mvdev, MLX5C_STAT_PRECOPY_INFO, 1);
	mlx5c_state_mutex_lock(mvdev);
	mutex_lock(&migf->lock);
	/* An ended session's fd says so, whatever the device does now. */
	if (migf->disabled || migf != mvdev->saving_migf)
		ret = -ENODEV;
	else if (mvdev->mig_state != VFIO_DEVICE_STATE_PRE_COPY &&
		 mvdev->mig_state != VFIO_DEVICE_STATE_PRE_COPY_P2P)
		ret = -EINVAL;
	else if (migf->error)
		ret = migf->error;
	else
		ret = mlx5c_precopy_fill(migf, &info);
	mutex_unlock(&migf->lock);
	mlx5c_state_mutex_unlock(mvdev);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static int mlx5c_save_release(struct inode *inode, struct file *filp)
{
	struct mlx5c_save_file *migf = filp->private_data;
	struct mlx5c_vf *mvdev = migf->mvdev;

	mlx5c_save_file_disable(migf);
	mlx5c_free(migf->part);
	mutex_destroy(&migf->lock);
	mlx5c_free(migf);
	mlx5c_data_file_put(mvdev);
	return 0;
}

static const struct file_operations mlx5c_save_fops = {
	.owner = THIS_MODULE,
	.read = mlx5c_save_read,
	.poll = mlx5c_save_poll,
	.unlocked_ioctl = mlx5c_precopy_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = mlx5c_save_release,
};

/*
 * The records that open the stream: VERSION (in a version 1 header, which
 * every reader parses) and STOP_COPY_SIZE.
 */
static void mlx5c_save_put_start(struct mlx5c_save_file *migf, size_t size,
				 bool initial)
{
	struct mlx5c_mig_stop_copy_size *payload;
	struct mlx5c_mig_header *vhdr;
	struct mlx5c_mig_version *ver;
	u8 *p = migf->start;

	vhdr = (struct mlx5c_mig_header *)p;
	vhdr->record_size = cpu_to_le64(sizeof(*ver));
	vhdr->flags = cpu_to_le32(MLX5C_MIG_F_MANDATORY);
	vhdr->tag = cpu_to_le32(MLX5C_MIG_TAG_VERSION);
	ver = (struct mlx5c_mig_version *)(p + MLX5C_HDR_SIZE);
	ver->version = cpu_to_le32(MLX5C_STREAM_VERSION);
	ver->reserved = 0;
	p += MLX5C_HDR_SIZE + sizeof(*ver);
	mlx5c_put_header(p, sizeof(*payload), MLX5C_MIG_F_OPTIONAL,
			 MLX5C_MIG_TAG_STOP_COPY_SIZE);
	payload = (struct mlx5c_mig_stop_copy_size *)(p + MLX5C_HDR_V2_SIZE);
	payload->size = cpu_to_le64(size);
	mlx5c_record_seal((struct mlx5c_mig_header_v2 *)p, payload);
	migf->start_initial = initial;
	if (initial)
		migf->initial_remaining += sizeof(migf->start);
}

/* Fill a new file: the STOP_COPY_SIZE record and the first image. */
static int mlx5c_save_file_start(struct mlx5c_save_file *migf, bool precopy)
{
	struct mlx5c_vf *mvdev = migf->mvdev;
	size_t full;
	int ret;

	ret = mlx5c_cmd_query_size(mvdev, true, &full);
	if (ret)
		return ret;
	/* The one record buffer of the session, reused for every part. */
	migf->part = mlx5c_alloc(MLX5C_HDR_V2_SIZE +
				 mlx5c_part_size(PAGE_SIZE, false,
						 mlx5c_part_pages(PAGE_SIZE)));
	if (!migf->part)
		return -ENOMEM;
	mlx5c_save_put_start(migf, full, precopy);

	mutex_lock(&migf->lock);
	if (precopy) {
		mlx5c_cmd_track(mvdev, true);
		ret = mlx5c_save_start(migf, MLX5C_IMAGE_INITIAL, true, true);
		if (ret)
			mlx5c_cmd_track(mvdev, false);
	} else {
		migf->final = true;
		ret = mlx5c_save_start(migf, MLX5C_IMAGE_FINAL, true, false);
	}
	mutex_unlock(&migf->lock);
	return ret;
}

struct mlx5c_save_file *mlx5c_save_file_create(struct mlx5c_vf *mvdev,
					       bool precopy)
{
	struct mlx5c_save_file *migf;
	struct file *filp;
	int ret;

	migf = mlx5c_zalloc(sizeof(*migf));
	if (!migf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&migf->lock);
	init_waitqueue_head(&migf->poll_wait);
	INIT_LIST_HEAD(&migf->images);
	migf->mvdev = mvdev;
	migf->resets = READ_ONCE(mvdev->resets);
	migf->req.mvdev = mvdev;
	migf->req.migf = migf;
	INIT_DELAYED_WORK(&migf->req.work, mlx5c_cmd_save_work);

	filp = mlx5c_data_file(mvdev, &mlx5c_save_fops, migf, O_RDONLY);
	if (IS_ERR(filp)) {
		mutex_destroy(&migf->lock);
		mlx5c_free(migf);
		return ERR_CAST(filp);
	}
	migf->filp = filp;

	ret = mlx5c_save_file_start(migf, precopy);
	if (ret) {
		fput(filp);	/* release frees everything */
		return ERR_PTR(ret);
	}
	return migf;
}

/*
 * STOP_COPY: queue the final image, incremental unless a save failed
 * before.  The device is stopped; any save in flight completes first so
 * that the final image comes last on the stream.  Tracking ends only once
 * the final image is queued: after a failure the session is as it was, and
 * PRE_COPY_P2P -> STOP_COPY may be tried again.
 */
int mlx5c_save_final(struct mlx5c_save_file *migf)
{
	struct mlx5c_vf *mvdev = migf->mvdev;
	int ret;

	flush_delayed_work(&migf->req.work);
	mutex_lock(&migf->lock);
	if (migf->disabled) {
		ret = -ENODEV;
	} else if (migf->error) {
		ret = migf->error;
	} else {
		ret = mlx5c_save_start(migf, MLX5C_IMAGE_FINAL, migf->fallback,
				       false);
		if (!ret)
			migf->final = true;
	}
	mutex_unlock(&migf->lock);
	if (!ret)
		mlx5c_cmd_track(mvdev, false);
	return ret;
}

/*
 * End the session: cancel the save in flight, drop every record, and make
 * every later read, poll and ioctl see the end.
 */
void mlx5c_save_file_disable(struct mlx5c_save_file *migf)
{
	struct mlx5c_image_out *img, *tmp;

	mutex_lock(&migf->lock);
	migf->disabled = true;
	mutex_unlock(&migf->lock);

	if (cancel_delayed_work_sync(&migf->req.work)) {
		/* It never ran: drop what it held. */
		mutex_lock(&migf->lock);
		mlx5c_image_out_free(migf->req.img);
		migf->req.img = NULL;
		migf->in_flight = false;
		mutex_unlock(&migf->lock);
		fput(migf->filp);
	}

	mutex_lock(&migf->lock);
	list_for_each_entry_safe(img, tmp, &migf->images, node) {
		list_del(&img->node);
		mlx5c_image_out_free(img);
	}
	migf->initial_remaining = 0;
	wake_up_interruptible(&migf->poll_wait);
	mutex_unlock(&migf->lock);
}
