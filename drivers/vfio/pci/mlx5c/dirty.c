// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking of the emulated firmware: which pages of device memory
 * were written since the last image.
 *
 * The firmware learns it by write-protecting the user mappings of BAR2:
 * the first write to a page after an image faults, and pfn_mkwrite marks
 * the page dirty before making it writable.  Writes through the region's
 * write interface are marked once they have landed.
 *
 * To save an incremental image the firmware first takes the dirty pages
 * and clears them, then write-protects the mappings of those pages (the
 * only ones that can be writable), and only then copies the pages: a write
 * that races with the copy faults and marks its page for the next image,
 * so no write is ever lost.  Tracking starts by write-protecting the whole
 * BAR.
 */
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/sched.h>

#include "mlx5c.h"

static const struct vm_operations_struct *mlx5c_core_vm_ops;

u64 mlx5c_emu_dirty_pages(struct mlx5c_vf *mvdev)
{
	return bitmap_weight(mvdev->emu.dirty, mvdev->emu.nr_pages);
}

bool mlx5c_emu_ctx_dirty(struct mlx5c_vf *mvdev)
{
	return test_bit(MLX5C_CTX_PAGE, mvdev->emu.dirty);
}

/* Write-protect the user mappings of @nr pages from page @pg. */
static void mlx5c_emu_protect(struct mlx5c_vf *mvdev, unsigned long pg,
			      unsigned long nr)
{
	struct vfio_device *vdev = &mvdev->core_device.vdev;

	unmap_mapping_range(vdev->inode->i_mapping,
			    VFIO_PCI_INDEX_TO_OFFSET(MLX5C_STATE_BAR) +
			    ((loff_t)pg << PAGE_SHIFT),
			    (loff_t)nr << PAGE_SHIFT, true);
}

static void mlx5c_emu_protect_all(struct mlx5c_vf *mvdev)
{
	mlx5c_emu_protect(mvdev, 0, mvdev->emu.nr_pages);
}

int mlx5c_emu_track(struct mlx5c_vf *mvdev, bool on)
{
	struct mlx5c_emu *emu = &mvdev->emu;

	if (on) {
		/* Pages written before tracking may be mapped writable. */
		bitmap_zero(emu->dirty, emu->nr_pages);
		mlx5c_emu_protect_all(mvdev);
	}
	emu->tracking = on;
	return 0;
}

/*
 * Move the dirty pages into @pages (if not NULL), leaving none dirty, and
 * write-protect each page taken.  While tracking, only a page marked dirty
 * since the last image can be mapped writable (pfn_mkwrite marks it before
 * the write is allowed), so the other pages keep their read-only mappings:
 * a guest that only reads them does not fault again.  Each page is taken
 * before it is protected and copied after: a write in between is in the
 * copy, a write after faults and marks the page for the next image.
 */
void mlx5c_emu_take_dirty(struct mlx5c_vf *mvdev, unsigned long *pages)
{
	struct mlx5c_emu *emu = &mvdev->emu;
	unsigned long i, w, start, end;

	for (i = 0; i < BITS_TO_LONGS(emu->nr_pages); i++) {
		w = xchg(&emu->dirty[i], 0);
		if (pages)
			pages[i] = w;
		/* Protect each run of dirty pages in the word. */
		while (w) {
			start = __ffs(w);
			end = start;
			while (end < BITS_PER_LONG && (w & BIT(end)))
				end++;
			mlx5c_emu_protect(mvdev, i * BITS_PER_LONG + start,
					  end - start);
			if (end == BITS_PER_LONG)
				break;
			w &= ~GENMASK(end - 1, start);
		}
		/* 1 GiB is 4096 words of 4 KiB pages: let others run. */
		cond_resched();
	}
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
	ssize_t ret;
	u64 first, last;

	ret = vfio_pci_core_write(core_vdev, buf, count, ppos);
	if (index != MLX5C_STATE_BAR || !count || off >= emu->mem_size)
		return ret;
	/*
	 * Marked once the bytes have landed, whatever the outcome (a failed
	 * write may have stored part of them): a save that takes the bits
	 * after this sees the new bytes, and one that took them before
	 * leaves them set for the next image.  Marking before the write
	 * would let a save take the bits and copy the old bytes in between.
	 */
	first = off >> PAGE_SHIFT;
	last = min_t(u64, off + count - 1, emu->mem_size - 1) >> PAGE_SHIFT;
	/* The bytes stored before the bits; the save's xchg pairs with it. */
	smp_mb__before_atomic();
	for (; first <= last; first++)
		set_bit(first, emu->dirty);
	return ret;
}
