/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multiboot (v1) entry of the mlx5c test guest: QEMU's -kernel loader
 * enters here in 32-bit protected mode with flat segments, the loader's
 * magic in %eax and its information (the -append command line) in %ebx.
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	pushl %ebx
	pushl %eax
	call guest_main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.space 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
