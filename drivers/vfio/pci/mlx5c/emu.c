// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated firmware of an mlx5-class function: its commands.
 *
 * The device memory is BAR2 (devmem.c reaches it).  The firmware saves it
 * as images (image.c is their format): a full image carries every page, an
 * incremental image the pages written since the previous image, which
 * dirty tracking (dirty.c) tells.
 */
#include <linux/bitmap.h>
#include <linux/pci.h>

#include "mlx5c.h"

int mlx5c_emu_init(struct mlx5c_vf *mvdev)
{
	struct pci_dev *pdev = mvdev->core_device.pdev;
	struct mlx5c_emu *emu = &mvdev->emu;

	emu->mem_size = pci_resource_len(pdev, MLX5C_STATE_BAR);
	if (!emu->mem_size || !PAGE_ALIGNED(emu->mem_size) ||
	    !(pci_resource_flags(pdev, MLX5C_STATE_BAR) & IORESOURCE_MEM)) {
		pci_err(pdev, "BAR%d is not page-sized memory: no device state\n",
			MLX5C_STATE_BAR);
		return -ENODEV;
	}
	emu->nr_pages = emu->mem_size >> PAGE_SHIFT;
	emu->dirty = bitmap_zalloc(emu->nr_pages, GFP_KERNEL);
	if (!emu->dirty)
		return -ENOMEM;
	emu->latency_ms = mlx5c_default_latency_ms;
	return 0;
}

void mlx5c_emu_uninit(struct mlx5c_vf *mvdev)
{
	bitmap_free(mvdev->emu.dirty);
}

int mlx5c_emu_open(struct mlx5c_vf *mvdev)
{
	struct vfio_pci_core_device *vdev = &mvdev->core_device;
	int ret;

	ret = vfio_pci_core_setup_barmap(vdev, MLX5C_STATE_BAR);
	if (ret)
		return ret;
	mvdev->emu.mem = vdev->barmap[MLX5C_STATE_BAR];
	mlx5c_emu_reset(mvdev);
	return 0;
}

void mlx5c_emu_close(struct mlx5c_vf *mvdev)
{
	mlx5c_emu_reset(mvdev);
	mvdev->emu.mem = NULL;
}

/* A function reset: the firmware forgets every migration session. */
void mlx5c_emu_reset(struct mlx5c_vf *mvdev)
{
	struct mlx5c_emu *emu = &mvdev->emu;

	emu->tracking = false;
	emu->suspended_initiator = false;
	emu->suspended_responder = false;
	mlx5c_emu_load_begin(mvdev);
}

/* A new resuming session: no image loaded yet. */
void mlx5c_emu_load_begin(struct mlx5c_vf *mvdev)
{
	memset(&mvdev->emu.load, 0, sizeof(mvdev->emu.load));
}

/* The stream bytes of an image, in the parts this firmware cuts. */
size_t mlx5c_emu_image_size(struct mlx5c_vf *mvdev, bool full, u64 nr_pages)
{
	return mlx5c_image_stream_size(PAGE_SIZE, mvdev->emu.mem_size, full,
				       nr_pages);
}

/* Incremental images are never larger than a full one (see save). */
size_t mlx5c_emu_max_image(struct mlx5c_vf *mvdev)
{
	return mlx5c_emu_image_size(mvdev, true, 0);
}

int mlx5c_emu_suspend(struct mlx5c_vf *mvdev, bool initiator)
{
	struct mlx5c_emu *emu = &mvdev->emu;

	if (initiator) {
		if (emu->suspended_initiator)
			return -EINVAL;
		emu->suspended_initiator = true;
		return 0;
	}
	/* The responder side stops only once the function is quiesced. */
	if (!emu->suspended_initiator || emu->suspended_responder)
		return -EINVAL;
	emu->suspended_responder = true;
	return 0;
}

int mlx5c_emu_resume(struct mlx5c_vf *mvdev, bool initiator)
{
	struct mlx5c_emu *emu = &mvdev->emu;

	if (initiator) {
		if (!emu->suspended_initiator || emu->suspended_responder)
			return -EINVAL;
		emu->suspended_initiator = false;
		return 0;
	}
	if (!emu->suspended_responder)
		return -EINVAL;
	emu->suspended_responder = false;
	return 0;
}

int mlx5c_emu_save_prepare(struct mlx5c_vf *mvdev,
			   struct mlx5c_image_out *img)
{
	struct mlx5c_emu *emu = &mvdev->emu;
	unsigned long *pages;
	u64 nr;

	if (!emu->mem)
		return -ENODEV;
	/* The final image is taken from a stopped function only. */
	if (img->kind == MLX5C_IMAGE_FINAL && !emu->suspended_responder)
		return -EINVAL;
	if (!img->full && !emu->tracking)
		return -EINVAL;

	img->pages = NULL;
	if (img->full) {
		img->nr_pages = emu->nr_pages;
		if (emu->tracking)
			mlx5c_emu_take_dirty(mvdev, NULL);
		return 0;
	}

	pages = bitmap_zalloc(emu->nr_pages, GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;
	mlx5c_emu_take_dirty(mvdev, pages);
	nr = bitmap_weight(pages, emu->nr_pages);
	if (mlx5c_emu_image_size(mvdev, false, nr) >=
	    mlx5c_emu_image_size(mvdev, true, 0)) {
		/* Cheaper as a full image. */
		bitmap_free(pages);
		img->full = true;
		nr = emu->nr_pages;
		pages = NULL;
	}
	img->pages = pages;
	img->nr_pages = nr;
	return 0;
}

/* Copy the next @n pages of an incremental image, and index them. */
static int mlx5c_emu_copy_pages(struct mlx5c_copy *c,
				struct mlx5c_image_out *img, u8 *body, u64 n)
{
	struct mlx5c_emu *emu = &c->mvdev->emu;
	size_t index_len = round_up(n * sizeof(__le32), 8);
	__le32 *index = (__le32 *)body;
	u8 *data = body + index_len;
	unsigned long pg;
	u64 i;
	int ret;

