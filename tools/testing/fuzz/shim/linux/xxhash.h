/* SPDX-License-Identifier: GPL-2.0 */
/* The kernel's streaming xxh64, on libxxhash (libxxhash-dev). */
#ifndef MLX5C_SHIM_XXHASH_H
#define MLX5C_SHIM_XXHASH_H

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

struct xxh64_state {
	XXH64_state_t s;
};

static inline void xxh64_reset(struct xxh64_state *st, u64 seed)
{
	XXH64_reset(&st->s, seed);
}

static inline int xxh64_update(struct xxh64_state *st, const void *p,
			       size_t len)
{
	return XXH64_update(&st->s, p, len) == XXH_OK ? 0 : -EINVAL;
}

static inline u64 xxh64_digest(const struct xxh64_state *st)
{
	return XXH64_digest(&st->s);
}

#endif
