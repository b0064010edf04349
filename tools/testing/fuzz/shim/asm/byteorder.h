/* SPDX-License-Identifier: GPL-2.0 */
/* Empty: kshim.h has the byte order helpers image.c uses. */
