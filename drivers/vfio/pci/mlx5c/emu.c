// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated firmware of an mlx5-class function.
 *
 * The device memory is BAR2.  The firmware saves it as images: a full image
 * carries every page, an incremental image the pages written since the
 * previous image.  It learns which pages were written by write-protecting
 * the user mappings of BAR2: the first write to a page after an image
 * faults, and pfn_mkwrite marks the page dirty before making it writable.
 * Writes through the region's write interface are marked once they have
 * landed.
 *
 * To save an incremental image the firmware first takes the dirty pages
 * and clears them, then write-protects the mappings of those pages (the
 * only ones that can be writable), and only then copies the pages: a write
 * that races with the copy faults and marks its page for the next image,
 * so no write is ever lost.  Tracking starts by write-protecting the whole
 * BAR.
 */
#include <linux/bitmap.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/sched.h>
#include <linux/sizes.h>

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
	mlx5c_emu_load_begin(mvdev);
}

/* A new resuming session: no image loaded yet. */
void mlx5c_emu_load_begin(struct mlx5c_vf *mvdev)
{
	memset(&mvdev->emu.load, 0, sizeof(mvdev->emu.load));
}

size_t mlx5c_emu_image_size(struct mlx5c_vf *mvdev, bool full, u64 nr_pages)
{
	return mlx5c_image_size(PAGE_SIZE, mvdev->emu.mem_size, full, nr_pages);
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
static void mlx5c_emu_take_dirty(struct mlx5c_vf *mvdev, unsigned long *pages)
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
	}
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
		req->full = true;
		nr = emu->nr_pages;
		pages = NULL;
	}
	req->pages = pages;
	req->nr_pages = nr;
	return 0;
}

/*
 * The device memory is the firmware's own: real firmware reaches it
 * whatever the command register or the power state say, and a VMM relies
 * on that (QEMU clears the command register when it resets the function
 * and loads device data before it restores config space).  The emulation
 * reaches the memory through BAR2 only, so for the time of a copy it wakes
 * the function with runtime PM, as vfio-pci-core does for its own accesses
 * (a low power state the user entered ends there), and then, under
 * memory_lock, brings it to D0 and turns memory decode on if it has to.
 * Held for read, memory_lock keeps a decode that is already on; otherwise
 * the firmware takes it for write, like vfio-pci-core's own
 * memory_lock_and_enable, changes the physical command register and power
 * state only, and undoes before it lets go only what it changed: the
 * memory bit it set, the power state it left.  It reads and writes
 * only the low byte of the command register, which holds the memory bit:
 * vfio-pci-core writes the upper byte without memory_lock (a user's byte
 * write to it, INTx masking), so a read-modify-write of the whole word
 * could turn such a change back, while it writes the low byte only under
 * memory_lock for write, so nothing lands between our read and write.
 * Neither the user's view of config space (vconfig) nor the user mappings
 * change: they stay zapped while decode is off as far as the user knows.
 *
 * Lock order: the callers hold nothing memory_lock nests in; the state
 * mutex and a data file's lock may be held (both come before mmap_lock,
 * which comes before memory_lock in the fault path), and nothing that runs
 * under memory_lock (reset_done) takes them or waits for a save.
 */
struct mlx5c_mem_access {
	pci_power_t state;		/* to return to, if woken from it */
	bool exclusive;
	bool woken;			/* the firmware brought it to D0 */
	bool decode_on;			/* the firmware set the memory bit */
};

/* A state the function can be woken from (D3cold is runtime PM's). */
static bool mlx5c_low_power(pci_power_t state)
{
	return state == PCI_D1 || state == PCI_D2 || state == PCI_D3hot;
}

static int mlx5c_emu_mem_begin(struct mlx5c_vf *mvdev,
			       struct mlx5c_mem_access *a)
{
	struct vfio_pci_core_device *vdev = &mvdev->core_device;
	struct pci_dev *pdev = vdev->pdev;
	u16 cmd;
	u8 lo;
	int ret;

	ret = pm_runtime_resume_and_get(&pdev->dev);
	if (ret < 0)
		return ret;
	down_read(&vdev->memory_lock);
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	a->exclusive = false;
	a->woken = false;
	a->decode_on = false;
	if (pdev->current_state == PCI_D0 &&
	    (pdev->no_command_memory || (cmd & PCI_COMMAND_MEMORY)))
		return 0;
	up_read(&vdev->memory_lock);

