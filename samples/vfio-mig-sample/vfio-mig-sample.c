// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mig-sample: the smallest complete VFIO live migration of one device
 * with PRE_COPY, through the raw uAPI, for VMM developers.
 *
 *   vfio-mig-sample SRC DST      (PCI addresses, e.g. 0000:01:00.0)
 *
 * Both devices must be bound to a VFIO driver with migration support (here
 * mlx5c-vfio-pci) and must not be open elsewhere.  A real VMM runs the two
 * halves on two hosts and puts a network between "read from the source"
 * and "write to the destination"; here both ends live in one process and
 * the bytes go straight from one data fd into the other, so that every
 * line left is about the VFIO uAPI.  See Documentation/vfio-mig.rst and
 * tools/vfio-mig/ for the full tool (sockets, policy, faults).
 *
 * The sequence:
 *   source:       RUNNING -> PRE_COPY          (returns the saving fd)
 *                 rounds: read until ENOMSG, VFIO_MIG_GET_PRECOPY_INFO
 *                 PRE_COPY -> STOP_COPY         (the guest stops here)
 *                 read until end of stream (read() == 0)
 *                 STOP_COPY -> STOP
 *   destination:  RUNNING -> RESUMING          (returns the resuming fd)
 *                 write everything the source produced, in order
 *                 RESUMING -> STOP -> RUNNING   (the guest runs here)
 *
 * Exit status 0 on success; on failure the source is put back to RUNNING
 * (the guest keeps running where it was) and the destination is reset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>
/* Definitions newer than 6.12's header (PRECOPY_INFOv2), upstream values. */
#include "linux/vfio_mig_compat.h"

#define BUF_SIZE	(1 << 20)	/* read in 1 MiB pieces, as QEMU does */
#define MAX_ROUNDS	8		/* precopy rounds before we give up waiting */
#define SMALL_ENOUGH	(4 << 20)	/* dirty bytes we accept to move while stopped */

struct dev {
	const char *bdf;
	int container, group, fd;
};

static char buf[BUF_SIZE];

static int fail(const char *what)
{
	fprintf(stderr, "vfio-mig-sample: %s: %s\n", what, strerror(errno));
	return -1;
}

/*
 * Open a PCI device the VFIO group/container way (Debian's 6.12 has no
 * iommufd): the device's IOMMU group is /dev/vfio/N, where N is the name
 * of the sysfs iommu_group link.  The group goes into a container, the
 * container gets an IOMMU model, then the group hands out the device fd.
 * A VMM would also map guest memory into the container (VFIO_IOMMU_MAP_DMA);
 * migration itself does not need that.
 */
static int dev_open(struct dev *d, const char *bdf)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char link[PATH_MAX], path[PATH_MAX], *group;
	ssize_t n;

	d->bdf = bdf;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return fail(path);
	link[n] = '\0';
	group = strrchr(link, '/') + 1;
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);

	d->container = open("/dev/vfio/vfio", O_RDWR);
	d->group = open(path, O_RDWR);
	if (d->container < 0 || d->group < 0)
		return fail("open /dev/vfio");
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &status))
		return fail("VFIO_GROUP_GET_STATUS");
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EBUSY;	/* another device of the group is not bound to VFIO */
		return fail(bdf);
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		return fail("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return fail("VFIO_SET_IOMMU");
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (d->fd < 0)
		return fail("VFIO_GROUP_GET_DEVICE_FD");
	return 0;
}

/*
 * Every migration control is a VFIO_DEVICE_FEATURE ioctl on the device fd:
 * a struct vfio_device_feature header (argsz, flags = GET or SET | feature
 * number) immediately followed by the feature's payload.
 */
static int feature(struct dev *d, uint32_t flags, void *data, size_t size)
{
	uint64_t b[(sizeof(struct vfio_device_feature) + 64) / 8] = { 0 };
	struct vfio_device_feature *f = (void *)b;

	f->argsz = sizeof(*f) + size;
	f->flags = flags;
	if (size)
		memcpy(f->data, data, size);
	if (ioctl(d->fd, VFIO_DEVICE_FEATURE, f))
		return -1;
	if (size)
		memcpy(data, f->data, size);
	return 0;
}

/*
 * Change the migration state.  The kernel walks multi-step arcs itself
 * (RUNNING -> RESUMING goes through STOP, and through RUNNING_P2P when the
 * device has P2P).  Some arcs return a data fd: RUNNING -> PRE_COPY and
 * STOP -> STOP_COPY the saving fd, STOP -> RESUMING the resuming fd.  On
 * failure the struct does not say where the device stopped: GET it.
 */
static int set_state(struct dev *d, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state s = {
		.device_state = state, .data_fd = -1,
	};

	if (feature(d, VFIO_DEVICE_FEATURE_SET |
		    VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s))) {
		fprintf(stderr, "vfio-mig-sample: %s: state %u: %s\n", d->bdf,
			state, strerror(errno));
		return -1;
	}
	if (data_fd)
		*data_fd = s.data_fd;
	return 0;
}

/* Write all of buf, looping on short writes (the stream may be split anywhere). */
static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail("write to the resuming fd");
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Move what the saving fd has now to the resuming fd.  In PRE_COPY, read()
 * fails with ENOMSG once everything produced so far has been read (a
 * temporary end: more may come).  In STOP_COPY, read() returns 0 at the
 * end of the stream; ENOMSG is not allowed there.  Returns bytes moved.
 */
