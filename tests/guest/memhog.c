// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * memhog: a guest workload that uses a chosen amount of anonymous memory.
 *
 *   memhog -m MIB [-s STEP_MIB] [-i INTERVAL_MS] [-t HOLD_S] [-p PIDFILE]
 *
 * Grows to MIB in steps of STEP_MIB (default: all at once) every INTERVAL_MS,
 * writing every page, then holds the memory for HOLD_S seconds (default:
 * until SIGTERM/SIGINT) while re-touching it, and exits 0. Prints one line
 * per step so a test can follow it. Exits 1 if memory cannot be had.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void touch(char *p, size_t len, unsigned char v)
{
	size_t i;

	for (i = 0; i < len; i += 4096)
		p[i] = (char)(v + (i >> 12));
}

int main(int argc, char **argv)
{
	long mib = -1, step = 0, interval_ms = 1000, hold_s = -1;
	const char *pidfile = NULL;
	size_t have = 0, total;
	char *mem;
	int opt;

	while ((opt = getopt(argc, argv, "m:s:i:t:p:")) != -1) {
		switch (opt) {
		case 'm': mib = atol(optarg); break;
		case 's': step = atol(optarg); break;
		case 'i': interval_ms = atol(optarg); break;
		case 't': hold_s = atol(optarg); break;
		case 'p': pidfile = optarg; break;
		default:
			fprintf(stderr, "usage: memhog -m MIB [-s STEP_MIB] [-i MS] [-t HOLD_S] [-p PIDFILE]\n");
			return 2;
		}
	}
	if (mib <= 0) {
		fprintf(stderr, "memhog: -m MIB is required and must be > 0\n");
		return 2;
	}
	if (step <= 0 || step > mib)
		step = mib;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", getpid());
			fclose(f);
		}
	}

	total = (size_t)mib << 20;
	mem = mmap(NULL, total, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("memhog: mmap");
		return 1;
	}
	while (have < total && !stop) {
		size_t n = (size_t)step << 20;

		if (n > total - have)
			n = total - have;
		touch(mem + have, n, 1);
		have += n;
		printf("memhog: %zu MiB\n", have >> 20);
		fflush(stdout);
		if (have < total)
			msleep(interval_ms);
	}
	printf("memhog: holding %zu MiB\n", have >> 20);
	fflush(stdout);
	for (long t = 0; !stop && (hold_s < 0 || t < hold_s * 10); t++) {
		msleep(100);
		if (t % 10 == 0)
			touch(mem, have, 2);
	}
	printf("memhog: done\n");
	return 0;
}
