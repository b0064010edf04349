// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mlx5c_util.h"

#define PCI_DEVS "/sys/bus/pci/devices"

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

int sysfs_write(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	return 0;
}

int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	while (n && (buf[n - 1] == '\n'))
		buf[--n] = 0;
	return 0;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* dddd:bb:dd.f in lower-case hex, as sysfs names functions. */
static bool is_bdf(const char *s)
{
	static const char form[] = "xxxx:xx:xx.f";
	int i;

	for (i = 0; form[i]; i++) {
		if (form[i] == 'x' ? !is_lower_hex(s[i]) :
		    form[i] == 'f' ? !(s[i] >= '0' && s[i] <= '7') : s[i] != form[i])
			return false;
	}
	return !s[i];
}

int mlx5c_take_bdf_args(int argc, char **argv)
{
	char list[MLX5C_MAX_FUNCS * BDF_LEN] = "";
	int i, kept = 1, given = 0;

	if (argc < 1)
		return argc;
	for (i = 1; i < argc; i++) {
		if (!is_bdf(argv[i]) || given == MLX5C_MAX_FUNCS) {
			argv[kept++] = argv[i];
			continue;
		}
		if (given++)
			strcat(list, " ");
		strcat(list, argv[i]);
	}
	argv[kept] = NULL;
	if (given)
		setenv("MLX5C_BDFS", list, 1);
	return kept;
}

static char why_buf[256];

/* -ENODEV, with the reason in *why for the caller's skip message. */
static int not_usable(const char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why_buf, sizeof(why_buf), fmt, ap);
	va_end(ap);
	*why = why_buf;
	return -ENODEV;
}

static int check_given(const char *bdf, const char **why)
{
	char path[PATH_MAX], drv[64];

	snprintf(path, sizeof(path), PCI_DEVS "/%s", bdf);
	if (!is_bdf(bdf) || access(path, F_OK))
		return not_usable(why, "MLX5C_BDFS: %s is not a PCI function here",
				  bdf);
	if (bound_driver(bdf, drv, sizeof(drv)))
		snprintf(drv, sizeof(drv), "no driver");
	if (strcmp(drv, MLX5C_DRIVER))
		return not_usable(why, "%s is bound to %s, not %s: run mlx5c_setup.sh bind %s",
				  bdf, drv, MLX5C_DRIVER, bdf);
	return 0;
}

int mlx5c_functions(char bdf[][BDF_LEN], int need, const char **why)
{
	const char *env = getenv("MLX5C_BDFS");
	char *list, *tok, *save = NULL;
	int n = 0, ret = 0;

	list = strdup(env ? env : "");
	if (!list)
		return not_usable(why, "out of memory");
	for (tok = strtok_r(list, " ,\t\n", &save); tok && !ret;
	     tok = strtok_r(NULL, " ,\t\n", &save)) {
		if (n == MLX5C_MAX_FUNCS)
			break;
		ret = check_given(tok, why);
		if (!ret)
			snprintf(bdf[n++], BDF_LEN, "%s", tok);
	}
	free(list);
	if (ret)
		return ret;
	if (n < need)
		return not_usable(why, "needs %d mlx5c function%s, given %d: pass their BDFs as arguments or in MLX5C_BDFS, bound by mlx5c_setup.sh bind",
				  need, need > 1 ? "s" : "", n);
	return n;
}

int bound_driver(const char *bdf, char *name, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), PCI_DEVS "/%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	snprintf(name, len, "%s", basename(target));
	return 0;
}

int unbind_dev(const char *bdf)
{
	char path[PATH_MAX], drv[64];
	int ret;

	if (bound_driver(bdf, drv, sizeof(drv)) == 0) {
		snprintf(path, sizeof(path), PCI_DEVS "/%s/driver/unbind", bdf);
		ret = sysfs_write(path, bdf);
		if (ret)
			return ret;
	}
	snprintf(path, sizeof(path), PCI_DEVS "/%s/driver_override", bdf);
	return sysfs_write(path, "\n");
}

