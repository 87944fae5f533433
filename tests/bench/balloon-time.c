// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * balloon-time: set a VM's balloon target and time how long QEMU takes to
 * report that the guest reached it.
 *
 *   balloon-time URI DOMAIN TARGET_MIB [TIMEOUT_S [POLL_MS]]
 *
 * Sets the live balloon target (virDomainSetMemoryFlags) and polls QEMU's
 * query-balloon every POLL_MS milliseconds (default 1) until "actual"
 * equals the target; prints the elapsed seconds. Polls QEMU directly
 * (libvirt-qemu) because libvirt's own view of "actual" follows QEMU's
 * BALLOON_CHANGE event, which QEMU throttles to one per second. Benchmark
 * tool only: it taints the domain.
 */
#define _GNU_SOURCE
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long actual_bytes(virDomainPtr dom)
{
	char *reply = NULL, *p;
	long long v = -1;

	if (virDomainQemuMonitorCommand(dom, "{\"execute\":\"query-balloon\"}",
					&reply, 0) < 0)
		return -1;
	p = strstr(reply, "\"actual\":");
	if (p)
		v = strtoll(p + 9, NULL, 10);
	free(reply);
	return v;
}

int main(int argc, char **argv)
{
	virConnectPtr conn;
	virDomainPtr dom;
	long long target;
	double t0, timeout;
	long poll_ms;

	if (argc < 4) {
		fprintf(stderr, "usage: balloon-time URI DOMAIN TARGET_MIB [TIMEOUT_S [POLL_MS]]\n");
		return 2;
	}
	target = atoll(argv[3]) << 20;
	timeout = argc > 4 ? atof(argv[4]) : 300;
	poll_ms = argc > 5 ? atol(argv[5]) : 1;
	if (poll_ms < 1 || poll_ms > 1000) {
		fprintf(stderr, "balloon-time: POLL_MS must be 1..1000\n");
		return 2;
	}
	conn = virConnectOpen(argv[1]);
	if (!conn)
		return 1;
	dom = virDomainLookupByName(conn, argv[2]);
	if (!dom)
		return 1;
	t0 = now();
	if (virDomainSetMemoryFlags(dom, target >> 10, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return 1;
	for (;;) {
		long long a = actual_bytes(dom);

		if (a == target)
			break;
		if (a < 0 || now() - t0 > timeout) {
			fprintf(stderr, "balloon-time: target not reached (actual %lld MiB)\n",
				a < 0 ? a : a >> 20);
			return 1;
		}
		nanosleep(&(struct timespec){ poll_ms / 1000,
					      (poll_ms % 1000) * 1000000L }, NULL);
	}
	printf("%.3f\n", now() - t0);
	virDomainFree(dom);
	virConnectClose(conn);
	return 0;
}
