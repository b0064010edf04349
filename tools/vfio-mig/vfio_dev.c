// SPDX-License-Identifier: GPL-2.0
/*
 * Real VFIO device access: the vfio cdev bound to an iommufd where the
 * kernel has them, else the group/container (type1) interface; migration
 * device features, precopy info, data fd I/O and BAR mapping.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfio_dev.h"

static const char *const state_names[] = {
	[VFIO_DEVICE_STATE_ERROR] = "error",
	[VFIO_DEVICE_STATE_STOP] = "stop",
	[VFIO_DEVICE_STATE_RUNNING] = "running",
	[VFIO_DEVICE_STATE_STOP_COPY] = "stop_copy",
	[VFIO_DEVICE_STATE_RESUMING] = "resuming",
	[VFIO_DEVICE_STATE_RUNNING_P2P] = "running_p2p",
	[VFIO_DEVICE_STATE_PRE_COPY] = "pre_copy",
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "pre_copy_p2p",
};

const char *vdev_state_name(uint32_t state)
{
	if (state < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[state];
	return "unknown";
}

int vdev_parse_state(const char *name, uint32_t *state)
{
	uint32_t i;

	for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (!strcasecmp(name, state_names[i])) {
			*state = i;
			return 0;
		}
	}
	return -EINVAL;
}

int vdev_set_state(struct vdev *d, uint32_t state, int *data_fd,
		   uint32_t *actual)
{
	int fd = -1, ret;

	ret = d->ops->set_state(d, state, &fd);
	if (ret) {
		if (actual && d->ops->get_state(d, actual))
			*actual = VFIO_DEVICE_STATE_ERROR;
		return ret;
	}
	if (actual)
		*actual = state;
	if (data_fd)
		*data_fd = fd;
	else if (fd >= 0)
		d->ops->close_fd(d, fd);
	return 0;
}

/* ------------------------------------------------------------ ioctls */

struct feature_buf {
	struct vfio_device_feature f;
	uint64_t payload[8];
};

static int vfio_feature(struct vdev *d, uint32_t flags, void *data,
			size_t size)
{
	struct feature_buf b;

	if (size > sizeof(b.payload))
		return -EINVAL;
	memset(&b, 0, sizeof(b));
	b.f.argsz = sizeof(b.f) + size;
	b.f.flags = flags;
	if (size)
		memcpy(b.f.data, data, size);
	if (ioctl(d->device_fd, VFIO_DEVICE_FEATURE, &b))
		return -errno;
	if (size)
		memcpy(data, b.f.data, size);
	return 0;
}

static int real_get_flags(struct vdev *d, uint64_t *flags)
{
	struct vfio_device_feature_migration m = { 0 };
	int ret;

	ret = vfio_feature(d, VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIGRATION, &m, sizeof(m));
	if (!ret)
		*flags = m.flags;
	return ret;
}

static int real_get_state(struct vdev *d, uint32_t *state)
{
	struct vfio_device_feature_mig_state s = { 0 };
	int ret;

	ret = vfio_feature(d, VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s));
	if (!ret)
		*state = s.device_state;
	return ret;
}

static int real_set_state(struct vdev *d, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state s = {
		.device_state = state,
		.data_fd = -1,
	};
	int ret;

	ret = vfio_feature(d, VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &s, sizeof(s));
	*data_fd = ret ? -1 : s.data_fd;
	return ret;
}

static int real_data_size(struct vdev *d, uint64_t *bytes)
{
	struct vfio_device_feature_mig_data_size s = { 0 };
	int ret;

	ret = vfio_feature(d, VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &s, sizeof(s));
	if (!ret)
		*bytes = s.stop_copy_length;
	return ret;
}

static int real_precopy_info(struct vdev *d, int fd,
			     struct vfio_precopy_info *info)
{
	(void)d;
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	if (ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, info))
		return -errno;
	return 0;
}

static int real_precopy_v2(struct vdev *d)
{
	int ret = vfio_feature(d, VFIO_DEVICE_FEATURE_SET |
			       VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);

	if (!ret)
		return 1;
	if (ret == -ENOTTY || ret == -EINVAL || ret == -EOPNOTSUPP)
		return 0;
	return ret;
}

static int real_reset(struct vdev *d)
{
	return ioctl(d->device_fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

static ssize_t real_read(struct vdev *d, int fd, void *buf, size_t len)
{
	ssize_t r;

	(void)d;
	r = read(fd, buf, len);
	return r < 0 ? -errno : r;
}

static ssize_t real_write(struct vdev *d, int fd, const void *buf, size_t len)
{
	ssize_t r;

	(void)d;
	r = write(fd, buf, len);
	return r < 0 ? -errno : r;
}

static int real_map_region(struct vdev *d, unsigned index,
			   struct vdev_region *r)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };
	void *p;

	memset(r, 0, sizeof(*r));
	r->fd = d->device_fd;
	if (ioctl(d->device_fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	if (!ri.size)
		return -ENOENT;
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_WRITE))
		return -EPERM;
	r->size = ri.size;
	r->offset = ri.offset;
	if (ri.flags & VFIO_REGION_INFO_FLAG_MMAP) {
		p = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 d->device_fd, ri.offset);
		if (p != MAP_FAILED)
			r->map = p;
	}
	return 0;
}

