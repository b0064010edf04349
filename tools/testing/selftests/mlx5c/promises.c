// SPDX-License-Identifier: GPL-2.0
/*
 * What Documentation/mlx5c-vfio-pci.rst promises and no other test holds
 * it to: a truncated stream leaves the destination in RESUMING, and the
 * rest of it written then ends the migration; debugfs dirty_pages counts
 * the pages written since the last image (through the mmap and through
 * the region's write()); the module parameter latency_ms (default 1) is
 * the save latency of newly bound functions.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "harness.h"
#include "mig_common.h"

#define PAGE 4096
#define LATENCY_PARAM "/sys/module/mlx5c_vfio_pci/parameters/latency_ms"

FIXTURE(prom) {
	struct pair p;
};

FIXTURE_SETUP(prom)
{
	int ret = pair_open(&self->p);

	if (self->p.why)
		SKIP(return, "%s", self->p.why);
	ASSERT_EQ(0, ret);
	fill_pattern(self->p.src.bar2, self->p.src.bar2_size, getpid());
	memset(self->p.dst.bar2, 0x5a, self->p.dst.bar2_size);
}

FIXTURE_TEARDOWN(prom)
{
	pair_close(&self->p);
}

/*
 * A stream cut in the middle of its image: STOP fails with EINVAL and
 * the destination stays in RESUMING; the parts before the cut are
 * applied, the part the cut falls in is not; the rest written on the same
 * data fd, STOP succeeds and the destination holds the source's bytes.
 */
TEST_F(prom, truncated_stream_then_the_rest)
{
	struct stream s = { 0 };
	size_t cut, part, at;
	uint8_t *expect;
	uint32_t got;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(STOP_COPY), &fd));
	ASSERT_EQ(0, stream_read(&s, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	ASSERT_GT(s.len, self->p.src.bar2_size);
	cut = s.len / 2 + 3;

	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RESUMING), &fd));
	ASSERT_EQ(0, stream_write(fd, s.data, cut, 0));
	EXPECT_EQ(-EINVAL, mig_set_state(&self->p.dst, ST(STOP), NULL));
	ASSERT_EQ(0, mig_get_state(&self->p.dst, &got));
	ASSERT_EQ(ST(RESUMING), got);
	/* Each whole part before the cut was applied, the cut one not. */
	part = (cut - START_SIZE) / (PART_OVERHEAD + PART_DATA);
	ASSERT_LT(0, part);
	at = part * PART_DATA;
	EXPECT_EQ(0, memcmp(self->p.src.bar2, self->p.dst.bar2, at));
	expect = malloc(PART_DATA);
	ASSERT_NE(NULL, expect);
	memset(expect, 0x5a, PART_DATA);
	EXPECT_EQ(0, memcmp(expect, self->p.dst.bar2 + at, PART_DATA));
	free(expect);

	ASSERT_EQ(0, stream_write(fd, s.data + cut, s.len - cut, 0));
	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(STOP), NULL));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&self->p.dst, ST(RUNNING), NULL));
	EXPECT_EQ(0, memcmp(self->p.src.bar2, self->p.dst.bar2,
			    self->p.src.bar2_size));
	stream_free(&s);
}

/*
 * dirty_pages in PRE_COPY: 0 once the initial image is read, then one per
 * distinct page written, through the mmap and through pwrite() on the
 * region, a page written twice counted once; 0 again once the next image
 * (of exactly those pages) has been read.
 */
TEST_F(prom, debugfs_dirty_pages)
{
	const char *bdf = self->p.bdf[0];
	struct mlx5c_image_header *last;
	struct vfio_precopy_info info;
	struct stream s = { 0 };
	uint8_t buf[2 * PAGE];
	size_t before;
	int fd;

	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(PRE_COPY), &fd));
	ASSERT_LT(0, stream_drain(&s, fd));
	ASSERT_EQ(0, knob_read(bdf, "dirty_pages"));

	for (int i = 0; i < 5; i++)
		self->p.src.bar2[(10 + i) * PAGE + 5] ^= 0xff;
	EXPECT_EQ(5, knob_read(bdf, "dirty_pages"));
	/* The same page again: still 5. */
	self->p.src.bar2[12 * PAGE + 100] ^= 0xff;
	EXPECT_EQ(5, knob_read(bdf, "dirty_pages"));
	/* Two pages through the region's write(), the second one partly. */
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(PAGE + 8, pwrite(self->p.src.fd, buf, PAGE + 8,
				   self->p.src.bar2_offset + 40 * PAGE));
	EXPECT_EQ(7, knob_read(bdf, "dirty_pages"));

	/* The next image (started by precopy info) takes them, all 7. */
	ASSERT_EQ(0, precopy_info(fd, &info));
	ASSERT_LT(0, info.dirty_bytes);
	before = s.len;
	ASSERT_EQ(info.dirty_bytes, stream_drain(&s, fd));
	EXPECT_EQ(0, knob_read(bdf, "dirty_pages"));
	ASSERT_EQ(2, stream_images(&s, &last));
	EXPECT_EQ(7, last->nr_pages);
	EXPECT_EQ(MLX5C_IMAGE_MIDDLE, last->kind);
	EXPECT_LT(before, s.len);
	ASSERT_EQ(0, mig_set_state(&self->p.src, ST(RUNNING), NULL));
	close(fd);
	stream_free(&s);
}

static long long param_read(void)
{
	char buf[32];

	if (sysfs_read(LATENCY_PARAM, buf, sizeof(buf)) < 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

/* Unbind and bind @bdf again: a newly bound function. */
static int rebind(const char *bdf)
{
	return unbind_dev(bdf) ?: bind_mlx5c(bdf);
}

/*
 * latency_ms: the module parameter is 1 when the module is loaded without
 * options, and a function bound later starts with the parameter's value
 * at its binding (7 here); the functions already bound keep theirs.
 */
TEST_F(prom, latency_ms_default)
{
	const char *bdf = self->p.bdf[0];
	int ret;

	ASSERT_EQ(1, param_read());
	ASSERT_EQ(1, knob_read(bdf, "latency_ms"));
	vdev_close(&self->p.src);

	ASSERT_EQ(0, sysfs_write(LATENCY_PARAM, "7"));
	ret = rebind(bdf);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(7, knob_read(bdf, "latency_ms"));
	/* Not a function bound before the change. */
	EXPECT_EQ(1, knob_read(self->p.bdf[1], "latency_ms"));

	ASSERT_EQ(0, sysfs_write(LATENCY_PARAM, "1"));
	ASSERT_EQ(0, rebind(bdf));
	EXPECT_EQ(1, knob_read(bdf, "latency_ms"));
	ASSERT_EQ(0, vdev_open(&self->p.src, bdf));
	ASSERT_EQ(0, vdev_map_bar2(&self->p.src));
}

TEST_HARNESS_MAIN
