/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the vfio-mig tool: big-endian field access,
 * monotonic time, size parsing and full reads/writes on sockets.
 */
#ifndef VFIO_MIG_UTIL_H
#define VFIO_MIG_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define KIB		1024ULL
#define MIB		(1024ULL * 1024ULL)

/* Set by the SIGINT/SIGTERM handler; every wait loop checks it. */
extern volatile sig_atomic_t vmig_signalled;

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, v);
}

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)get_be16(p) << 16 | get_be16(p + 2);
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

uint64_t now_us(void);
void sleep_us(uint64_t us);

/*
 * Receive exactly @len bytes.  Returns the number of bytes received (less
 * than @len only at end of file) or -errno.
 */
ssize_t recv_full(int fd, void *buf, size_t len);
/* Send all @len bytes (MSG_NOSIGNAL).  Returns 0 or -errno. */
int send_full(int fd, const void *buf, size_t len);

/* "4M", "512K", "1G", "1048576", optional "iB"/"B" suffix: binary units. */
int parse_size(const char *s, uint64_t *out);
int parse_u64(const char *s, uint64_t *out);
uint64_t random_u64(void);
const char *fmt_bytes(uint64_t v, char *buf, size_t len);

void json_str(FILE *f, const char *s);

#endif
