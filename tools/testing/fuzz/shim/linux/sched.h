/* SPDX-License-Identifier: GPL-2.0 */
/* Empty: kshim.h has what image.c uses from it. */
