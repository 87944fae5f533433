// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * alloczero: time the guest kernel allocating and zeroing anonymous 4 KiB
 * pages, without any module: the guest-side floor of a balloon inflate.
 *
 *   alloczero -m MIB [-p]
 *
 * Maps MIB of anonymous memory, keeps transparent huge pages away
 * (MADV_NOHUGEPAGE: balloon pages are order 0), then has the kernel allocate
 * and zero every 4 KiB page: by writing one byte per page (one page fault
 * each), or with -p by MADV_POPULATE_WRITE (the kernel faults the range in
 * itself, no exception per page). Prints the seconds that took, then frees
 * the memory (not timed). Exits 1 if the memory cannot be had.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long mib = -1;
	int populate = 0, opt;
	size_t len, i;
	double t0, t1;
	char *mem;

	while ((opt = getopt(argc, argv, "m:p")) != -1) {
		switch (opt) {
		case 'm': mib = atol(optarg); break;
		case 'p': populate = 1; break;
		default:
			fprintf(stderr, "usage: alloczero -m MIB [-p]\n");
			return 2;
		}
	}
	if (mib <= 0) {
		fprintf(stderr, "alloczero: -m MIB is required and must be > 0\n");
		return 2;
	}
	len = (size_t)mib << 20;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("alloczero: mmap");
		return 1;
	}
	if (madvise(mem, len, MADV_NOHUGEPAGE))
		perror("alloczero: madvise(MADV_NOHUGEPAGE)");
	t0 = now();
	if (populate) {
		if (madvise(mem, len, MADV_POPULATE_WRITE)) {
			perror("alloczero: madvise(MADV_POPULATE_WRITE)");
			return 1;
		}
	} else {
		for (i = 0; i < len; i += 4096)
			((volatile char *)mem)[i] = 1;
	}
	t1 = now();
	printf("%.3f\n", t1 - t0);
	munmap(mem, len);
	return 0;
}
