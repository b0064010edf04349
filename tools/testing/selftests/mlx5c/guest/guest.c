// SPDX-License-Identifier: GPL-2.0
/*
 * The mlx5c test guest: a freestanding program that QEMU boots with
 * -kernel.  Like a guest driver, it finds the ivshmem-plain function
 * (1af4:1110) by scanning PCI config space through 0xcf8/0xcfc, places its
 * BAR2 at a 32-bit address of its own, turns memory decode on and then
 * keeps writing BAR2 until it is stopped:
 *
 *   page 0, word 0   GUEST_MAGIC
 *   page 0, word 1   the iteration counter c (evolves all the time)
 *   page 0, word 2   BAR2's size
 *   page 0, word 3   the window of pages written
 *   page 1 + c % window, word (c / window) % 1024:  c * 2654435761
 *
 * so a migrated copy is recognisable, and pages are dirtied at every
 * moment of a migration.  Progress goes to the serial port (COM1).
 *
 * With "rate=N" on its command line (QEMU's -append), it instead dirties N
 * distinct pages a second, paced by the ACPI PM timer: page
 * 1 + i % (pages - 1), word (i / (pages - 1)) % 1024 gets i * 2654435761,
 * and the window (word 3) is every page but page 0.  make bench uses it
 * for downtime against a dirty rate.
 */
#include <stdint.h>

#define GUEST_MAGIC	0x47584c4du	/* "MLXG" */
#define BAR2_BASE	0x80000000u	/* free on q35 with little RAM */
#define WINDOW		256u		/* pages 1..256 */
#define COM1		0x3f8
#define MB_LOADER_MAGIC	0x2badb002u
#define MB_INFO_CMDLINE	(1u << 2)
#define PM_TIMER	0x608		/* q35: SeaBIOS puts PMBASE at 0x600 */
#define PM_TIMER_HZ	3579545u

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc_serial(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, c);
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void puthex(uint32_t v)
{
	static const char digits[] = "0123456789abcdef";
	int i;

	puts_serial("0x");
	for (i = 28; i >= 0; i -= 4)
		putc_serial(digits[(v >> i) & 0xf]);
}

static uint32_t cfg_addr(uint32_t bdf, uint32_t off)
{
	return 0x80000000u | bdf << 8 | (off & 0xfc);
}

static uint32_t cfg_read(uint32_t bdf, uint32_t off)
{
	outl(0xcf8, cfg_addr(bdf, off));
	return inl(0xcfc);
}

static void cfg_write(uint32_t bdf, uint32_t off, uint32_t v)
{
	outl(0xcf8, cfg_addr(bdf, off));
	outl(0xcfc, v);
}

/* bus << 8 | dev << 3 | fn of the first 1af4:1110, or -1. */
static int32_t find_function(void)
{
	uint32_t bdf;

	for (bdf = 0; bdf < 0x10000; bdf++)
		if (cfg_read(bdf, 0) == 0x11101af4u)
			return bdf;
	return -1;
}

/* N of "rate=N" in the multiboot command line, or 0. */
static uint32_t cmdline_rate(uint32_t magic, const uint32_t *info)
{
	const char *s;
	uint32_t n = 0;

	if (magic != MB_LOADER_MAGIC || !(info[0] & MB_INFO_CMDLINE))
		return 0;
	for (s = (const char *)info[4]; *s; s++) {
		if (s[0] == 'r' && s[1] == 'a' && s[2] == 't' && s[3] == 'e' &&
		    s[4] == '=')
			break;
	}
	if (!*s)
		return 0;
	for (s += 5; *s >= '0' && *s <= '9'; s++)
		n = n * 10 + (uint32_t)(*s - '0');
	return n;
}

/* The PM timer's 24-bit count, extended to 64 bits by frequent reads. */
static uint64_t pm_ticks(void)
{
	static uint32_t last;
	static uint64_t total;
	uint32_t now = inl(PM_TIMER) & 0xffffff;

	total += (now - last) & 0xffffff;
	last = now;
	return total;
}

/* Dirty @rate distinct pages a second, forever. */
static void write_paced(volatile uint32_t *mem, uint32_t pages, uint32_t rate)
{
	uint32_t window = pages - 1, i;
	uint64_t start, n;

	mem[3] = window;
	pm_ticks();
	start = pm_ticks();
	for (n = 0; pm_ticks() == start; n++) {
		if (n > 100000000u) {
			puts_serial("mlx5c-guest: no ACPI PM timer\n");
			return;
		}
	}
	puts_serial("mlx5c-guest: running\n");
	for (i = 1;; i++) {
		uint32_t pg = 1 + i % window;
		uint32_t word = (i / window) % 1024;

		while ((pm_ticks() - start) * rate < (uint64_t)i * PM_TIMER_HZ)
			;
		mem[pg * 1024 + word] = i * 2654435761u;
		mem[1] = i;
	}
}

void guest_main(uint32_t magic, const uint32_t *info);

void guest_main(uint32_t magic, const uint32_t *info)
{
	volatile uint32_t *mem;
	uint32_t cmd, size, pages, window, c, rate;
	int32_t bdf;

	puts_serial("mlx5c-guest: scanning PCI\n");
	bdf = find_function();
	if (bdf < 0) {
		puts_serial("mlx5c-guest: no 1af4:1110 function\n");
		return;
	}
	cmd = cfg_read(bdf, 0x04) & 0xffff;
	cfg_write(bdf, 0x04, cmd & ~0x2u);	/* decode off while moving */
	cfg_write(bdf, 0x18, 0xffffffffu);
	size = ~(cfg_read(bdf, 0x18) & ~0xfu) + 1;
	cfg_write(bdf, 0x18, BAR2_BASE);
	if ((cfg_read(bdf, 0x18) & 0x6) == 0x4)	/* 64-bit BAR */
		cfg_write(bdf, 0x1c, 0);
	cfg_write(bdf, 0x04, cmd | 0x2u);
	puts_serial("mlx5c-guest: function ");
	puthex(bdf);
	puts_serial(" BAR2 at ");
	puthex(cfg_read(bdf, 0x18) & ~0xfu);
	puts_serial(" size ");
	puthex(size);
	puts_serial("\n");

	mem = (volatile uint32_t *)BAR2_BASE;
	pages = size / 4096;
	window = pages - 1 < WINDOW ? pages - 1 : WINDOW;
	mem[0] = GUEST_MAGIC;
	mem[2] = size;
	rate = cmdline_rate(magic, info);
	if (rate) {
		puts_serial("mlx5c-guest: pages a second ");
		puthex(rate);
		puts_serial("\n");
		write_paced(mem, pages, rate);
		return;
	}
	mem[3] = window;
	puts_serial("mlx5c-guest: running\n");
	for (c = 1;; c++) {
		uint32_t pg = 1 + c % window;
		uint32_t word = (c / window) % 1024;

		mem[pg * 1024 + word] = c * 2654435761u;
		mem[1] = c;
		if (!(c & 0xffffff)) {
			puts_serial("mlx5c-guest: ");
			puthex(c);
			puts_serial("\n");
		}
	}
}
