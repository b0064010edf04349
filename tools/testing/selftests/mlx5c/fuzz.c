// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz the resuming parser of mlx5c-vfio-pci from userspace: random
 * record streams and mutated prefixes of a real stream, written in random
 * splits.  Every write must succeed or fail with a documented errno, the
 * device must never leave RESUMING on a bad stream.  Leaks are kmemleak's
 * to find (make check-debug scans after the suite).
 *
 * MLX5C_FUZZ_CASES sets the number of streams (default 10000).  Each
 * stream ends with VFIO_DEVICE_RESET (a secondary bus reset here, about
 * 70 ms under TCG), so make check runs 1000 and make fuzz the 10000.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/ioctl.h>

#include "harness.h"
#include "mig_common.h"

static uint64_t rnd_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* A size that lands on the parser's edges more often than chance. */
static uint64_t edgy_size(size_t mem)
{
	static const uint64_t fixed[] = { 0, 1, 7, 8, 9, 47, 48, 49, 4096 };

	switch (rnd() % 4) {
	case 0:
		return fixed[rnd() % (sizeof(fixed) / sizeof(fixed[0]))];
	case 1:
		return mem + IMG_HDR_SIZE + (rnd() % 3) - 1;
	case 2:
		return rnd();
	default:
		return rnd() % 2048;
	}
}

static size_t random_stream(uint8_t *buf, size_t cap, size_t mem)
{
	size_t len = 0;
	int records = 1 + rnd() % 4;

	while (records-- && len + HDR_SIZE <= cap) {
		struct mlx5c_mig_header h = {
			.record_size = edgy_size(mem),
			.flags = rnd() % 8 ? rnd() % 2 : rnd(),
			.tag = rnd() % 8 ? rnd() % 3 : rnd(),
		};
		size_t body = h.record_size < 2048 ? h.record_size : rnd() % 2048;

		memcpy(buf + len, &h, HDR_SIZE);
		len += HDR_SIZE;
		if (body > cap - len)
			body = cap - len;
		for (size_t i = 0; i < body; i++)
			buf[len + i] = rnd();
		if (h.tag == MLX5C_MIG_TAG_FW_DATA && body >= IMG_HDR_SIZE &&
		    rnd() % 2) {
			struct mlx5c_image_header img = {
				.magic = MLX5C_IMAGE_MAGIC,
				.version = MLX5C_IMAGE_VERSION,
				.kind = 1 + rnd() % 3,
				.flags = rnd() % 2,
				.page_size = 4096,
				.mem_size = mem,
				.nr_pages = rnd() % 4,
			};
			memcpy(buf + len, &img, sizeof(img));
		}
		len += body;
	}
	return len;
}

static size_t mutated_stream(uint8_t *buf, const struct stream *good)
{
	size_t len = 1 + rnd() % (64 << 10);
	int flips = 1 + rnd() % 8;

	memcpy(buf, good->data, len);
	while (flips--)
		buf[rnd() % (len < 256 ? len : 256)] ^= 1 << (rnd() % 8);
	return len;
}

static bool documented(int err)
{
	return err == EINVAL || err == EOPNOTSUPP || err == EBADMSG ||
	       err == EPROTONOSUPPORT || err == ENODEV || err == ENOMEM;
}

FIXTURE(fuzz) {
	int unused;
};

FIXTURE_SETUP(fuzz)
{
}

FIXTURE_TEARDOWN(fuzz)
{
}

TEST_F_TIMEOUT(fuzz, parser, 3600)
{
	struct stream good = { 0 };
	char bdf[MLX5C_MAX_FUNCS][BDF_LEN];
	const char *env = getenv("MLX5C_FUZZ_CASES"), *why;
	long cases = env ? atol(env) : 10000, errors = 0;
	struct vdev d;
	uint8_t *buf;
	uint32_t got;
	int fd;

	if (mlx5c_functions(bdf, 1, &why) < 0)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, vdev_open(&d, bdf[0]));
	ASSERT_EQ(0, vdev_map_bar2(&d));
	buf = malloc(128 << 10);
	ASSERT_NE(NULL, buf);

	/* A real stream to mutate: the first 64 KiB of a STOP_COPY save. */
	ASSERT_EQ(0, mig_set_state(&d, ST(STOP_COPY), &fd));
	ASSERT_EQ(0, stream_read(&good, fd));
	close(fd);
	ASSERT_EQ(0, mig_set_state(&d, ST(RUNNING), NULL));

	for (long c = 0; c < cases; c++) {
		size_t len = c % 2 ? random_stream(buf, 128 << 10, d.bar2_size) :
				     mutated_stream(buf, &good);
		size_t off = 0;
		int err = 0;

		ASSERT_EQ(0, mig_set_state(&d, ST(RESUMING), &fd));
		while (off < len && !err) {
			size_t n = 1 + rnd() % (rnd() % 2 ? 16 : 8192);
			ssize_t w;

			if (n > len - off)
				n = len - off;
			w = write(fd, buf + off, n);
			if (w < 0)
				err = errno;
			else
				off += w;
		}
		if (err && !documented(err))
			TH_LOG("case %ld: write errno %d", c, err);
		ASSERT_TRUE(!err || documented(err));
		errors += !!err;
		/* No stream here carries a whole image: it cannot end. */
		ASSERT_EQ(-EINVAL, mig_set_state(&d, ST(STOP), NULL));
		ASSERT_EQ(0, mig_get_state(&d, &got));
		ASSERT_EQ(ST(RESUMING), got);
		close(fd);
		ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_RESET));
	}
	/* A state query applies the last reset: the last session ends. */
	ASSERT_EQ(0, mig_get_state(&d, &got));
	TH_LOG("%ld streams, %ld rejected by a write", cases, errors);
	/*
	 * Random streams are rejected by a write; mutated ones often go
	 * through: both must have happened, or the fuzzer tested nothing.
	 */
	if (cases >= 100) {
		ASSERT_GT(errors, 0);
		ASSERT_LT(errors, cases);
	}
	free(buf);
	stream_free(&good);
	vdev_close(&d);
}

TEST_HARNESS_MAIN
