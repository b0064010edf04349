// SPDX-License-Identifier: GPL-2.0
/*
 * Races: threads that change the migration state, read the saving fd,
 * write the resuming fd, query precopy info, reset the device, close data
 * fds, and now and then close the device and unbind and rebind it, all at
 * once for a bounded time.  Nothing may hang (the harness times out) or
 * warn (the VM run scans the kernel log); leaks are kmemleak's to find
 * (make check-debug scans after the suite).
 *
 * MLX5C_RACE_SECONDS sets the duration (default 10).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "harness.h"
#include "mig_common.h"

struct race {
	char bdf[BDF_LEN];
	struct vdev d;
	pthread_rwlock_t dev_lock;	/* write: the device is being cycled */
	pthread_mutex_t fd_lock;
	int data_fd;			/* latest data fd, or -1 */
	atomic_bool stop;
	atomic_ulong ops;
};

static unsigned int rnd(unsigned int *seed)
{
	return rand_r(seed);
}

/* A dup of the current data fd, or -1. */
static int get_data_fd(struct race *r)
{
	int fd = -1;

	pthread_mutex_lock(&r->fd_lock);
	if (r->data_fd >= 0)
		fd = dup(r->data_fd);
	pthread_mutex_unlock(&r->fd_lock);
	return fd;
}

static void put_data_fd(struct race *r, int fd)
{
	pthread_mutex_lock(&r->fd_lock);
	if (r->data_fd >= 0)
		close(r->data_fd);
	r->data_fd = fd;
	pthread_mutex_unlock(&r->fd_lock);
}

static void op_state(struct race *r, unsigned int *seed)
{
	static const uint32_t states[] = {
		ST(RUNNING), ST(RUNNING_P2P), ST(STOP), ST(STOP_COPY),
		ST(RESUMING), ST(PRE_COPY), ST(PRE_COPY_P2P),
	};
	int fd;

	if (!mig_set_state(&r->d, states[rnd(seed) % 7], &fd) && fd >= 0)
		put_data_fd(r, fd);
}

static void op_read(struct race *r, unsigned int *seed)
{
	static __thread char buf[256 << 10];
	int fd = get_data_fd(r);

	if (fd < 0)
		return;
	if (rnd(seed) % 2)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	(void)!read(fd, buf, 1 + rnd(seed) % sizeof(buf));
	close(fd);
}

static void op_write(struct race *r, unsigned int *seed)
{
	struct mlx5c_mig_header h = {
		.record_size = rnd(seed) % 64, .flags = MLX5C_MIG_F_OPTIONAL,
		.tag = 0x80,
	};
	int fd = get_data_fd(r);

	if (fd < 0)
		return;
	(void)!write(fd, &h, 1 + rnd(seed) % sizeof(h));
	close(fd);
}

static void op_info(struct race *r, unsigned int *seed)
{
	struct vfio_precopy_info info;
	struct pollfd pfd;
	int fd = get_data_fd(r);

	(void)seed;
	if (fd < 0)
		return;
	precopy_info(fd, &info);
	pfd.fd = fd;
	pfd.events = POLLIN;
	poll(&pfd, 1, 0);
	close(fd);
}

static void op_misc(struct race *r, unsigned int *seed)
{
	uint64_t size;
	char val[8];

	switch (rnd(seed) % 5) {
	case 0:
		ioctl(r->d.fd, VFIO_DEVICE_RESET);
		break;
	case 1:
		put_data_fd(r, -1);
		break;
	case 2:
		snprintf(val, sizeof(val), "%u", rnd(seed) % 20);
		knob_write(r->bdf, "latency_ms", val);
		break;
	case 3:
		mig_precopy_v2(&r->d);
		break;
	default:
		mig_data_size(&r->d, &size);
	}
	/* The guest: dirty a page now and then. */
	if (r->d.bar2)
		r->d.bar2[(rnd(seed) % (r->d.bar2_size / 4096)) * 4096] ^= 1;
}

