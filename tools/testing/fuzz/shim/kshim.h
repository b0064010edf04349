/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Just enough of the kernel's environment for drivers/vfio/pci/mlx5c/
 * stream.c and image.c to build in userspace.  Force-included (-include) before it.
 */
#ifndef MLX5C_KSHIM_H
#define MLX5C_KSHIM_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define __user
#define le16_to_cpu(x) le16toh(x)
#define le32_to_cpu(x) le32toh(x)
#define le64_to_cpu(x) le64toh(x)
#define cpu_to_le64(x) htole64(x)
#define cpu_to_le32(x) htole32(x)
#define cpu_to_le16(x) htole16(x)
#define min(a, b) ((a) < (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define round_up(x, y) (((x) + (y) - 1) / (y) * (y))
#define SZ_2M 0x00200000

/* The harness is single-threaded userspace: nothing to yield to. */
static inline void cond_resched(void)
{
}

/* The harness's buffers are plain memory: a copy never faults. */
static inline unsigned long copy_from_user(void *to, const void *from,
					   unsigned long n)
{
	memcpy(to, from, n);
	return 0;
}

#endif
