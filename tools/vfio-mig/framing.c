// SPDX-License-Identifier: GPL-2.0
/*
 * Framing on a connection: chunk headers with their payload, control
 * messages, and the chunk checksum.
 * See transport_int.h and Documentation/vfio-mig.rst.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <xxhash.h>

#include "transport_int.h"

int ctrl_send(struct session *s, uint16_t type, const void *p,
		     uint16_t len)
{
	int ret;

	if (s->drop_ctrl && type == s->drop_ctrl) {
		if (s->drop_close)
			shutdown(s->ctrl_fd, SHUT_RDWR);
		return 0;
	}
	pthread_mutex_lock(&s->ctrl_wlock);
	ret = vmig_ctrl_send(s->ctrl_fd, type, p, len);
	pthread_mutex_unlock(&s->ctrl_wlock);
	return ret;
}

/*
 * The chunk checksum: the low 32 bits of XXH3-64 (libxxhash), computed on
 * the channel threads at both ends, so it scales with the channels.
 */
uint32_t vmig_chunk_sum(const void *data, size_t len)
{
	return (uint32_t)XXH3_64bits(data, len);
}

/* Receive one control message.  Returns 0, 1 at clean EOF, or -errno. */
int ctrl_recv(int fd, uint16_t *type, uint8_t *payload, uint16_t *len)
{
	uint8_t hdr[VMIG_CTRL_HDR_SIZE];
	ssize_t r;

	r = recv_full(fd, hdr, sizeof(hdr));
	if (r == 0)
		return 1;
	if (r < 0)
		return (int)r;
	if (r < (ssize_t)sizeof(hdr))
		return -ECONNABORTED;
	if (get_be32(hdr) != VMIG_CTRL_MAGIC)
		return -EPROTO;
	*type = get_be16(hdr + 4);
	*len = get_be16(hdr + 6);
	if (*len > VMIG_CTRL_MAX_PAYLOAD)
		return -EMSGSIZE;
	r = recv_full(fd, payload, *len);
	if (r < 0)
		return (int)r;
	if (r < *len)
		return -ECONNABORTED;
	return 0;
}

void error_payload(const uint8_t *p, uint16_t len, int *code,
			  char *msg, size_t msglen)
{
	size_t n = len >= 4 ? len - 4u : 0;

	*code = len >= 4 ? (int)get_be32(p) : EIO;
	if (n >= msglen)
		n = msglen - 1;
	memcpy(msg, p + 4, n);
	msg[n] = 0;
}

int tx_send_chunk(int fd, const struct vmig_chunk_hdr *h,
			 const void *data)
{
	uint8_t hdr[VMIG_CHUNK_HDR_SIZE];
	int ret;

	vmig_chunk_encode(h, hdr);
	ret = send_full(fd, hdr, sizeof(hdr));
	if (!ret && h->len)
		ret = send_full(fd, data, h->len);
	return ret;
}
