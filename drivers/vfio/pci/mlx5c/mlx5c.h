/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mlx5c-vfio-pci: definitions shared by the driver's files.
 *
 *   main.c     VFIO glue: PCI driver, vfio_device ops, reset handling
 *   fsm.c      the migration state machine (mig_ops)
 *   save.c     the saving data file and its record stream
 *   resume.c   the resuming data file
 *   stream.c   the record stream parser (also built in userspace)
 *   image.c    validation of an image before it is loaded (also built in
 *              userspace)
 *   cmd.c      the firmware command interface, fault injection, counters
 *   emu.c      the emulated firmware's commands: suspend, resume, save, load
 *   dirty.c    its dirty tracking (write-protected BAR2 mappings)
 *   devmem.c   its access to device memory (memory_lock, power, decode)
 *   debugfs.c  per-device debugfs knobs
 *   netlink.c  telemetry: counters, events, the "mlx5c" genl family
 */
#ifndef MLX5C_H
#define MLX5C_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/mlx5c_vfio.h>
#include <linux/mlx5c_genl.h>
#include <linux/vfio_mig_compat.h>

#include "image.h"
#include "stream.h"

#define MLX5C_DRV_NAME		"mlx5c-vfio-pci"
#define MLX5C_STATE_BAR		VFIO_PCI_BAR2_REGION_INDEX
/* The first page of device memory is critical initial data (context). */
#define MLX5C_CTX_PAGE		0

enum mlx5c_cmd_id {
	MLX5C_CMD_QUERY_SIZE,
	MLX5C_CMD_SUSPEND_INITIATOR,
	MLX5C_CMD_SUSPEND_RESPONDER,
	MLX5C_CMD_RESUME_INITIATOR,
	MLX5C_CMD_RESUME_RESPONDER,
	MLX5C_CMD_SAVE_INITIAL,
	MLX5C_CMD_SAVE_MIDDLE,
	MLX5C_CMD_SAVE_FINAL,
	MLX5C_CMD_LOAD,
	MLX5C_CMD_NR,
};

struct mlx5c_cmd_knobs {
	u32 fail_skip;		/* let this many succeed first */
	u32 fail_count;		/* then fail the next fail_count commands */
	u32 fail_errno;		/* ... with this errno (positive) */
	bool fail_submit;	/* a save fails when submitted, not later */
	u64 issued;
	u64 failed;
};

struct mlx5c_vf;
struct mlx5c_save_file;

/*
 * An image on the saving stream.  The firmware takes its pages when the
 * save is prepared; the image is cut into parts (one FW_DATA record each,
 * MLX5C_PART_DATA bytes of pages at most) only as the reader reads it.
 */
struct mlx5c_image_out {
	struct list_head node;
	u16 kind;			/* MLX5C_IMAGE_* */
	bool full;
	bool initial;			/* counts as initial_bytes */
	unsigned long *pages;		/* incremental: pages to save */
	u64 nr_pages;			/* pages in the image */
	u64 seq;			/* image number in the session */
	u64 done;			/* pages already cut into parts */
	unsigned long next;		/* incremental: next page to look at */
	u64 len;			/* stream bytes of the image */
	u64 pos;			/* of which read */
};

/* One firmware save in flight: at most one per saving file. */
struct mlx5c_save_req {
	struct mlx5c_vf *mvdev;
	struct mlx5c_save_file *migf;
	struct mlx5c_image_out *img;	/* the image being prepared */
	int status;
	int inject;			/* errno the command layer injects */
	struct delayed_work work;
};

struct mlx5c_save_file {
	struct file *filp;
	struct mlx5c_vf *mvdev;
	struct mutex lock;		/* everything below */
	wait_queue_head_t poll_wait;
	/* VERSION, STOP_COPY_SIZE */
	u8 start[MLX5C_STREAM_START_SIZE] __aligned(8);
	size_t start_pos;		/* of which read */
	bool start_initial;		/* they count as initial_bytes */
	struct list_head images;	/* images not yet fully read */
	void *part;			/* the record being read: one part */
	size_t part_len;
	size_t part_pos;
	struct mlx5c_save_req req;
	bool in_flight;			/* req is queued or running */
	bool final;			/* the final image was requested */
	bool fallback;			/* a middle save failed: final is full */
	bool disabled;
	int error;			/* sticky, negative errno */
	u32 resets;			/* mvdev->resets at the start */
	u64 initial_remaining;		/* unread initial bytes */
	u64 seq;			/* next image number */
};

struct mlx5c_resume_file {
	struct file *filp;
	struct mlx5c_vf *mvdev;
	struct mutex lock;		/* everything below */
	bool disabled;
	int error;			/* sticky, negative errno */
	u32 resets;			/* mvdev->resets at the start */
	u64 image_bytes;		/* of the image being loaded */
	struct mlx5c_parser parser;
};

