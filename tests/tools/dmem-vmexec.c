// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmem-vmexec: run a shell command in a test guest through dmem-agent.
 *
 *   dmem-vmexec [-t TIMEOUT_S] [-w WAIT_S] SOCKET COMMAND
 *
 * SOCKET is the host end of the guest's "org.dmem.agent" virtio-serial
 * channel. Waits up to WAIT_S (default 0) for the guest to answer at all, so
 * that a freshly booted guest can be waited for without blind sleeps; then
 * gives the command TIMEOUT_S (default 60). Prints the command's output and
 * exits with its status; 124 on timeout, 125 on a channel failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_to(const char *path, double deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dmem-vmexec: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (now() > deadline) {
			fprintf(stderr, "dmem-vmexec: cannot connect to %s: %s\n",
				path, strerror(errno));
			return -1;
		}
		usleep(100 * 1000);
	}
}

/* Read exactly @len bytes before @deadline. */
static int read_full(int fd, char *buf, size_t len, double deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { fd, POLLIN, 0 };
		int ms = (int)((deadline - now()) * 1000);
		ssize_t n;

		if (ms <= 0)
			return -2;
		if (poll(&p, 1, ms) <= 0)
			continue;
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static int read_line(int fd, char *buf, size_t len, double deadline)
{
	size_t i;
	int r;

	for (i = 0; i + 1 < len; i++) {
		r = read_full(fd, buf + i, 1, deadline);
		if (r)
			return r;
		if (buf[i] == '\n') {
			buf[i] = 0;
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	int timeout = 60, wait_s = 0, opt, fd, status, r;
	unsigned long id, rid;
	double deadline;
	char hdr[128];
	size_t len;

	while ((opt = getopt(argc, argv, "t:w:")) != -1) {
		switch (opt) {
		case 't': timeout = atoi(optarg); break;
		case 'w': wait_s = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind != 2 || timeout <= 0 || wait_s < 0)
		goto usage;

	deadline = now() + wait_s + timeout + 5;
	fd = connect_to(argv[optind], now() + wait_s + 5);
	if (fd < 0)
		return 125;

	srandom((unsigned int)(now() * 1e6) ^ getpid());
	id = (unsigned long)random();
	len = strlen(argv[optind + 1]);
	snprintf(hdr, sizeof(hdr), "%lu %d %zu\n", id, timeout, len);
	if (write(fd, hdr, strlen(hdr)) != (ssize_t)strlen(hdr) ||
	    write(fd, argv[optind + 1], len) != (ssize_t)len) {
		perror("dmem-vmexec: write");
		return 125;
	}

	for (;;) {
		char *out;

		r = read_line(fd, hdr, sizeof(hdr), deadline);
		if (r == -2) {
			fprintf(stderr, "dmem-vmexec: no answer from the guest within %d s (request %lu)\n",
				wait_s + timeout + 5, id);
			return 124;
		}
		if (r || sscanf(hdr, "%lu %d %zu", &rid, &status, &len) != 3) {
			fprintf(stderr, "dmem-vmexec: channel closed or garbled\n");
			return 125;
		}
		out = malloc(len + 1);
		if (!out || read_full(fd, out, len, deadline)) {
			fprintf(stderr, "dmem-vmexec: short answer\n");
			return 125;
		}
		if (rid != id) {	/* a late answer to an earlier client */
			free(out);
			continue;
		}
		fwrite(out, 1, len, stdout);
		free(out);
		close(fd);
		return status;
	}
usage:
	fprintf(stderr, "usage: dmem-vmexec [-t TIMEOUT_S] [-w WAIT_S] SOCKET COMMAND\n");
	return 2;
}
