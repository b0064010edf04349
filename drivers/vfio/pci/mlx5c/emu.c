// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated firmware of an mlx5-class function.
 *
 * The device memory is BAR2.  The firmware saves it as images: a full image
 * carries every page, an incremental image the pages written since the
 * previous image.  It learns which pages were written by write-protecting
 * the user mappings of BAR2: the first write to a page after an image
 * faults, and pfn_mkwrite marks the page dirty before making it writable.
 * Writes through the region's read/write interface are marked as well.
 *
 * To save an incremental image the firmware first takes the dirty pages
 * and clears them, then write-protects every mapping again, and only then
 * copies the pages: a write that races with the copy faults and marks its
 * page for the next image, so no write is ever lost.
 */
#include <linux/bitmap.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/xxhash.h>

#include "mlx5c.h"

#define IMAGE_HDR_SIZE	sizeof(struct mlx5c_image_header)

static const struct vm_operations_struct *mlx5c_core_vm_ops;

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
	emu->loaded_full = false;
}

size_t mlx5c_emu_image_size(struct mlx5c_vf *mvdev, bool full, u64 nr_pages)
{
	if (full)
		return IMAGE_HDR_SIZE + mvdev->emu.mem_size;
	return IMAGE_HDR_SIZE + round_up(nr_pages * sizeof(__le32), 8) +
	       nr_pages * PAGE_SIZE;
}

/* Incremental images are always smaller than a full one (see save). */
size_t mlx5c_emu_max_image(struct mlx5c_vf *mvdev)
{
	return mlx5c_emu_image_size(mvdev, true, 0);
}

u64 mlx5c_emu_dirty_pages(struct mlx5c_vf *mvdev)
{
	return bitmap_weight(mvdev->emu.dirty, mvdev->emu.nr_pages);
}

