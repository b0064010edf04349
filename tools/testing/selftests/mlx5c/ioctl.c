// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl robustness: wrong argsz, unknown flags and feature ids, precopy
 * info on the wrong fd or in the wrong state, huge and bad values, each
 * with its errno.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "harness.h"
#include "mig_common.h"

FIXTURE(io) {
	struct pair p;
};

/* Every test through each way of opening a device, as a VMM may. */
FIXTURE_VARIANT(io) {
	enum vdev_mode mode;
};

FIXTURE_VARIANT_ADD(io, group) {
	.mode = VDEV_GROUP,
};

FIXTURE_VARIANT_ADD(io, cdev) {
	.mode = VDEV_CDEV,
};

FIXTURE_SETUP(io)
{
	int ret;

	/* the cdev variant is skipped, with the reason, without the cdev */
	ret = pair_open_mode(&self->p, variant->mode);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(io)
{
	pair_close(&self->p);
}

/* VFIO_DEVICE_FEATURE with the given header and payload size. */
static int feat(int fd, uint32_t argsz, uint32_t flags, uint32_t payload)
{
	uint8_t buf[sizeof(struct vfio_device_feature) + 64] = { 0 };
	struct vfio_device_feature *f = (void *)buf;

	f->argsz = argsz;
	f->flags = flags;
	memcpy(f->data, &payload, sizeof(payload));
	return ioctl(fd, VFIO_DEVICE_FEATURE, f) ? -errno : 0;
}

#define GET VFIO_DEVICE_FEATURE_GET
#define SET VFIO_DEVICE_FEATURE_SET
#define PROBE VFIO_DEVICE_FEATURE_PROBE
#define HDR sizeof(struct vfio_device_feature)

TEST_F(io, feature_header)
{
	int fd = self->p.src.fd;

	/* argsz shorter than the header */
	ASSERT_EQ(-EINVAL, feat(fd, 4, GET | VFIO_DEVICE_FEATURE_MIGRATION, 0));
	/* unknown flag bits */
	ASSERT_EQ(-EINVAL, feat(fd, HDR + 8, GET | VFIO_DEVICE_FEATURE_MIGRATION |
				(1u << 20), 0));
	/* unknown feature ids */
	ASSERT_EQ(-ENOTTY, feat(fd, HDR + 8, GET | 0xfff, 0));
	ASSERT_EQ(-ENOTTY, feat(fd, HDR + 8, SET | 13, 0));
	/* MIGRATION is GET only; its payload must fit */
	ASSERT_EQ(-EINVAL, feat(fd, HDR + 8, SET | VFIO_DEVICE_FEATURE_MIGRATION, 0));
	ASSERT_EQ(-EINVAL, feat(fd, HDR + 4, GET | VFIO_DEVICE_FEATURE_MIGRATION, 0));
	ASSERT_EQ(0, feat(fd, HDR, PROBE | GET | VFIO_DEVICE_FEATURE_MIGRATION, 0));
	/* MIG_DATA_SIZE is GET only */
	ASSERT_EQ(-EINVAL, feat(fd, HDR + 8, SET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, 0));
}

TEST_F(io, device_state_values)
{
	struct vdev *d = &self->p.src;
	uint32_t got;

	ASSERT_EQ(-EINVAL, mig_set_state(d, 8, NULL));
	ASSERT_EQ(-EINVAL, mig_set_state(d, 0xffffffff, NULL));
	ASSERT_EQ(-EINVAL, mig_set_state(d, ST(ERROR), NULL));
	/* A short payload */
	ASSERT_EQ(-EINVAL, feat(d->fd, HDR + 4,
				SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				ST(STOP)));
	ASSERT_EQ(0, mig_get_state(d, &got));
	ASSERT_EQ(ST(RUNNING), got);
}

TEST_F(io, precopy_v2_feature)
{
	int fd = self->p.src.fd;

	ASSERT_EQ(0, feat(fd, HDR, PROBE | SET |
			  VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, 0));
	ASSERT_EQ(-EINVAL, feat(fd, HDR, PROBE | GET |
				VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, 0));
	ASSERT_EQ(-EINVAL, feat(fd, HDR, GET |
				VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, 0));
	ASSERT_EQ(0, feat(fd, HDR, SET | VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, 0));
}

static int kconfig_has(const char *sym);

/*
 * The probe of the three DMA logging features: refused by the core where
 * the driver has no log_ops (a kernel without CONFIG_IOMMUFD_DRIVER, such
 * as Debian's), offered where it has them (dma_logging tests their use).
 */
TEST_F(io, dma_logging_refused)
{
	static const uint32_t features[] = {
		VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
		VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
		VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
	};
	int has = kconfig_has("CONFIG_IOMMUFD_DRIVER");
	int set, get;

	if (has < 0)
		SKIP(return, "no kernel config to tell (set MLX5C_KCONFIG)");
	for (int i = 0; i < 3; i++) {
		set = features[i] == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT ?
		      -EINVAL : 0;
		get = features[i] == VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT ?
		      0 : -EINVAL;
		ASSERT_EQ(has ? set : -ENOTTY,
			  feat(self->p.src.fd, HDR, PROBE | SET | features[i], 0));
		ASSERT_EQ(has ? get : -ENOTTY,
			  feat(self->p.src.fd, HDR, PROBE | GET | features[i], 0));
	}
}

TEST_F(io, precopy_info_fds_and_sizes)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	int sfd, rfd;
	char c = 0;

	/* Not a data fd: the device fd does not know the ioctl. */
	ASSERT_EQ(-1, ioctl(self->p.src.fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(ENOTTY, errno);

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &sfd));
	/* argsz: short is refused, huge is fine (only the known part) */
	info.argsz = offsetof(struct vfio_precopy_info, dirty_bytes);
	ASSERT_EQ(-1, ioctl(sfd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(EINVAL, errno);
	info.argsz = 0xffffffff;
	ASSERT_EQ(0, ioctl(sfd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_GT(info.initial_bytes, 0);
	ASSERT_EQ(-1, ioctl(sfd, VFIO_MIG_GET_PRECOPY_INFO, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, ioctl(sfd, _IO(VFIO_TYPE, VFIO_BASE + 22), &info));
	ASSERT_EQ(ENOTTY, errno);
	/* The saving fd is read-only, the resuming fd write-only. */
	ASSERT_EQ(-1, write(sfd, &c, 1));
	ASSERT_EQ(EBADF, errno);

	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &rfd));
	ASSERT_EQ(-1, ioctl(rfd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, read(rfd, &c, 1));
	ASSERT_EQ(EBADF, errno);
	ASSERT_EQ(-1, pwrite(rfd, &c, 1, 0));
	ASSERT_EQ(ESPIPE, errno);
	close(rfd);

	/* The right fd in the wrong state. */
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), NULL));
	info.argsz = sizeof(info);
	ASSERT_EQ(-1, ioctl(sfd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(EINVAL, errno);
	/* An ended session's fd, with the device back in PRE_COPY. */
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &rfd));
	ASSERT_EQ(-1, ioctl(sfd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(0, ioctl(rfd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	close(rfd);
	close(sfd);
}

TEST_F(io, read_into_bad_buffer)
{
	char buf[16];
	void *bad;
	int fd;

	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_EQ(-1, read(fd, bad, 4096));
	ASSERT_EQ(EFAULT, errno);
	/* Nothing was consumed by the fault: the stream still starts with
	 * the version record.
	 */
	ASSERT_EQ(sizeof(buf), read(fd, buf, sizeof(buf)));
	ASSERT_EQ(MLX5C_MIG_TAG_VERSION,
		  ((struct mlx5c_mig_header *)buf)->tag);
	close(fd);
	munmap(bad, 4096);
}

/*
 * Device dirty tracking.  vfio offers DMA_LOGGING_* only for a driver with
 * log_ops, which mlx5c-vfio-pci has only on kernels with
 * CONFIG_IOMMUFD_DRIVER; elsewhere (Debian's 6.12) every one is ENOTTY.
 * The function does no DMA, so a report never sets a bit.  Which kernel
 * this is comes from its config: $MLX5C_KCONFIG, else
 * /boot/config-$(uname -r).
 */
static int kconfig_has(const char *sym)
{
	const char *path = getenv("MLX5C_KCONFIG");
	char buf[256], def[256];
	struct utsname u;
	size_t n = strlen(sym);
	int found = 0;
	FILE *f;

	if (!path || !*path) {
		if (uname(&u))
			return -1;
		snprintf(def, sizeof(def), "/boot/config-%s", u.release);
		path = def;
	}
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, sym, n) && (!strcmp(buf + n, "=y\n") ||
					      !strcmp(buf + n, "=m\n")))
			found = 1;
	fclose(f);
	return found;
}

/* VFIO_DEVICE_FEATURE with len bytes of data, copied back after. */
static int feat_data(int fd, uint32_t flags, void *data, size_t len)
{
	uint8_t buf[sizeof(struct vfio_device_feature) + 64] = { 0 };
	struct vfio_device_feature *f = (void *)buf;
	int ret;

	f->argsz = HDR + len;
	f->flags = flags;
	if (len)
		memcpy(f->data, data, len);
	ret = ioctl(fd, VFIO_DEVICE_FEATURE, f) ? -errno : 0;
	if (len)
		memcpy(data, f->data, len);
	return ret;
}

#define LOG_START VFIO_DEVICE_FEATURE_DMA_LOGGING_START
#define LOG_STOP VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP
#define LOG_REPORT VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT
#define LOG_SPAN (1u << 20)		/* 256 pages of 4 KiB */

static int log_report(int fd, uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report r = {
		.iova = 0, .length = LOG_SPAN, .page_size = 4096,
		.bitmap = (uintptr_t)bitmap,
	};

	return feat_data(fd, GET | LOG_REPORT, &r, sizeof(r));
}

TEST_F(io, dma_logging)
{
	struct vfio_device_feature_dma_logging_range range = {
		.iova = 0, .length = LOG_SPAN,
	};
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = 4096, .num_ranges = 1, .ranges = (uintptr_t)&range,
	};
	uint64_t bitmap[LOG_SPAN / 4096 / 64], zero[LOG_SPAN / 4096 / 64] = { 0 };
	int has = kconfig_has("CONFIG_IOMMUFD_DRIVER");
	const char *bdf = self->p.bdf[0];
	long long starts, reports;
	int fd = self->p.src.fd;

	if (has < 0)
		SKIP(return, "no kernel config to tell (set MLX5C_KCONFIG)");
	TH_LOG("CONFIG_IOMMUFD_DRIVER %s", has ? "set" : "not set");
	memset(bitmap, 0, sizeof(bitmap));
	/* debugfs counts the starts and reports served: a VMM's use shows. */
	starts = knob_read(bdf, "dma_log_starts");
	reports = knob_read(bdf, "dma_log_reports");
	ASSERT_LE(0, starts);
	ASSERT_LE(0, reports);
	if (!has) {
		/* Refused, as on any driver without log_ops. */
		ASSERT_EQ(-ENOTTY, feat_data(fd, PROBE | SET | LOG_START, NULL, 0));
		ASSERT_EQ(-ENOTTY, feat_data(fd, SET | LOG_START, &ctl, sizeof(ctl)));
		ASSERT_EQ(-ENOTTY, log_report(fd, bitmap));
		ASSERT_EQ(-ENOTTY, feat_data(fd, SET | LOG_STOP, NULL, 0));
		ASSERT_EQ(0, starts);
		ASSERT_EQ(0, knob_read(bdf, "dma_log_starts"));
		ASSERT_EQ(0, knob_read(bdf, "dma_log_reports"));
		return;
	}
	ASSERT_EQ(0, feat_data(fd, PROBE | SET | LOG_START, NULL, 0));
	ASSERT_EQ(0, feat_data(fd, PROBE | GET | LOG_REPORT, NULL, 0));
	ASSERT_EQ(0, feat_data(fd, PROBE | SET | LOG_STOP, NULL, 0));
	/* No report before a start; a stop without one is harmless. */
	ASSERT_EQ(-EINVAL, log_report(fd, bitmap));
	ASSERT_EQ(0, feat_data(fd, SET | LOG_STOP, NULL, 0));

	ASSERT_EQ(0, feat_data(fd, SET | LOG_START, &ctl, sizeof(ctl)));
	ASSERT_EQ(4096, ctl.page_size);
	/* One start until a stop. */
	ASSERT_EQ(-EBUSY, feat_data(fd, SET | LOG_START, &ctl, sizeof(ctl)));
	/* The CPU writes BAR2; the function itself never writes memory. */
	memset(self->p.src.bar2, 0x5a, 1 << 16);
	ASSERT_EQ(0, log_report(fd, bitmap));
	ASSERT_EQ(0, memcmp(bitmap, zero, sizeof(zero)));
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING_P2P), NULL));
	ASSERT_EQ(0, log_report(fd, bitmap));
	ASSERT_EQ(0, memcmp(bitmap, zero, sizeof(zero)));
	ASSERT_EQ(0, feat_data(fd, SET | LOG_STOP, NULL, 0));
	ASSERT_EQ(-EINVAL, log_report(fd, bitmap));

	/* Closing the device ends the tracking. */
	ASSERT_EQ(0, feat_data(fd, SET | LOG_START, &ctl, sizeof(ctl)));
	vdev_close(&self->p.src);
	ASSERT_EQ(0, vdev_open_mode(&self->p.src, self->p.bdf[0], variant->mode));
	ASSERT_EQ(-EINVAL, log_report(self->p.src.fd, bitmap));
	ASSERT_EQ(0, feat_data(self->p.src.fd, SET | LOG_START, &ctl, sizeof(ctl)));
	ASSERT_EQ(0, feat_data(self->p.src.fd, SET | LOG_STOP, NULL, 0));
	/* Three starts and two reports succeeded; refusals are not counted. */
	ASSERT_EQ(starts + 3, knob_read(bdf, "dma_log_starts"));
	ASSERT_EQ(reports + 2, knob_read(bdf, "dma_log_reports"));
}

TEST_HARNESS_MAIN
