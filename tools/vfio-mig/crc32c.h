/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VFIO_MIG_CRC32C_H
#define VFIO_MIG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), slicing-by-8.
 * crc32c(0, "123456789", 9) == 0xe3069283.  Pass the previous result as
 * @crc to continue a running checksum.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