int bind_mlx5c(const char *bdf)
{
	char path[PATH_MAX], drv[64];
	int ret;

	if (bound_driver(bdf, drv, sizeof(drv)) == 0) {
		if (!strcmp(drv, MLX5C_DRIVER))
			return 0;
		ret = unbind_dev(bdf);
		if (ret)
			return ret;
	}
	snprintf(path, sizeof(path), PCI_DEVS "/%s/driver_override", bdf);
	ret = sysfs_write(path, MLX5C_DRIVER);
	if (ret)
		return ret;
	ret = sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	if (ret)
		return ret;
	if (bound_driver(bdf, drv, sizeof(drv)) || strcmp(drv, MLX5C_DRIVER))
		return -ENODEV;
	return 0;
}

static int group_of(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), PCI_DEVS "/%s/iommu_group", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	return atoi(basename(target));
}



/*
 * A group stays busy until the last holder's fds are closed; a process
 * that was just killed may still be exiting: retry for a while.
 */
int vdev_open(struct vdev *d, const char *bdf)
{
	int ret, tries = 100;

	while ((ret = vdev_try_open(d, bdf)) == -EBUSY && --tries)
		usleep(100000);
	return ret;
}

int vdev_try_open(struct vdev *d, const char *bdf)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];
	int group, ret;

	memset(d, 0, sizeof(*d));
	d->container = d->group = d->fd = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);

	group = group_of(bdf);
	if (group < 0)
		return group;
	d->container = open("/dev/vfio/vfio", O_RDWR);
	if (d->container < 0)
		goto err;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	d->group = open(path, O_RDWR);
	if (d->group < 0)
		goto err;
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &status))
		goto err;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EBUSY;
		goto err;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container))
		goto err;
	if (ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err;
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (d->fd < 0)
		goto err;
	return 0;
err:
	ret = -errno;
	vdev_close(d);
	return ret;
}

/* /dev/vfio/devices/vfioN of a bound function, from its vfio-dev dir. */
static int cdev_path(const char *bdf, char *path, size_t len)
{
	char dir[128];
	struct dirent *e;
	int ret = -ENOENT;
	DIR *dp;

	snprintf(dir, sizeof(dir), PCI_DEVS "/%s/vfio-dev", bdf);
	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((e = readdir(dp)))
		if (!strncmp(e->d_name, "vfio", 4)) {
			snprintf(path, len, "/dev/vfio/devices/%.40s", e->d_name);
			ret = 0;
			break;
		}
	closedir(dp);
	return ret;
}

int vdev_cdev_available(const char *bdf, const char **why)
{
	char path[64];

	if (access("/dev/iommu", F_OK)) {
		*why = "no /dev/iommu: kernel without CONFIG_IOMMUFD";
		return -ENOENT;
	}
	if (cdev_path(bdf, path, sizeof(path)) || access(path, F_OK)) {
		*why = "no /dev/vfio/devices/vfioN: kernel without CONFIG_VFIO_DEVICE_CDEV";
		return -ENOENT;
	}
	return 0;
}

/* The cdev bound to a new iommufd and attached to a new IOAS. */
static int vdev_try_open_cdev(struct vdev *d, const char *bdf)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	char path[64];
	int ret;

	memset(d, 0, sizeof(*d));
	d->container = d->group = d->fd = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);

	ret = cdev_path(bdf, path, sizeof(path));
	if (ret)
		return ret;
	d->container = open("/dev/iommu", O_RDWR);
	if (d->container < 0)
		goto err;
	d->fd = open(path, O_RDWR);
	if (d->fd < 0)
		goto err;
	bind.iommufd = d->container;
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		goto err;
	if (ioctl(d->container, IOMMU_IOAS_ALLOC, &ioas))
		goto err;
	attach.pt_id = ioas.out_ioas_id;
	if (ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		goto err;
	return 0;
err:
	ret = -errno;
	vdev_close(d);
	return ret;
}