bool mlx5c_emu_ctx_dirty(struct mlx5c_vf *mvdev)
{
	return test_bit(MLX5C_CTX_PAGE, mvdev->emu.dirty);
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

/* Write-protect every user mapping of the device memory. */
static void mlx5c_emu_protect(struct mlx5c_vf *mvdev)
{
	struct vfio_device *vdev = &mvdev->core_device.vdev;

	unmap_mapping_range(vdev->inode->i_mapping,
			    VFIO_PCI_INDEX_TO_OFFSET(MLX5C_STATE_BAR),
			    mvdev->emu.mem_size, true);
}

int mlx5c_emu_track(struct mlx5c_vf *mvdev, bool on)
{
	struct mlx5c_emu *emu = &mvdev->emu;

	if (on) {
		bitmap_zero(emu->dirty, emu->nr_pages);
		mlx5c_emu_protect(mvdev);
	}
	emu->tracking = on;
	return 0;
}

/* Move the dirty pages into @pages, leaving none dirty. */
static void mlx5c_emu_take_dirty(struct mlx5c_emu *emu, unsigned long *pages)
{
	unsigned long i;

	for (i = 0; i < BITS_TO_LONGS(emu->nr_pages); i++)
		pages[i] = xchg(&emu->dirty[i], 0);
}

int mlx5c_emu_save_prepare(struct mlx5c_vf *mvdev, struct mlx5c_save_req *req)
{
	struct mlx5c_emu *emu = &mvdev->emu;
	unsigned long *pages;
	u64 nr;

	if (!emu->mem)
		return -ENODEV;
	/* The final image is taken from a stopped function only. */
	if (req->kind == MLX5C_IMAGE_FINAL && !emu->suspended_responder)
		return -EINVAL;
	if (!req->full && !emu->tracking)
		return -EINVAL;

	req->pages = NULL;
	if (req->full) {
		req->nr_pages = emu->nr_pages;
		if (emu->tracking) {
			bitmap_zero(emu->dirty, emu->nr_pages);
			mlx5c_emu_protect(mvdev);
		}
		return 0;
	}

	pages = bitmap_zalloc(emu->nr_pages, GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;
	mlx5c_emu_take_dirty(emu, pages);
	mlx5c_emu_protect(mvdev);
	nr = bitmap_weight(pages, emu->nr_pages);
	if (mlx5c_emu_image_size(mvdev, false, nr) >=
	    mlx5c_emu_image_size(mvdev, true, 0)) {
		/* Cheaper as a full image. */
		bitmap_free(pages);
		req->full = true;
		nr = emu->nr_pages;
		pages = NULL;
	}
	req->pages = pages;
	req->nr_pages = nr;
	return 0;
}

static void mlx5c_emu_copy_pages(struct mlx5c_vf *mvdev,
				 struct mlx5c_save_req *req, u8 *body)
{
	struct mlx5c_emu *emu = &mvdev->emu;
	__le32 *index = (__le32 *)body;
	size_t index_len = round_up(req->nr_pages * sizeof(__le32), 8);
	u8 *data = body + index_len;
	unsigned long pg;
	u64 i = 0;

	memset(body, 0, index_len);
	for_each_set_bit(pg, req->pages, emu->nr_pages) {
		index[i] = cpu_to_le32(pg);
		memcpy_fromio(data + i * PAGE_SIZE, emu->mem + pg * PAGE_SIZE,
			      PAGE_SIZE);
		i++;
	}
}

/* Runs in the save's work item: fill the image the request describes. */
void mlx5c_emu_save_run(struct mlx5c_save_req *req)
{
	struct mlx5c_vf *mvdev = req->mvdev;
	struct mlx5c_emu *emu = &mvdev->emu;
	struct mlx5c_image_header *hdr;
	size_t len = mlx5c_emu_image_size(mvdev, req->full, req->nr_pages);
	u8 *image = (u8 *)req->rec->data + MLX5C_HDR_SIZE;

	hdr = (struct mlx5c_image_header *)image;
	hdr->magic = cpu_to_le32(MLX5C_IMAGE_MAGIC);
	hdr->version = cpu_to_le16(MLX5C_IMAGE_VERSION);
	hdr->kind = cpu_to_le16(req->kind);
	hdr->flags = cpu_to_le32(req->full ? MLX5C_IMAGE_F_FULL : 0);
	hdr->page_size = cpu_to_le32(PAGE_SIZE);
	hdr->mem_size = cpu_to_le64(emu->mem_size);
	hdr->nr_pages = cpu_to_le64(req->nr_pages);
	hdr->seq = cpu_to_le64(req->seq);
	hdr->checksum = 0;

	if (req->full)
		memcpy_fromio(image + IMAGE_HDR_SIZE, emu->mem, emu->mem_size);
	else
		mlx5c_emu_copy_pages(mvdev, req, image + IMAGE_HDR_SIZE);
	hdr->checksum = cpu_to_le64(xxh64(image, len, 0));
	req->status = 0;
}

static int mlx5c_emu_check_index(struct mlx5c_emu *emu, const u8 *body,
				 u64 nr)
{
	const __le32 *index = (const __le32 *)body;
	size_t index_len = round_up(nr * sizeof(__le32), 8);
	u64 i, prev = 0;

	for (i = 0; i < nr; i++) {
		u64 pg = le32_to_cpu(index[i]);

		if (pg >= emu->nr_pages || (i && pg <= prev))
			return -EINVAL;
		prev = pg;
	}
	for (i = nr * sizeof(__le32); i < index_len; i++)
		if (body[i])
			return -EINVAL;
	return 0;
}

static u64 mlx5c_image_checksum(const u8 *image, size_t len)
{
	struct mlx5c_image_header hdr;
	struct xxh64_state state;

	memcpy(&hdr, image, sizeof(hdr));
	hdr.checksum = 0;
	xxh64_reset(&state, 0);
	xxh64_update(&state, &hdr, sizeof(hdr));
	xxh64_update(&state, image + sizeof(hdr), len - sizeof(hdr));
	return xxh64_digest(&state);
}

static int mlx5c_emu_check_image(struct mlx5c_vf *mvdev, const u8 *image,
				 size_t len)
{
	const struct mlx5c_image_header *hdr = (const void *)image;
	struct mlx5c_emu *emu = &mvdev->emu;
	u32 flags, kind;
	bool full;
	u64 nr;

	if (len < IMAGE_HDR_SIZE ||
	    le32_to_cpu(hdr->magic) != MLX5C_IMAGE_MAGIC ||
	    le16_to_cpu(hdr->version) != MLX5C_IMAGE_VERSION)
		return -EINVAL;
	kind = le16_to_cpu(hdr->kind);
	flags = le32_to_cpu(hdr->flags);
	if (kind < MLX5C_IMAGE_INITIAL || kind > MLX5C_IMAGE_FINAL ||
	    flags & ~MLX5C_IMAGE_F_FULL)
		return -EINVAL;
	/* Made for another function: refuse before touching anything. */
	if (le32_to_cpu(hdr->page_size) != PAGE_SIZE ||
	    le64_to_cpu(hdr->mem_size) != emu->mem_size)
		return -EINVAL;
	full = flags & MLX5C_IMAGE_F_FULL;
	nr = le64_to_cpu(hdr->nr_pages);
	if (full ? nr != emu->nr_pages : nr >= emu->nr_pages)
		return -EINVAL;
	if (len != mlx5c_emu_image_size(mvdev, full, nr))
		return -EINVAL;
	/* A delta needs a base to apply to. */
	if (!full && !emu->loaded_full)
		return -EINVAL;
	if (!full && mlx5c_emu_check_index(emu, image + IMAGE_HDR_SIZE, nr))
		return -EINVAL;
	if (mlx5c_image_checksum(image, len) != le64_to_cpu(hdr->checksum))
		return -EBADMSG;
	return 0;
}

/* Validate a whole image, then apply it to the device memory. */
int mlx5c_emu_load(struct mlx5c_vf *mvdev, const void *image, size_t len)
{
	const struct mlx5c_image_header *hdr = image;
	struct mlx5c_emu *emu = &mvdev->emu;
	const u8 *body = (const u8 *)image + IMAGE_HDR_SIZE;
	const __le32 *index = (const __le32 *)body;
	const u8 *data;
	u64 i, nr;
	int ret;

	if (!emu->mem)
		return -ENODEV;
	if (!emu->suspended_responder)
		return -EINVAL;
	ret = mlx5c_emu_check_image(mvdev, image, len);
	if (ret)
		return ret;

	nr = le64_to_cpu(hdr->nr_pages);
	if (le32_to_cpu(hdr->flags) & MLX5C_IMAGE_F_FULL) {
		memcpy_toio(emu->mem, body, emu->mem_size);
		emu->loaded_full = true;
		return 0;
	}
	data = body + round_up(nr * sizeof(__le32), 8);
	for (i = 0; i < nr; i++)
		memcpy_toio(emu->mem + (u64)le32_to_cpu(index[i]) * PAGE_SIZE,
			    data + i * PAGE_SIZE, PAGE_SIZE);
	return 0;
}

static unsigned long mlx5c_vma_page(struct vm_area_struct *vma,
				    unsigned long addr)
{
	unsigned long base = VFIO_PCI_INDEX_TO_OFFSET(MLX5C_STATE_BAR) >>
			     PAGE_SHIFT;

	return vma->vm_pgoff - base + ((addr - vma->vm_start) >> PAGE_SHIFT);
}

static vm_fault_t mlx5c_bar_fault(struct vm_fault *vmf)
{
	return mlx5c_core_vm_ops->fault(vmf);
}

/* The first write to a page since the last image: mark it dirty. */
static vm_fault_t mlx5c_bar_pfn_mkwrite(struct vm_fault *vmf)
{
	struct vfio_pci_core_device *vdev = vmf->vma->vm_private_data;
	struct mlx5c_vf *mvdev = container_of(vdev, struct mlx5c_vf,
					      core_device);
	unsigned long pg = mlx5c_vma_page(vmf->vma, vmf->address);

	if (pg < mvdev->emu.nr_pages)
		set_bit(pg, mvdev->emu.dirty);
	return 0;
}

/* Page-sized faults only: a huge mapping could not be tracked. */
static const struct vm_operations_struct mlx5c_bar_vm_ops = {
	.fault = mlx5c_bar_fault,
	.pfn_mkwrite = mlx5c_bar_pfn_mkwrite,
};

int mlx5c_emu_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma)
{
	unsigned int index = vma->vm_pgoff >>
			     (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
	int ret;

	ret = vfio_pci_core_mmap(core_vdev, vma);
	if (ret || index != MLX5C_STATE_BAR)
		return ret;
	if (!READ_ONCE(mlx5c_core_vm_ops))
		WRITE_ONCE(mlx5c_core_vm_ops, vma->vm_ops);
	vma->vm_ops = &mlx5c_bar_vm_ops;
	/* Map read-only at first so that the first write calls pfn_mkwrite. */
	vma->vm_page_prot = vm_get_page_prot(vma->vm_flags & ~VM_SHARED);
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_page_prot = pgprot_decrypted(vma->vm_page_prot);
	return 0;
}

ssize_t mlx5c_emu_write(struct vfio_device *core_vdev, const char __user *buf,
			size_t count, loff_t *ppos)
{
	struct mlx5c_vf *mvdev = to_mlx5c(core_vdev);
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(*ppos);
	u64 off = *ppos & VFIO_PCI_OFFSET_MASK;
	struct mlx5c_emu *emu = &mvdev->emu;

	if (index == MLX5C_STATE_BAR && count && off < emu->mem_size) {
		u64 first = off >> PAGE_SHIFT;
		u64 last = min_t(u64, off + count - 1, emu->mem_size - 1) >>
			   PAGE_SHIFT;

		/* Atomic per bit: saves take the bitmap concurrently. */
		for (; first <= last; first++)
			set_bit(first, emu->dirty);
	}
	return vfio_pci_core_write(core_vdev, buf, count, ppos);
}