/* The emulated firmware's view of the function. */
struct mlx5c_emu {
	void __iomem *mem;		/* BAR2, mapped while open */
	size_t mem_size;
	unsigned long nr_pages;
	unsigned long *dirty;		/* pages written since last image */
	bool tracking;
	bool suspended_initiator;
	bool suspended_responder;
	struct mlx5c_load_state load;	/* the resuming session's images */
	u32 latency_ms;			/* save completion latency */
};

/* Telemetry counters (netlink.c), in MLX5C_GENL_A_STATS_* order. */
enum mlx5c_stat {
	MLX5C_STAT_SAVED_INITIAL,	/* images saved, by kind */
	MLX5C_STAT_SAVED_MIDDLE,
	MLX5C_STAT_SAVED_FINAL,
	MLX5C_STAT_LOADED_INITIAL,	/* images loaded, by kind */
	MLX5C_STAT_LOADED_MIDDLE,
	MLX5C_STAT_LOADED_FINAL,
	MLX5C_STAT_BYTES_SAVED,		/* read from saving files */
	MLX5C_STAT_BYTES_LOADED,	/* accepted by resuming files */
	MLX5C_STAT_PRECOPY_INFO,	/* VFIO_MIG_GET_PRECOPY_INFO calls */
	MLX5C_STAT_REINITS,
	MLX5C_STAT_FALLBACKS,
	MLX5C_STAT_RESETS,
	MLX5C_STAT_FW_FAILURES,
	MLX5C_STAT_NR,
};

struct mlx5c_stats {
	u64 v[MLX5C_STAT_NR];
	u32 last_error;			/* positive errno, 0 if none */
};

struct mlx5c_vf {
	struct vfio_pci_core_device core_device;
	struct mutex state_mutex;	/* migration state and files */
	enum vfio_device_mig_state mig_state;
	spinlock_t reset_lock;		/* the three below */
	bool deferred_reset;
	u32 resets;			/* reported, ever; read lockless */
	unsigned int sync_resets;	/* reset ioctls in the core */
	struct work_struct reset_work;	/* applies a deferred reset */
	bool precopy_v2;		/* PRECOPY_INFOv2 opted in */
	bool dirty_logging;		/* DMA logging started (log_ops) */
	u64 dma_log_starts;		/* log_ops calls that succeeded, */
	u64 dma_log_reports;		/* ever (debugfs, read lockless) */
	struct mlx5c_save_file *saving_migf;
	struct mlx5c_resume_file *resuming_migf;
	struct mlx5c_emu emu;
	spinlock_t knob_lock;		/* cmd knobs */
	struct mlx5c_cmd_knobs cmd[MLX5C_CMD_NR];
	struct dentry *debugfs;
	spinlock_t stats_lock;		/* stats */
	struct mlx5c_stats stats;
	struct list_head genl_node;	/* netlink.c's list of bound functions */
};

static inline struct mlx5c_vf *to_mlx5c(struct vfio_device *vdev)
{
	return container_of(vdev, struct mlx5c_vf, core_device.vdev);
}

/* main.c */
void mlx5c_state_mutex_lock(struct mlx5c_vf *mvdev);
void mlx5c_state_mutex_unlock(struct mlx5c_vf *mvdev);
void mlx5c_settle_reset(struct mlx5c_vf *mvdev);

/* Was the function reset since a session that saw @resets started? */
static inline bool mlx5c_reset_since(struct mlx5c_vf *mvdev, u32 resets)
{
	return READ_ONCE(mvdev->resets) != resets;
}

void *mlx5c_zalloc(size_t size);

/* fsm.c */
extern const struct vfio_migration_ops mlx5c_mig_ops;
void mlx5c_disable_files(struct mlx5c_vf *mvdev);
struct file *mlx5c_data_file(struct mlx5c_vf *mvdev,
			     const struct file_operations *fops, void *priv,
			     int flags);
void mlx5c_data_file_put(struct mlx5c_vf *mvdev);
int mlx5c_feature_precopy_v2(struct mlx5c_vf *mvdev, u32 flags, size_t argsz);

/* save.c */
struct mlx5c_save_file *mlx5c_save_file_create(struct mlx5c_vf *mvdev,
					       bool precopy);
int mlx5c_save_final(struct mlx5c_save_file *migf);
void mlx5c_save_file_disable(struct mlx5c_save_file *migf);
u64 mlx5c_save_pending(struct mlx5c_save_file *migf);

/* resume.c */
struct mlx5c_resume_file *mlx5c_resume_file_create(struct mlx5c_vf *mvdev);
int mlx5c_resume_file_finish(struct mlx5c_resume_file *migf);
void mlx5c_resume_file_disable(struct mlx5c_resume_file *migf);