	memset(body, 0, index_len);
	for (i = 0; i < n; i++) {
		pg = find_next_bit(img->pages, emu->nr_pages, img->next);
		if (WARN_ON_ONCE(pg >= emu->nr_pages))
			return -EIO;
		index[i] = cpu_to_le32(pg);
		ret = mlx5c_copy(c, (u64)pg << PAGE_SHIFT,
				 data + (i << PAGE_SHIFT), PAGE_SIZE, false);
		if (ret)
			return ret;
		img->next = pg + 1;
	}
	return 0;
}

/*
 * Cut the next part of @img into @part, straight from device memory:
 * the image header, the part header, and at most MLX5C_PART_DATA bytes of
 * pages.  Returns the part's size.  The pages were taken (and
 * write-protected) when the save was prepared, so a write since then is
 * either in this copy or marked for the next image.
 */
ssize_t mlx5c_emu_save_part(struct mlx5c_vf *mvdev, u32 resets,
			    struct mlx5c_image_out *img, void *part)
{
	struct mlx5c_emu *emu = &mvdev->emu;
	u8 *body = (u8 *)part + MLX5C_IMAGE_HDR_SIZE + MLX5C_IMAGE_PART_SIZE;
	u64 n = min(mlx5c_part_pages(PAGE_SIZE), img->nr_pages - img->done);
	struct mlx5c_copy copy;
	int ret;

	if (!emu->mem)
		return -ENODEV;
	mlx5c_image_put_header(part, MLX5C_IMAGE_VERSION_3, img->kind,
			       img->full, PAGE_SIZE, emu->mem_size,
			       img->nr_pages, img->seq);
	mlx5c_part_put(part, img->done, n);
	mlx5c_copy_init(&copy, mvdev, resets);
	if (img->full)
		ret = mlx5c_copy(&copy, img->done << PAGE_SHIFT, body,
				 n << PAGE_SHIFT, false);
	else
		ret = mlx5c_emu_copy_pages(&copy, img, body, n);
	mlx5c_copy_unlock(&copy);
	if (ret)
		return ret;
	img->done += n;
	return mlx5c_part_size(PAGE_SIZE, img->full, n);
}

/* Version 3: apply one checked part of an image to the device memory. */
static int mlx5c_emu_load_part(struct mlx5c_vf *mvdev, u32 resets,
			       const void *image, size_t len)
{
	struct mlx5c_emu *emu = &mvdev->emu;
	const struct mlx5c_image_target target = {
		.mem_size = emu->mem_size,
	};
	struct mlx5c_part_view v;
	struct mlx5c_copy copy;
	__le32 pg;
	u64 i;
	int ret;

	ret = mlx5c_image_check_part(&target, &emu->load, image, len);
	if (ret)
		return ret;
	mlx5c_part_decode(image, &v);
	mlx5c_copy_init(&copy, mvdev, resets);
	if (v.full) {
		ret = mlx5c_copy(&copy, v.first * v.page_size, (void *)v.data,
				 v.nr * v.page_size, true);
	} else {
		for (i = 0; !ret && i < v.nr; i++) {
			memcpy(&pg, v.index + i * sizeof(pg), sizeof(pg));
			ret = mlx5c_copy(&copy, le32_to_cpu(pg) * v.page_size,
					 (void *)(v.data + i * v.page_size),
					 v.page_size, true);
		}
	}
	mlx5c_copy_unlock(&copy);
	if (ret)
		return ret;
	return mlx5c_part_loaded(&emu->load, image) ? 1 : 0;
}

/*
 * Validate a whole image (versions 1, 2) or one part of an image (version
 * 3), then apply it to the device memory; 1 when an image is complete.
 * Its pages are the source's (page_size in the image), not necessarily
 * ours.
 */
int mlx5c_emu_load(struct mlx5c_vf *mvdev, u32 resets, u32 version,
		   const void *image, size_t len)
{
	const struct mlx5c_image_header *hdr = image;
	struct mlx5c_emu *emu = &mvdev->emu;
	const struct mlx5c_image_target target = {
		.mem_size = emu->mem_size,
	};
	const u8 *body = (const u8 *)image + MLX5C_IMAGE_HDR_SIZE;
	const __le32 *index = (const __le32 *)body;
	struct mlx5c_copy copy;
	const u8 *data;
	u64 i, nr, ps;
	int ret;

	if (!emu->mem)
		return -ENODEV;
	if (!emu->suspended_responder)
		return -EINVAL;
	if (version == MLX5C_STREAM_V3)
		return mlx5c_emu_load_part(mvdev, resets, image, len);
	ret = mlx5c_image_check(&target, &emu->load, version, image, len);
	if (ret)
		return ret;

	nr = le64_to_cpu(hdr->nr_pages);
	ps = le32_to_cpu(hdr->page_size);
	mlx5c_copy_init(&copy, mvdev, resets);
	if (le32_to_cpu(hdr->flags) & MLX5C_IMAGE_F_FULL) {
		ret = mlx5c_copy(&copy, 0, (void *)body, emu->mem_size, true);
	} else {
		data = body + round_up(nr * sizeof(__le32), 8);
		for (i = 0; !ret && i < nr; i++)
			ret = mlx5c_copy(&copy, le32_to_cpu(index[i]) * ps,
					 (void *)(data + i * ps), ps, true);
	}
	mlx5c_copy_unlock(&copy);
	if (ret)
		return ret;
	mlx5c_image_loaded(&emu->load, image);
	return 1;
}