int vdev_open_mode(struct vdev *d, const char *bdf, enum vdev_mode mode)
{
	int ret, tries = 100;

	if (mode == VDEV_GROUP)
		return vdev_open(d, bdf);
	while ((ret = vdev_try_open_cdev(d, bdf)) == -EBUSY && --tries)
		usleep(100000);
	return ret;
}

void vdev_close(struct vdev *d)
{
	if (d->bar2)
		munmap(d->bar2, d->bar2_size);
	d->bar2 = NULL;
	if (d->fd >= 0)
		close(d->fd);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	d->fd = d->group = d->container = -1;
}

int vdev_map_bar2(struct vdev *d)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_BAR2_REGION_INDEX,
	};
	void *p;

	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -errno;
	p = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		 info.offset);
	if (p == MAP_FAILED)
		return -errno;
	d->bar2 = p;
	d->bar2_size = info.size;
	d->bar2_offset = info.offset;
	return 0;
}

static int feature(struct vdev *d, uint32_t flags, void *data, size_t len)
{
	uint8_t buf[sizeof(struct vfio_device_feature) + 64] = { 0 };
	struct vfio_device_feature *f = (void *)buf;

	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	if (data && len)
		memcpy(f->data, data, len);
	if (ioctl(d->fd, VFIO_DEVICE_FEATURE, f))
		return -errno;
	if (data && len)
		memcpy(data, f->data, len);
	return 0;
}

int mig_get_flags(struct vdev *d, uint64_t *flags)
{
	struct vfio_device_feature_migration mig = { 0 };
	int ret;

	ret = feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
		      &mig, sizeof(mig));
	if (!ret)
		*flags = mig.flags;
	return ret;
}

int mig_get_state(struct vdev *d, uint32_t *state)
{
	struct vfio_device_feature_mig_state st = { 0 };
	int ret;

	ret = feature(d, VFIO_DEVICE_FEATURE_GET |
		      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st, sizeof(st));
	if (!ret)
		*state = st.device_state;
	return ret;
}

int mig_set_state(struct vdev *d, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state st = { .device_state = state };
	int ret;

	ret = feature(d, VFIO_DEVICE_FEATURE_SET |
		      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &st, sizeof(st));
	if (data_fd)
		*data_fd = ret ? -1 : st.data_fd;
	else if (!ret && st.data_fd >= 0)
		close(st.data_fd);
	return ret;
}

int mig_data_size(struct vdev *d, uint64_t *size)
{
	struct vfio_device_feature_mig_data_size ds = { 0 };
	int ret;

	ret = feature(d, VFIO_DEVICE_FEATURE_GET |
		      VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, sizeof(ds));
	if (!ret)
		*size = ds.stop_copy_length;
	return ret;
}

int mig_precopy_v2(struct vdev *d)
{
	return feature(d, VFIO_DEVICE_FEATURE_SET |
		       VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);
}

int precopy_info(int data_fd, struct vfio_precopy_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	if (ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, info))
		return -errno;
	return 0;
}

static void knob_path(char *path, size_t len, const char *bdf,
		      const char *knob)
{
	snprintf(path, len, "/sys/kernel/debug/mlx5c/%s/%s", bdf, knob);
}

int knob_write(const char *bdf, const char *knob, const char *val)
{
	char path[PATH_MAX];

	knob_path(path, sizeof(path), bdf, knob);
	return sysfs_write(path, val);
}

long long knob_read(const char *bdf, const char *knob)
{
	char path[PATH_MAX], val[64];
	int ret;

	knob_path(path, sizeof(path), bdf, knob);
	ret = sysfs_read(path, val, sizeof(val));
	if (ret)
		return ret;
	return strtoll(val, NULL, 0);
}

void fill_pattern(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)(x >> (i % 8));
}

ssize_t read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (uint8_t *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return done ? (ssize_t)done : -errno;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

ssize_t write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, (const uint8_t *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return done;
}