static void real_unmap_region(struct vdev *d, struct vdev_region *r)
{
	(void)d;
	if (r->map)
		munmap(r->map, r->size);
	r->map = NULL;
}

static void real_close_fd(struct vdev *d, int fd)
{
	(void)d;
	if (fd >= 0)
		close(fd);
}

static void real_close(struct vdev *d)
{
	if (d->device_fd >= 0)
		close(d->device_fd);
	if (d->group_fd >= 0)
		close(d->group_fd);
	if (d->container_fd >= 0)
		close(d->container_fd);
	d->device_fd = d->group_fd = d->container_fd = -1;
}

static const struct vdev_ops real_ops = {
	.get_flags = real_get_flags,
	.get_state = real_get_state,
	.set_state = real_set_state,
	.data_size = real_data_size,
	.precopy_info = real_precopy_info,
	.precopy_v2 = real_precopy_v2,
	.reset = real_reset,
	.read = real_read,
	.write = real_write,
	.map_region = real_map_region,
	.unmap_region = real_unmap_region,
	.close_fd = real_close_fd,
	.close = real_close,
};

/* ---------------------------------------------------------- opening */

static bool is_uuid(const char *s)
{
	static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t i;

	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (i = 0; pat[i]; i++) {
		if (pat[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static bool is_bdf(const char *s)
{
	unsigned dom, bus, dev, fn;
	char tail;

	return sscanf(s, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) == 4 ||
	       sscanf(s, "%x:%x.%x%c", &bus, &dev, &fn, &tail) == 3;
}

/* Resolve @spec to a sysfs device directory. */
static int resolve_sysfs(const char *spec, char *path, size_t len,
			 char *err, size_t errlen)
{
	if (spec[0] == '/') {
		snprintf(path, len, "%s", spec);
	} else if (is_uuid(spec)) {
		snprintf(path, len, "/sys/bus/mdev/devices/%s", spec);
	} else if (is_bdf(spec)) {
		unsigned a, b, c, e;

		if (sscanf(spec, "%x:%x:%x.%x", &a, &b, &c, &e) == 4)
			snprintf(path, len, "/sys/bus/pci/devices/%s", spec);
		else
			snprintf(path, len, "/sys/bus/pci/devices/0000:%s",
				 spec);
	} else {
		snprintf(err, errlen,
			 "%s: not a PCI address, mdev UUID or sysfs path", spec);
		return -EINVAL;
	}
	return 0;
}

static int find_group(const char *sysdir, char *devname, size_t dlen,
		      int *group, char *err, size_t errlen)
{
	char link[PATH_MAX + 32], real[PATH_MAX], tmp[PATH_MAX + 32];
	char *base;

	if (!realpath(sysdir, real)) {
		snprintf(err, errlen, "%s: %s", sysdir, strerror(errno));
		return -errno;
	}
	snprintf(tmp, sizeof(tmp), "%s", real);
	snprintf(devname, dlen, "%s", basename(tmp));
	snprintf(link, sizeof(link), "%s/iommu_group", real);
	if (!realpath(link, tmp)) {
		snprintf(err, errlen,
			 "%s has no IOMMU group (is the IOMMU enabled and the device bound to a vfio driver?)",
			 real);
		return -ENODEV;
	}
	base = basename(tmp);
	if (sscanf(base, "%d", group) != 1) {
		snprintf(err, errlen, "%s: bad IOMMU group %s", link, base);
		return -EINVAL;
	}
	return 0;
}

static int open_container(struct vdev *d, char *err, size_t errlen)
{
	int type;

	d->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container_fd < 0) {
		snprintf(err, errlen, "/dev/vfio/vfio: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(d->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		snprintf(err, errlen, "/dev/vfio/vfio: unknown API version");
		return -EINVAL;
	}
	type = ioctl(d->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ?
	       VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
	if (ioctl(d->group_fd, VFIO_GROUP_SET_CONTAINER, &d->container_fd)) {
		snprintf(err, errlen, "VFIO_GROUP_SET_CONTAINER: %s",
			 strerror(errno));
		return -errno;
	}
	if (ioctl(d->container_fd, VFIO_SET_IOMMU, type)) {
		if (type == VFIO_TYPE1_IOMMU ||
		    ioctl(d->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)) {
			snprintf(err, errlen, "VFIO_SET_IOMMU: %s",
				 strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int open_group(struct vdev *d, char *err, size_t errlen)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];

	snprintf(path, sizeof(path), "/dev/vfio/%d", d->group);
	d->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->group_fd < 0) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
			 errno == EBUSY ? " (group already in use, e.g. by a VM)" : "");
		return -errno;
	}
	if (ioctl(d->group_fd, VFIO_GROUP_GET_STATUS, &st)) {
		snprintf(err, errlen, "%s: VFIO_GROUP_GET_STATUS: %s", path,
			 strerror(errno));
		return -errno;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		snprintf(err, errlen,
			 "%s: group not viable (bind every device of the group to vfio)",
			 path);
		return -EBUSY;
	}
	return 0;
}

/* The vfio cdev and iommufd uAPI (Linux 6.6), for older system headers. */
#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};

#define VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)

struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};

#define VFIO_DEVICE_ATTACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 19)
#endif

#ifndef IOMMU_IOAS_ALLOC
struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};

#define IOMMU_IOAS_ALLOC		_IO(';', 0x81)
#endif

/*
 * The device's cdev, /dev/vfio/devices/vfioN, if the kernel has it and
 * /dev/iommu (CONFIG_VFIO_DEVICE_CDEV, CONFIG_IOMMUFD): 0 with its path,
 * else -ENOENT and the group interface is used.
 */
static int find_cdev(const char *sysdir, char *path, size_t len)
{
	char dir[PATH_MAX + 16];
	struct dirent *e;
	int ret = -ENOENT;
	DIR *dp;

	if (access("/dev/iommu", F_OK))
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%s/vfio-dev", sysdir);
	dp = opendir(dir);
	if (!dp)
		return -ENOENT;
	while ((e = readdir(dp))) {
		if (strncmp(e->d_name, "vfio", 4))
			continue;
		snprintf(path, len, "/dev/vfio/devices/%.64s", e->d_name);
		if (!access(path, F_OK))
			ret = 0;
		break;
	}
	closedir(dp);
	return ret;
}

/* The cdev unless VFIO_MIG_CDEV=0 asks for the group interface. */
static bool want_cdev(void)
{
	const char *v = getenv("VFIO_MIG_CDEV");

	return !v || strcmp(v, "0");
}

/* The cdev bound to a new iommufd (in container_fd) and a new IOAS. */
static int open_cdev(struct vdev *d, const char *path, char *err,
		     size_t errlen)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	const char *what;

	what = "/dev/iommu";
	d->container_fd = open(what, O_RDWR | O_CLOEXEC);
	if (d->container_fd < 0)
		goto err;
	what = path;
	d->device_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->device_fd < 0)
		goto err;
	what = "VFIO_DEVICE_BIND_IOMMUFD";
	bind.iommufd = d->container_fd;
	if (ioctl(d->device_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		goto err;
	what = "IOMMU_IOAS_ALLOC";
	if (ioctl(d->container_fd, IOMMU_IOAS_ALLOC, &ioas))
		goto err;
	what = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
	at.pt_id = ioas.out_ioas_id;
	if (ioctl(d->device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at))
		goto err;
	return 0;
err:
	snprintf(err, errlen, "%s (%s): %s%s", what, d->devname,
		 strerror(errno),
		 errno == EBUSY ? " (device already in use, e.g. by a VM)" : "");
	return -errno;
}

int vdev_open(struct vdev *d, const char *spec, char *err, size_t errlen)
{
	char sysdir[PATH_MAX], cdev[PATH_MAX];
	int ret;

	memset(d, 0, sizeof(*d));
	d->ops = &real_ops;
	d->container_fd = d->group_fd = d->device_fd = -1;
	snprintf(d->name, sizeof(d->name), "%s", spec);
	ret = resolve_sysfs(spec, sysdir, sizeof(sysdir), err, errlen);
	if (!ret)
		ret = find_group(sysdir, d->devname, sizeof(d->devname),
				 &d->group, err, errlen);
	if (!ret && want_cdev() && !find_cdev(sysdir, cdev, sizeof(cdev))) {
		ret = open_cdev(d, cdev, err, errlen);
		if (ret)
			real_close(d);
		return ret;
	}
	if (!ret)
		ret = open_group(d, err, errlen);
	if (!ret)
		ret = open_container(d, err, errlen);
	if (!ret) {
		d->device_fd = ioctl(d->group_fd, VFIO_GROUP_GET_DEVICE_FD,
				     d->devname);
		if (d->device_fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "VFIO_GROUP_GET_DEVICE_FD %s: %s",
				 d->devname, strerror(errno));
		}
	}
	if (ret)
		real_close(d);
	return ret;
}

void vdev_close(struct vdev *d)
{
	if (d->ops && d->ops->close)
		d->ops->close(d);
}
