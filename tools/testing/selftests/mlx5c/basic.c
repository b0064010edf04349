// SPDX-License-Identifier: GPL-2.0
/*
 * The function as a plain vfio-pci device through mlx5c-vfio-pci: bind
 * through driver_override, open through the group/container interface,
 * config space, region info, BAR2 through mmap and read/write, reset and
 * unbind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "harness.h"
#include "mlx5c_util.h"

FIXTURE(dev) {
	char bdf[MLX5C_MAX_FUNCS][BDF_LEN];
	int nr;
	struct vdev d;
};

FIXTURE_SETUP(dev)
{
	const char *why;

	self->nr = mlx5c_functions(self->bdf, 1, &why);
	if (self->nr < 0)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, vdev_open(&self->d, self->bdf[0]));
}

FIXTURE_TEARDOWN(dev)
{
	vdev_close(&self->d);
}

TEST_F(dev, bound_through_override)
{
	char drv[64], path[PATH_MAX], val[64];

	ASSERT_EQ(0, bound_driver(self->bdf[0], drv, sizeof(drv)));
	ASSERT_STREQ(MLX5C_DRIVER, drv);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 self->bdf[0]);
	ASSERT_EQ(0, sysfs_read(path, val, sizeof(val)));
	ASSERT_STREQ(MLX5C_DRIVER, val);
}

TEST_F(dev, device_info)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, ioctl(self->d.fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	/* Behind a root port the bus reset is available. */
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_RESET);
	ASSERT_GE(info.num_regions, VFIO_PCI_CONFIG_REGION_INDEX + 1);
}

TEST_F(dev, config_space_ids)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	uint16_t ids[2];

	ASSERT_EQ(0, ioctl(self->d.fd, VFIO_DEVICE_GET_REGION_INFO, &info));
	ASSERT_EQ(sizeof(ids), pread(self->d.fd, ids, sizeof(ids), info.offset));
	ASSERT_EQ(0x1af4, ids[0]);
	ASSERT_EQ(0x1110, ids[1]);
}

TEST_F(dev, bar2_region_info)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_BAR2_REGION_INDEX,
	};
	unsigned long long start, end, flags;
	char path[PATH_MAX];
	FILE *f;

	ASSERT_EQ(0, ioctl(self->d.fd, VFIO_DEVICE_GET_REGION_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
	ASSERT_TRUE(info.flags & VFIO_REGION_INFO_FLAG_READ);
	ASSERT_TRUE(info.flags & VFIO_REGION_INFO_FLAG_WRITE);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource",
		 self->bdf[0]);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	for (int i = 0; i <= 2; i++)
		ASSERT_EQ(3, fscanf(f, "%llx %llx %llx", &start, &end, &flags));
	fclose(f);
	ASSERT_EQ(end - start + 1, info.size);
}

TEST_F(dev, bar2_mmap_and_rw_agree)
{
	uint8_t buf[4096], back[4096];
	size_t off;

	ASSERT_EQ(0, vdev_map_bar2(&self->d));
	off = self->d.bar2_size - sizeof(buf);

	fill_pattern(self->d.bar2, sizeof(buf), 1);
	ASSERT_EQ(sizeof(back),
		  pread(self->d.fd, back, sizeof(back), self->d.bar2_offset));
	ASSERT_EQ(0, memcmp(self->d.bar2, back, sizeof(back)));

	fill_pattern(buf, sizeof(buf), 2);
	ASSERT_EQ(sizeof(buf), pwrite(self->d.fd, buf, sizeof(buf),
				      self->d.bar2_offset + off));
	ASSERT_EQ(0, memcmp(self->d.bar2 + off, buf, sizeof(buf)));
}

TEST_F(dev, reset_keeps_bar2)
{
	uint8_t buf[4096];

	ASSERT_EQ(0, vdev_map_bar2(&self->d));
	fill_pattern(self->d.bar2, sizeof(buf), 3);
	memcpy(buf, self->d.bar2, sizeof(buf));
	ASSERT_EQ(0, ioctl(self->d.fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, memcmp(self->d.bar2, buf, sizeof(buf)));
}

TEST_F(dev, unbind_and_rebind)
{
	char drv[64];

	vdev_close(&self->d);
	ASSERT_EQ(0, unbind_dev(self->bdf[0]));
	ASSERT_EQ(-ENOENT, bound_driver(self->bdf[0], drv, sizeof(drv)));
	ASSERT_EQ(0, bind_mlx5c(self->bdf[0]));
	ASSERT_EQ(0, vdev_open(&self->d, self->bdf[0]));
}

TEST_F(dev, second_open_of_group_refused)
{
	struct vdev other;

	/* The group is held by the fixture: a second open is refused. */
	ASSERT_EQ(-EBUSY, vdev_try_open(&other, self->bdf[0]));
}

TEST_HARNESS_MAIN
