// SPDX-License-Identifier: GPL-2.0
/*
 * bar2ctl: BAR2 of mlx5c functions from shell scripts (tests, demo).
 *
 *   bar2ctl fill BDF SEED     bind BDF and fill its BAR2 with a pattern
 *   bar2ctl cmp BDF1 BDF2     exit 0 if both BAR2s are byte-equal
 *   bar2ctl check BDF SEED    exit 0 if BDF's BAR2 still holds fill's pattern
 *
 * Each command opens the functions only for its own duration, so that
 * another program (vfio-mig) can open them in between.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlx5c_util.h"

static int open_mapped(struct vdev *d, const char *bdf)
{
	int ret = bind_mlx5c(bdf);

	if (!ret)
		ret = vdev_open(d, bdf);
	if (!ret)
		ret = vdev_map_bar2(d);
	if (ret)
		fprintf(stderr, "bar2ctl: %s: %s\n", bdf, strerror(-ret));
	return ret;
}

int main(int argc, char **argv)
{
	struct vdev a, b;
	size_t i;

	if (argc == 4 && !strcmp(argv[1], "fill")) {
		if (open_mapped(&a, argv[2]))
			return 1;
		fill_pattern(a.bar2, a.bar2_size, strtoull(argv[3], NULL, 0));
		vdev_close(&a);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "cmp")) {
		if (open_mapped(&a, argv[2]) || open_mapped(&b, argv[3]))
			return 1;
		if (a.bar2_size != b.bar2_size) {
			fprintf(stderr, "bar2ctl: sizes differ\n");
			return 1;
		}
		for (i = 0; i < a.bar2_size && a.bar2[i] == b.bar2[i]; i++)
			;
		if (i < a.bar2_size) {
			fprintf(stderr, "bar2ctl: first difference at 0x%zx\n", i);
			return 1;
		}
		printf("%s and %s: %zu MiB of BAR2 byte-equal\n", argv[2],
		       argv[3], a.bar2_size >> 20);
		vdev_close(&a);
		vdev_close(&b);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "check")) {
		uint8_t *want;

		if (open_mapped(&a, argv[2]))
			return 1;
		want = malloc(a.bar2_size);
		if (!want) {
			fprintf(stderr, "bar2ctl: out of memory\n");
			return 1;
		}
		fill_pattern(want, a.bar2_size, strtoull(argv[3], NULL, 0));
		for (i = 0; i < a.bar2_size && a.bar2[i] == want[i]; i++)
			;
		if (i < a.bar2_size) {
			fprintf(stderr, "bar2ctl: %s: not pattern %s: first difference at 0x%zx\n",
				argv[2], argv[3], i);
			return 1;
		}
		printf("%s: %zu MiB of BAR2 hold pattern %s\n", argv[2],
		       a.bar2_size >> 20, argv[3]);
		free(want);
		vdev_close(&a);
		return 0;
	}
	fprintf(stderr, "usage: bar2ctl fill BDF SEED | bar2ctl cmp BDF1 BDF2 | bar2ctl check BDF SEED\n");
	return 2;
}
