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

#include "harness.h"
#include "mig_common.h"

FIXTURE(io) {
	struct pair p;
};

FIXTURE_SETUP(io)
{
	int ret = pair_open(&self->p);

	if (ret == -ENODEV && self->p.nr < 2)
		SKIP(return, "needs two ivshmem-plain functions");
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
	 * the size record.
	 */
	ASSERT_EQ(sizeof(buf), read(fd, buf, sizeof(buf)));
	ASSERT_EQ(MLX5C_MIG_TAG_STOP_COPY_SIZE,
		  ((struct mlx5c_mig_header *)buf)->tag);
	close(fd);
	munmap(bad, 4096);
}

TEST_HARNESS_MAIN
