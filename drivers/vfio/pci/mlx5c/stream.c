// SPDX-License-Identifier: GPL-2.0
/*
 * The record stream parser; see stream.h.
 */
#include <linux/minmax.h>
#include <linux/uaccess.h>

#include "image.h"
#include "stream.h"

static int mlx5c_parse_reserve(struct mlx5c_parser *p, size_t size)
{
	if (p->buf_size >= size)
		return 0;
	mlx5c_free(p->buf);
	p->buf_size = 0;
	p->buf = mlx5c_alloc(size);
	if (!p->buf)
		return -ENOMEM;
	p->buf_size = size;
	return 0;
}

/* The header size of the next record: a v1 header until v2 is known. */
static size_t mlx5c_parse_hdr_size(const struct mlx5c_parser *p)
{
	return p->version >= MLX5C_STREAM_V2 ? MLX5C_HDR_V2_SIZE :
					       MLX5C_HDR_SIZE;
}

/* Version 2: start the record's checksum with its header (checksum 0). */
static void mlx5c_parse_hash_header(struct mlx5c_parser *p)
{
	struct mlx5c_mig_header_v2 hdr = p->hdr;

	p->rec_checksum = le64_to_cpu(hdr.checksum);
	hdr.checksum = 0;
	xxh64_reset(&p->hash, 0);
	xxh64_update(&p->hash, &hdr, sizeof(hdr));
}

static int mlx5c_parse_verify(struct mlx5c_parser *p)
{
	if (p->version == MLX5C_STREAM_V1)
		return 0;
	return xxh64_digest(&p->hash) == p->rec_checksum ? 0 : -EBADMSG;
}

/* A whole header arrived: check it and set up for the payload. */
static int mlx5c_parse_header(struct mlx5c_parser *p)
{
	const struct mlx5c_mig_header_v2 *hdr = &p->hdr;
	u32 flags = le32_to_cpu(hdr->flags);
	u64 size = le64_to_cpu(hdr->record_size);

	p->hdr_len = 0;
	p->rec_size = size;
	p->rec_tag = le32_to_cpu(hdr->tag);
	p->rec_pos = 0;
	if (flags & ~MLX5C_MIG_F_OPTIONAL)
		return -EINVAL;

	/* The first record says which version the stream is. */
	if (!p->version) {
		if (p->rec_tag == MLX5C_MIG_TAG_VERSION) {
			if (flags != MLX5C_MIG_F_MANDATORY ||
			    size != sizeof(struct mlx5c_mig_version))
				return -EINVAL;
			p->state = MLX5C_PARSE_PAYLOAD;
			return 0;
		}
		p->version = MLX5C_STREAM_V1;
	}
	if (p->version >= MLX5C_STREAM_V2)
		mlx5c_parse_hash_header(p);

	switch (p->rec_tag) {
	case MLX5C_MIG_TAG_FW_DATA:
		/* Version 3: one part of an image, of bounded size. */
		if (p->version == MLX5C_STREAM_V3 ?
		    size < MLX5C_IMAGE_HDR_SIZE + MLX5C_IMAGE_PART_SIZE ||
		    size > mlx5c_part_max_size() :
		    size < MLX5C_IMAGE_HDR_SIZE || size > p->max_image)
			return -EINVAL;
		p->state = MLX5C_PARSE_PAYLOAD;
		return mlx5c_parse_reserve(p, size);
	case MLX5C_MIG_TAG_STOP_COPY_SIZE:
		if (size != sizeof(struct mlx5c_mig_stop_copy_size))
			return -EINVAL;
		p->state = MLX5C_PARSE_PAYLOAD;
		return 0;
	case MLX5C_MIG_TAG_VERSION:
		return -EINVAL;		/* only as the first record */
	default:
		if (!(flags & MLX5C_MIG_F_OPTIONAL))
			return -EOPNOTSUPP;
		if (size > p->max_image)
			return -EINVAL;
		if (size) {
			p->state = MLX5C_PARSE_SKIP;
			return 0;
		}
		p->state = MLX5C_PARSE_HEADER;
		return mlx5c_parse_verify(p);
	}
}

/* The VERSION record's payload: the versions with one are 2 and 3. */
static int mlx5c_parse_version(struct mlx5c_parser *p)
{
	u32 version = le32_to_cpu(p->ver.version);

	if (p->ver.reserved)
		return -EINVAL;
	if (version != MLX5C_STREAM_V2 && version != MLX5C_STREAM_V3) {
		p->bad_version = version;
		p->version_refused = true;
		return -EPROTONOSUPPORT;
	}
	p->version = version;
	return 0;
}

