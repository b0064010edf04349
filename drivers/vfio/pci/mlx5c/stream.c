// SPDX-License-Identifier: GPL-2.0
/*
 * The record stream parser; see stream.h.
 */
#include <linux/minmax.h>
#include <linux/uaccess.h>

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

/* A whole header arrived: check it and set up for the payload. */
static int mlx5c_parse_header(struct mlx5c_parser *p)
{
	const struct mlx5c_mig_header *hdr = &p->hdr;
	u32 flags = le32_to_cpu(hdr->flags);
	u64 size = le64_to_cpu(hdr->record_size);

	p->hdr_len = 0;
	p->rec_size = size;
	p->rec_tag = le32_to_cpu(hdr->tag);
	p->rec_pos = 0;
	if (flags & ~MLX5C_MIG_F_OPTIONAL)
		return -EINVAL;

	switch (p->rec_tag) {
	case MLX5C_MIG_TAG_FW_DATA:
		if (size < sizeof(struct mlx5c_image_header) ||
		    size > p->max_image)
			return -EINVAL;
		p->state = MLX5C_PARSE_PAYLOAD;
		return mlx5c_parse_reserve(p, size);
	case MLX5C_MIG_TAG_STOP_COPY_SIZE:
		if (size != sizeof(struct mlx5c_mig_stop_copy_size))
			return -EINVAL;
		p->state = MLX5C_PARSE_PAYLOAD;
		return 0;
	default:
		if (!(flags & MLX5C_MIG_F_OPTIONAL))
			return -EOPNOTSUPP;
		if (size > p->max_image)
			return -EINVAL;
		p->state = size ? MLX5C_PARSE_SKIP : MLX5C_PARSE_HEADER;
		return 0;
	}
}

/* A whole payload arrived: act on it. */
static int mlx5c_parse_record(struct mlx5c_parser *p)
{
	u64 size;
	int ret;

	p->state = MLX5C_PARSE_HEADER;
	if (p->rec_tag == MLX5C_MIG_TAG_FW_DATA) {
		ret = p->load(p->ctx, p->buf, p->rec_size);
		if (!ret)
			p->images++;
		return ret;
	}
	size = le64_to_cpu(p->scs.size);
	if (!size || size > p->max_image)
		return -EINVAL;
	return mlx5c_parse_reserve(p, size);
}

static void *mlx5c_parse_dest(struct mlx5c_parser *p)
{
	if (p->state == MLX5C_PARSE_SKIP)
		return NULL;
	if (p->rec_tag == MLX5C_MIG_TAG_FW_DATA)
		return p->buf;
	return &p->scs;
}

ssize_t mlx5c_parse(struct mlx5c_parser *p, const char __user *ubuf,
		    size_t len)
{
	size_t done = 0, n;
	void *dest;
	int ret;

	while (done < len) {
		if (p->state == MLX5C_PARSE_HEADER) {
			n = min(len - done, MLX5C_HDR_SIZE - p->hdr_len);
			if (copy_from_user(p->hdr_bytes + p->hdr_len, ubuf + done,
					   n))
				return -EFAULT;
			p->hdr_len += n;
			done += n;
			if (p->hdr_len < MLX5C_HDR_SIZE)
				continue;
			ret = mlx5c_parse_header(p);
			if (ret)
				return ret;
			continue;
		}

		n = min_t(u64, len - done, p->rec_size - p->rec_pos);
		dest = mlx5c_parse_dest(p);
		if (dest && copy_from_user((u8 *)dest + p->rec_pos,
					   ubuf + done, n))
			return -EFAULT;
		p->rec_pos += n;
		done += n;
		if (p->rec_pos < p->rec_size)
			continue;
		if (p->state == MLX5C_PARSE_SKIP) {
			p->state = MLX5C_PARSE_HEADER;
			continue;
		}
		ret = mlx5c_parse_record(p);
		if (ret)
			return ret;
	}
	return done;
}

bool mlx5c_parse_complete(const struct mlx5c_parser *p)
{
	return p->state == MLX5C_PARSE_HEADER && !p->hdr_len && p->images;
}

void mlx5c_parse_free(struct mlx5c_parser *p)
{
	mlx5c_free(p->buf);
	p->buf = NULL;
	p->buf_size = 0;
}
