// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * discard-replay: the host system call cost of a balloon inflate's discard,
 * replayed outside QEMU.
 *
 *   discard-replay MIB
 *
 * Maps MIB of anonymous memory in 4 KiB pages (MADV_NOHUGEPAGE: during a
 * balloon inflate the host faults the guest's zeroed pages in as 4 KiB
 * pages), writes every page, then discards it the way QEMU 7.2 does for a
 * virtio-balloon inflate of 4 KiB pages: one madvise(MADV_DONTNEED) per
 * 4 KiB page. Prints the seconds the discard took. Only the system calls:
 * none of QEMU's own work per page or per request, nor its other threads
 * (whose CPUs a discard may have to flush the TLB of).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t len, i;
	double t0;
	char *mem;

	if (argc != 2 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: discard-replay MIB\n");
		return 2;
	}
	len = (size_t)atol(argv[1]) << 20;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("discard-replay: mmap");
		return 1;
	}
	if (madvise(mem, len, MADV_NOHUGEPAGE))
		perror("discard-replay: madvise(MADV_NOHUGEPAGE)");
	for (i = 0; i < len; i += 4096)
		((volatile char *)mem)[i] = 1;
	t0 = now();
	for (i = 0; i < len; i += 4096)
		if (madvise(mem + i, 4096, MADV_DONTNEED)) {
			perror("discard-replay: madvise(MADV_DONTNEED)");
			return 1;
		}
	printf("%.3f\n", now() - t0);
	munmap(mem, len);
	return 0;
}