	down_write(&vdev->memory_lock);
	a->exclusive = true;
	a->state = pdev->current_state;
	if (mlx5c_low_power(a->state)) {
		ret = pci_set_power_state(pdev, PCI_D0);
		a->woken = !ret;
	}
	/*
	 * A function that is not in D0 now (D3cold, unknown, or a transition
	 * that did not take) would give all-ones reads and drop writes: fail
	 * rather than save a dead BAR under a valid checksum.
	 */
	if (!ret && (pdev->current_state != PCI_D0 || pci_channel_offline(pdev)))
		ret = -EIO;
	if (ret) {
		up_write(&vdev->memory_lock);
		pm_runtime_put(&pdev->dev);
		return ret;
	}
	pci_read_config_byte(pdev, PCI_COMMAND, &lo);
	if (!(lo & PCI_COMMAND_MEMORY)) {
		pci_write_config_byte(pdev, PCI_COMMAND,
				      lo | PCI_COMMAND_MEMORY);
		a->decode_on = true;
	}
	return 0;
}

static void mlx5c_emu_mem_end(struct mlx5c_vf *mvdev,
			      struct mlx5c_mem_access *a)
{
	struct vfio_pci_core_device *vdev = &mvdev->core_device;
	struct pci_dev *pdev = vdev->pdev;
	u8 lo;

	if (a->exclusive) {
		/* The memory bit only, in the low byte as it is now. */
		if (a->decode_on) {
			pci_read_config_byte(pdev, PCI_COMMAND, &lo);
			pci_write_config_byte(pdev, PCI_COMMAND,
					      lo & ~PCI_COMMAND_MEMORY);
		}
		if (a->woken)
			pci_set_power_state(pdev, a->state);
		up_write(&vdev->memory_lock);
	} else {
		up_read(&vdev->memory_lock);
	}
	pm_runtime_put(&pdev->dev);
}

/*
 * A copy holds memory_lock for MLX5C_COPY_CHUNK bytes at most, and lets go
 * (and reschedules) between chunks, so that what waits for the lock (a
 * VFIO_DEVICE_RESET, a config write of the command or PM registers, a
 * fault of a user mapping behind a waiting writer) waits for one chunk,
 * not for the whole BAR.  Each chunk takes the lock afresh, as
 * mlx5c_emu_mem_begin decides (decode or power state may have changed in
 * between).  A reset between two chunks stops the copy with ENODEV: the
 * reset ends the session the copy is for.  vfio-pci-core's resets count
 * in reset_done under memory_lock's write side, so the count read under
 * the lock sees every such reset before the chunk.  A hot reset only
 * tries memory_lock, so one that lands during a chunk still fails with
 * EBUSY, as it does during any access that holds the lock.
 */
#define MLX5C_COPY_CHUNK	SZ_2M

struct mlx5c_copy {
	struct mlx5c_vf *mvdev;
	struct mlx5c_mem_access access;
	u32 resets;			/* the session's mvdev->resets */
	size_t held;			/* bytes copied under this hold */
	bool locked;
};

/*
 * @resets is the count the session started with, not the count now: a
 * reset between the session's own check and the copy's first chunk stops
 * the copy too.
 */
static void mlx5c_copy_init(struct mlx5c_copy *c, struct mlx5c_vf *mvdev,
			    u32 resets)
{
	c->mvdev = mvdev;
	c->resets = resets;
	c->held = 0;
	c->locked = false;
}

static void mlx5c_copy_unlock(struct mlx5c_copy *c)
{
	if (c->locked) {
		mlx5c_emu_mem_end(c->mvdev, &c->access);
		c->locked = false;
	}
}

