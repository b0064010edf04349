// SPDX-License-Identifier: GPL-2.0
/*
 * How the emulated firmware reaches device memory (BAR2): under
 * memory_lock, with the function awake and decoding, in bounded chunks.
 */
#include <linux/io.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/sched.h>
#include <linux/sizes.h>

#include "mlx5c.h"

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

/*
 * @resets is the count the session started with, not the count now: a
 * reset between the session's own check and the copy's first chunk stops
 * the copy too.
 */
void mlx5c_copy_init(struct mlx5c_copy *c, struct mlx5c_vf *mvdev,
		     u32 resets)
{
	c->mvdev = mvdev;
	c->resets = resets;
	c->held = 0;
	c->locked = false;
}

void mlx5c_copy_unlock(struct mlx5c_copy *c)
{
	if (c->locked) {
		mlx5c_emu_mem_end(c->mvdev, &c->access);
		c->locked = false;
	}
}

/* Copy @len bytes between device memory at @off and @buf. */
int mlx5c_copy(struct mlx5c_copy *c, u64 off, void *buf, size_t len,
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