/* cmd.c: every firmware command goes through these */
int mlx5c_cmd_query_size(struct mlx5c_vf *mvdev, bool full, size_t *size);
int mlx5c_cmd_suspend(struct mlx5c_vf *mvdev, bool initiator);
int mlx5c_cmd_resume(struct mlx5c_vf *mvdev, bool initiator);
int mlx5c_cmd_save_prepare(struct mlx5c_vf *mvdev, struct mlx5c_save_req *req);
void mlx5c_cmd_save_submit(struct mlx5c_save_req *req);
void mlx5c_cmd_save_work(struct work_struct *work);
ssize_t mlx5c_cmd_save_read(struct mlx5c_vf *mvdev, u32 resets,
			    struct mlx5c_image_out *img, void *part);
int mlx5c_cmd_load(struct mlx5c_vf *mvdev, u32 resets, u32 version,
		   const void *image, size_t len);
int mlx5c_cmd_track(struct mlx5c_vf *mvdev, bool on);
const char *mlx5c_cmd_name(enum mlx5c_cmd_id id);

/* devmem.c: the firmware's access to device memory */
struct mlx5c_mem_access {
	pci_power_t state;		/* to return to, if woken from it */
	bool exclusive;
	bool woken;			/* the firmware brought it to D0 */
	bool decode_on;			/* the firmware set the memory bit */
};

/* A copy between device memory and a buffer, in chunks (devmem.c). */
struct mlx5c_copy {
	struct mlx5c_vf *mvdev;
	struct mlx5c_mem_access access;
	u32 resets;			/* the session's mvdev->resets */
	size_t held;			/* bytes copied under this hold */
	bool locked;
};

void mlx5c_copy_init(struct mlx5c_copy *c, struct mlx5c_vf *mvdev,
		     u32 resets);
int mlx5c_copy(struct mlx5c_copy *c, u64 off, void *buf, size_t len,
	       bool to_dev);
void mlx5c_copy_unlock(struct mlx5c_copy *c);

/* dirty.c */
u64 mlx5c_emu_dirty_pages(struct mlx5c_vf *mvdev);
bool mlx5c_emu_ctx_dirty(struct mlx5c_vf *mvdev);
int mlx5c_emu_track(struct mlx5c_vf *mvdev, bool on);
void mlx5c_emu_take_dirty(struct mlx5c_vf *mvdev, unsigned long *pages);
int mlx5c_emu_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma);
ssize_t mlx5c_emu_write(struct vfio_device *core_vdev, const char __user *buf,
			size_t count, loff_t *ppos);

/* emu.c: the firmware's commands */
int mlx5c_emu_init(struct mlx5c_vf *mvdev);
void mlx5c_emu_uninit(struct mlx5c_vf *mvdev);
int mlx5c_emu_open(struct mlx5c_vf *mvdev);
void mlx5c_emu_close(struct mlx5c_vf *mvdev);
void mlx5c_emu_reset(struct mlx5c_vf *mvdev);
void mlx5c_emu_load_begin(struct mlx5c_vf *mvdev);
size_t mlx5c_emu_image_size(struct mlx5c_vf *mvdev, bool full, u64 nr_pages);
size_t mlx5c_emu_max_image(struct mlx5c_vf *mvdev);
int mlx5c_emu_suspend(struct mlx5c_vf *mvdev, bool initiator);
int mlx5c_emu_resume(struct mlx5c_vf *mvdev, bool initiator);
int mlx5c_emu_save_prepare(struct mlx5c_vf *mvdev,
			   struct mlx5c_image_out *img);
ssize_t mlx5c_emu_save_part(struct mlx5c_vf *mvdev, u32 resets,
			    struct mlx5c_image_out *img, void *part);
int mlx5c_emu_load(struct mlx5c_vf *mvdev, u32 resets, u32 version,
		   const void *image, size_t len);

/* save.c: completion of a firmware save, called from the command layer */
void mlx5c_save_done(struct mlx5c_save_req *req);

/* debugfs.c */
void mlx5c_debugfs_init(void);
void mlx5c_debugfs_exit(void);
void mlx5c_debugfs_add(struct mlx5c_vf *mvdev);
void mlx5c_debugfs_remove(struct mlx5c_vf *mvdev);

/* netlink.c */
int mlx5c_genl_init(void);
void mlx5c_genl_exit(void);
void mlx5c_genl_add(struct mlx5c_vf *mvdev);
void mlx5c_genl_remove(struct mlx5c_vf *mvdev);
void mlx5c_stat_add(struct mlx5c_vf *mvdev, enum mlx5c_stat stat, u64 n);
void mlx5c_notify_state(struct mlx5c_vf *mvdev, u32 old, u32 new, u32 cause,
			gfp_t gfp);
void mlx5c_notify_image(struct mlx5c_vf *mvdev, bool saved, u16 kind,
			u64 seq, u64 bytes);
void mlx5c_notify_error(struct mlx5c_vf *mvdev, u32 source, int err);
void mlx5c_notify_state_error(struct mlx5c_vf *mvdev, int err, u32 state,
			      u32 target);

extern unsigned int mlx5c_default_latency_ms;

#endif /* MLX5C_H */