/* A whole payload arrived: verify it, then act on it. */
static int mlx5c_parse_record(struct mlx5c_parser *p)
{
	u64 size;
	int ret;

	if (!p->version)
		return mlx5c_parse_version(p);
	ret = mlx5c_parse_verify(p);
	if (ret)
		return ret;
	if (p->rec_tag == MLX5C_MIG_TAG_FW_DATA) {
		ret = p->load(p->ctx, p->version, p->buf, p->rec_size);
		if (ret < 0)
			return ret;
		/* Version 3: a part that did not end its image. */
		p->in_image = !ret;
		if (ret)
			p->images++;
		return 0;
	}
	size = le64_to_cpu(p->scs.size);
	if (!size)
		return -EINVAL;
	/* Version 3 parts are small: nothing to allocate ahead. */
	if (p->version == MLX5C_STREAM_V3)
		return 0;
	if (size > p->max_image)
		return -EINVAL;
	return mlx5c_parse_reserve(p, size);
}

static void *mlx5c_parse_dest(struct mlx5c_parser *p)
{
	if (p->state == MLX5C_PARSE_SKIP)
		return NULL;
	if (p->rec_tag == MLX5C_MIG_TAG_FW_DATA)
		return p->buf;
	if (p->rec_tag == MLX5C_MIG_TAG_VERSION)
		return &p->ver;
	return &p->scs;
}

/* Copy (or skip) up to @len payload bytes; returns how many, or -errno. */
static ssize_t mlx5c_parse_payload(struct mlx5c_parser *p,
				   const char __user *ubuf, size_t len)
{
	u8 *dest = mlx5c_parse_dest(p);
	size_t n = min_t(u64, len, p->rec_size - p->rec_pos);
	bool hash = p->version != MLX5C_STREAM_V1;

	if (dest) {
		dest += p->rec_pos;
	} else if (hash) {
		/* A skipped payload is hashed through a small buffer. */
		dest = p->skip;
		n = min(n, sizeof(p->skip));
	} else {
		return n;
	}
	if (copy_from_user(dest, ubuf, n))
		return -EFAULT;
	if (hash)
		xxh64_update(&p->hash, dest, n);
	return n;
}

ssize_t mlx5c_parse(struct mlx5c_parser *p, const char __user *ubuf,
		    size_t len)
{
	size_t done = 0, n, hdr_size;
	ssize_t copied;
	int ret;

	while (done < len) {
		if (p->state == MLX5C_PARSE_HEADER) {
			hdr_size = mlx5c_parse_hdr_size(p);
			n = min(len - done, hdr_size - p->hdr_len);
			if (copy_from_user(p->hdr_bytes + p->hdr_len, ubuf + done,
					   n))
				return -EFAULT;
			p->hdr_len += n;
			done += n;
			if (p->hdr_len < hdr_size)
				continue;
			ret = mlx5c_parse_header(p);
			if (ret)
				return ret;
			continue;
		}

		copied = mlx5c_parse_payload(p, ubuf + done, len - done);
		if (copied < 0)
			return copied;
		p->rec_pos += copied;
		done += copied;
		if (p->rec_pos < p->rec_size)
			continue;
		if (p->state == MLX5C_PARSE_SKIP) {
			p->state = MLX5C_PARSE_HEADER;
			ret = mlx5c_parse_verify(p);
		} else {
			p->state = MLX5C_PARSE_HEADER;
			ret = mlx5c_parse_record(p);
		}
		if (ret)
			return ret;
	}
	return done;
}

bool mlx5c_parse_complete(const struct mlx5c_parser *p)
{
	return p->state == MLX5C_PARSE_HEADER && !p->hdr_len && p->images &&
	       !p->in_image;
}

void mlx5c_parse_free(struct mlx5c_parser *p)
{
	mlx5c_free(p->buf);
	p->buf = NULL;
	p->buf_size = 0;
}

void mlx5c_record_seal(struct mlx5c_mig_header_v2 *hdr, const void *payload)
{
	struct xxh64_state state;

	hdr->checksum = 0;
	xxh64_reset(&state, 0);
	xxh64_update(&state, hdr, sizeof(*hdr));
	xxh64_update(&state, payload, le64_to_cpu(hdr->record_size));
	hdr->checksum = cpu_to_le64(xxh64_digest(&state));
}