static long long pump(int from, int to, int precopy)
{
	long long total = 0;

	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && precopy && errno == ENOMSG)
			return total;
		if (n < 0)
			return fail("read from the saving fd");
		if (n == 0) {
			if (!precopy)
				return total;
			errno = EPIPE;	/* end of stream in PRE_COPY: broken driver */
			return fail("saving fd ended in PRE_COPY");
		}
		if (write_all(to, buf, n))
			return -1;
		total += n;
	}
}

int main(int argc, char **argv)
{
	struct vfio_device_feature_migration mig = { 0 };
	struct vfio_precopy_info info;
	struct dev src = { 0 }, dst = { 0 };
	long long pre = 0, stop, n;
	int save_fd = -1, resume_fd = -1, v2, round;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SRC_BDF DST_BDF\n", argv[0]);
		return 2;
	}
	if (dev_open(&src, argv[1]) || dev_open(&dst, argv[2]))
		return 1;

	/* 1. What can the source do?  STOP_COPY is mandatory, PRE_COPY optional. */
	if (feature(&src, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
		    &mig, sizeof(mig)))
		return fail("VFIO_DEVICE_FEATURE_MIGRATION (no migration support?)");
	if (!(mig.flags & VFIO_MIGRATION_PRE_COPY)) {
		fprintf(stderr, "vfio-mig-sample: %s has no PRE_COPY\n", src.bdf);
		return 1;
	}

	/*
	 * 2. Opt into PRECOPY_INFOv2 (SET, no payload).  Only then is
	 * vfio_precopy_info.flags an output we may believe (old drivers echo
	 * back what we pass).  Refused (ENOTTY/EINVAL) on older drivers: fine.
	 */
	v2 = !feature(&src, VFIO_DEVICE_FEATURE_SET |
		      VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);

	/* 3. The destination waits in RESUMING before any data is produced. */
	if (set_state(&dst, VFIO_DEVICE_STATE_RESUMING, &resume_fd))
		goto fail;

	/* 4. The source keeps running while it streams its state: PRE_COPY. */
	if (set_state(&src, VFIO_DEVICE_STATE_PRE_COPY, &save_fd))
		goto fail;

	/*
	 * 5. Precopy rounds: drain, then ask how much is left.  initial_bytes
	 * must reach 0 before switching over (that data is needed to start
	 * loading early); dirty_bytes is what the running guest dirtied, and
	 * should be small enough to move while stopped.  With v2, REINIT
	 * means new initial data appeared: keep going.  A real VMM compares
	 * the rest with bandwidth x downtime limit instead of a constant.
	 */
	for (round = 1;; round++) {
		n = pump(save_fd, resume_fd, 1);
		if (n < 0)
			goto fail;
		pre += n;
		memset(&info, 0, sizeof(info));
		info.argsz = sizeof(info);
		if (ioctl(save_fd, VFIO_MIG_GET_PRECOPY_INFO, &info)) {
			fail("VFIO_MIG_GET_PRECOPY_INFO");
			goto fail;
		}
		printf("round %d: %lld bytes, initial_bytes %llu dirty_bytes %llu%s\n",
		       round, n, (unsigned long long)info.initial_bytes,
		       (unsigned long long)info.dirty_bytes,
		       v2 && (info.flags & VFIO_PRECOPY_INFO_REINIT) ? " REINIT" : "");
		if (v2 && (info.flags & VFIO_PRECOPY_INFO_REINIT))
			continue;
		if ((!info.initial_bytes && info.dirty_bytes <= SMALL_ENOUGH) ||
		    round >= MAX_ROUNDS)
			break;
	}

	/*
	 * 6. Switchover: the VMM stops its vCPUs, then the device.  The same
	 * saving fd carries on with the final data; read it to the end.
	 */
	if (set_state(&src, VFIO_DEVICE_STATE_STOP_COPY, NULL))
		goto fail;
	stop = pump(save_fd, resume_fd, 0);
	if (stop < 0)
		goto fail;

	/*
	 * 7. RESUMING -> STOP tells the destination the stream is complete (a
	 * driver may refuse an incomplete one); then it may run.  Leaving
	 * RESUMING ends the session: the resuming fd is useless from then on.
	 */
	if (set_state(&dst, VFIO_DEVICE_STATE_STOP, NULL) ||
	    set_state(&dst, VFIO_DEVICE_STATE_RUNNING, NULL))
		goto fail;
	close(resume_fd);
	resume_fd = -1;

	/* 8. The source is no longer needed: STOP (a VMM then exits). */
	close(save_fd);
	set_state(&src, VFIO_DEVICE_STATE_STOP, NULL);
	printf("migrated %s -> %s: %lld bytes precopy, %lld bytes stop-copy,"
	       " %d rounds, PRECOPY_INFOv2 %s\n", src.bdf, dst.bdf, pre, stop,
	       round, v2 ? "on" : "off");
	return 0;

fail:
	/*
	 * Recovery: the source goes back to RUNNING (the kernel walks
	 * STOP_COPY -> STOP -> RUNNING), so the guest continues with its state
	 * intact.  The destination must never run half-loaded: reset it.
	 */
	if (save_fd >= 0)
		close(save_fd);
	if (resume_fd >= 0)
		close(resume_fd);
	set_state(&src, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ioctl(dst.fd, VFIO_DEVICE_RESET))
		fail("VFIO_DEVICE_RESET on the destination");
	return 1;
}
