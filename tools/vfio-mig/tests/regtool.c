// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mig-regtool DEV REGION OFFSET [BYTE]: read (or write) one byte of a
 * VFIO region of DEV (PCI address or mdev UUID), for the VM tests that
 * check migrated device state, e.g. an mtty UART scratch register.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../vfio_dev.h"

int main(int argc, char **argv)
{
	struct vdev_region r;
	struct vdev d;
	char err[512];
	unsigned long idx, off, val = 0;
	uint8_t b;
	ssize_t n;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s DEV REGION OFFSET [BYTE]\n", argv[0]);
		return 2;
	}
	idx = strtoul(argv[2], NULL, 0);
	off = strtoul(argv[3], NULL, 0);
	if (argc == 5)
		val = strtoul(argv[4], NULL, 0);
	if (vdev_open(&d, argv[1], err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		return 1;
	}
	if (d.ops->map_region(&d, idx, &r)) {
		fprintf(stderr, "%s: region %lu: cannot get it\n", argv[0], idx);
		vdev_close(&d);
		return 1;
	}
	b = (uint8_t)val;
	if (argc == 5)
		n = pwrite(d.device_fd, &b, 1, r.offset + off);
	else
		n = pread(d.device_fd, &b, 1, r.offset + off);
	d.ops->unmap_region(&d, &r);
	vdev_close(&d);
	if (n != 1) {
		perror(argv[0]);
		return 1;
	}
	printf("0x%02x\n", b);
	return 0;
}