static void *worker(void *arg)
{
	void (*const ops[])(struct race *, unsigned int *) = {
		op_state, op_read, op_write, op_info, op_misc,
	};
	struct race *r = arg;
	unsigned int seed = (unsigned int)(uintptr_t)pthread_self();

	while (!atomic_load(&r->stop)) {
		pthread_rwlock_rdlock(&r->dev_lock);
		ops[rnd(&seed) % 5](r, &seed);
		pthread_rwlock_unlock(&r->dev_lock);
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

/* Close the device (data fds may stay open), unbind, bind, reopen. */
static int cycle_device(struct race *r, bool unbind)
{
	int ret;

	pthread_rwlock_wrlock(&r->dev_lock);
	vdev_close(&r->d);
	ret = unbind ? unbind_dev(r->bdf) ?: bind_mlx5c(r->bdf) : 0;
	if (!ret)
		ret = vdev_open(&r->d, r->bdf) ?: vdev_map_bar2(&r->d);
	pthread_rwlock_unlock(&r->dev_lock);
	return ret;
}

TEST(everything_at_once)
{
	char bdf[MLX5C_MAX_FUNCS][BDF_LEN];
	const char *env = getenv("MLX5C_RACE_SECONDS"), *why;
	int seconds = env ? atoi(env) : 10, cycles = 0;
	struct race r = { .data_fd = -1 };
	pthread_rwlockattr_t attr;
	pthread_t threads[6];
	uint32_t got;

	if (mlx5c_functions(bdf, 1, &why) < 0)
		SKIP(return, "%s", why);
	memcpy(r.bdf, bdf[0], BDF_LEN);
	ASSERT_EQ(0, vdev_open(&r.d, r.bdf));
	ASSERT_EQ(0, vdev_map_bar2(&r.d));
	/* glibc prefers readers by default: the cycling would starve. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&r.dev_lock, &attr);
	pthread_mutex_init(&r.fd_lock, NULL);

	for (int i = 0; i < 6; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, worker, &r));
	for (int s = 0; s < seconds * 4; s++) {
		usleep(250000);
		if (s % 8 == 7) {
			ASSERT_EQ(0, cycle_device(&r, s % 16 == 15));
			cycles++;
		}
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 6; i++)
		pthread_join(threads[i], NULL);
	TH_LOG("%lu operations, %d device cycles", atomic_load(&r.ops), cycles);
	ASSERT_GT(atomic_load(&r.ops), 10);

	/* Still a working device, and nothing left behind. */
	put_data_fd(&r, -1);
	ASSERT_EQ(0, ioctl(r.d.fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, mig_get_state(&r.d, &got));
	ASSERT_EQ(ST(RUNNING), got);
	knob_write(r.bdf, "latency_ms", "1");
	vdev_close(&r.d);
}

/* Data fds that outlive the device's binding stay safe to use and close. */
TEST(data_fd_outlives_unbind)
{
	char bdf[MLX5C_MAX_FUNCS][BDF_LEN];
	struct vfio_precopy_info info;
	const char *why;
	int sfd, rfd, ret;
	struct vdev d, e;
	char buf[64];

	if (mlx5c_functions(bdf, 2, &why) < 0)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, vdev_open(&d, bdf[0]));
	ASSERT_EQ(0, vdev_open(&e, bdf[1]));
	ASSERT_EQ(0, mig_set_state(&d, ST(PRE_COPY), &sfd));
	ASSERT_EQ(0, mig_set_state(&e, ST(RESUMING), &rfd));
	vdev_close(&d);
	vdev_close(&e);
	ASSERT_EQ(0, unbind_dev(bdf[0]));
	ASSERT_EQ(0, unbind_dev(bdf[1]));

	ret = precopy_info(sfd, &info);
	ASSERT_EQ(-ENODEV, ret);
	ASSERT_EQ(-1, read(sfd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(-1, write(rfd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(sfd);
	close(rfd);
	ASSERT_EQ(0, bind_mlx5c(bdf[0]));
	ASSERT_EQ(0, bind_mlx5c(bdf[1]));
}

TEST_HARNESS_MAIN