/* Copy @len bytes between device memory at @off and @buf. */
static int mlx5c_copy(struct mlx5c_copy *c, u64 off, void *buf, size_t len,
		      bool to_dev)
{
	void __iomem *mem = c->mvdev->emu.mem;
	size_t n;
	int ret;

	while (len) {
		if (!c->locked) {
			ret = mlx5c_emu_mem_begin(c->mvdev, &c->access);
			if (ret)
				return ret;
			c->locked = true;
			c->held = 0;
			if (mlx5c_reset_since(c->mvdev, c->resets)) {
				mlx5c_copy_unlock(c);
				return -ENODEV;
			}
		}
		n = min(len, MLX5C_COPY_CHUNK - c->held);
		if (to_dev)
			memcpy_toio(mem + off, buf, n);
		else
			memcpy_fromio(buf, mem + off, n);
		off += n;
		buf = (u8 *)buf + n;
		len -= n;
		c->held += n;
		if (c->held == MLX5C_COPY_CHUNK) {
			mlx5c_copy_unlock(c);
			cond_resched();
		}
	}
	return 0;
}

static int mlx5c_emu_copy_pages(struct mlx5c_copy *c,
				struct mlx5c_save_req *req, u8 *body)
{
	struct mlx5c_emu *emu = &c->mvdev->emu;
	__le32 *index = (__le32 *)body;
	size_t index_len = round_up(req->nr_pages * sizeof(__le32), 8);
	u8 *data = body + index_len;
	unsigned long pg;
	u64 i = 0;
	int ret;

	memset(body, 0, index_len);
	for_each_set_bit(pg, req->pages, emu->nr_pages) {
		index[i] = cpu_to_le32(pg);
		ret = mlx5c_copy(c, (u64)pg * PAGE_SIZE, data + i * PAGE_SIZE,
				 PAGE_SIZE, false);
		if (ret)
			return ret;
		i++;
	}
	return 0;
}

/* Runs in the save's work item: fill the image the request describes. */
void mlx5c_emu_save_run(struct mlx5c_save_req *req)
{
	struct mlx5c_vf *mvdev = req->mvdev;
	struct mlx5c_emu *emu = &mvdev->emu;
	struct mlx5c_image_header *hdr;
	size_t len = mlx5c_emu_image_size(mvdev, req->full, req->nr_pages);
	struct mlx5c_mig_header_v2 *rec = req->rec->data;
	u8 *image = (u8 *)req->rec->data + MLX5C_HDR_V2_SIZE;
	struct mlx5c_copy copy;
	int ret;

	hdr = (struct mlx5c_image_header *)image;
	hdr->magic = cpu_to_le32(MLX5C_IMAGE_MAGIC);
	hdr->version = cpu_to_le16(MLX5C_IMAGE_VERSION_2);
	hdr->kind = cpu_to_le16(req->kind);
	hdr->flags = cpu_to_le32(req->full ? MLX5C_IMAGE_F_FULL : 0);
	hdr->page_size = cpu_to_le32(PAGE_SIZE);
	hdr->mem_size = cpu_to_le64(emu->mem_size);
	hdr->nr_pages = cpu_to_le64(req->nr_pages);
	hdr->seq = cpu_to_le64(req->seq);
	hdr->checksum = 0;

	mlx5c_copy_init(&copy, mvdev, req->migf->resets);
	if (req->full)
		ret = mlx5c_copy(&copy, 0, image + IMAGE_HDR_SIZE,
				 emu->mem_size, false);
	else
		ret = mlx5c_emu_copy_pages(&copy, req, image + IMAGE_HDR_SIZE);
	mlx5c_copy_unlock(&copy);
	if (ret) {
		req->status = ret;
		return;
	}
	/* Version 2: the record's checksum covers the image. */
	if (WARN_ON_ONCE(le64_to_cpu(rec->record_size) != len)) {
		req->status = -EIO;
		return;
	}
	mlx5c_record_seal(rec, image);
	req->status = 0;
}

/*
 * Validate a whole image, then apply it to the device memory.  Its pages
 * are the source's (page_size in the image), not necessarily ours.
 */
int mlx5c_emu_load(struct mlx5c_vf *mvdev, u32 resets, u32 version,
		   const void *image, size_t len)
{
	const struct mlx5c_image_header *hdr = image;
	struct mlx5c_emu *emu = &mvdev->emu;
	const struct mlx5c_image_target target = {
		.mem_size = emu->mem_size,
	};
	const u8 *body = (const u8 *)image + IMAGE_HDR_SIZE;
	const __le32 *index = (const __le32 *)body;
	struct mlx5c_copy copy;
	const u8 *data;
	u64 i, nr, ps;
	int ret;

	if (!emu->mem)
		return -ENODEV;
	if (!emu->suspended_responder)
		return -EINVAL;
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
