// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmem-agent: the test command channel, guest side.
 *
 * Runs in the test guest's initramfs on the virtio-serial port named
 * "org.dmem.agent". Each request is
 *
 *     "<id> <timeout_s> <len>\n" followed by <len> bytes of shell command
 *
 * and is answered with
 *
 *     "<id> <status> <len>\n" followed by <len> bytes of output
 *
 * where output is the command's stdout and stderr (at most 1 MiB kept) and
 * status its exit code (128+N if killed by signal N, 124 on timeout). The
 * agent itself is exempt from the OOM killer; the commands it runs are not.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT_NAME	"org.dmem.agent"
#define MAX_CMD		(64 * 1024)
#define MAX_OUT		(1024 * 1024)

static int port_fd = -1;

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int find_port(char *path, size_t len)
{
	struct dirent *de;
	DIR *d = opendir("/sys/class/virtio-ports");

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char f[512], name[128] = "";
		FILE *fp;

		snprintf(f, sizeof(f), "/sys/class/virtio-ports/%s/name",
			 de->d_name);
		fp = fopen(f, "r");
		if (!fp)
			continue;
		if (fgets(name, sizeof(name), fp))
			name[strcspn(name, "\n")] = 0;
		fclose(fp);
		if (!strcmp(name, PORT_NAME)) {
			snprintf(path, len, "/dev/%s", de->d_name);
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -1;
}

/*
 * Read exactly @len bytes; 0 on success, -1 if the rest of the request does
 * not come within 10 s. read() returns 0 while the port believes no host is
 * connected, which can be a moment's view (see write_full): wait it out.
 */
static int read_full(char *buf, size_t len)
{
	time_t deadline = time(NULL) + 10;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(port_fd, buf + got, len - got);

		if (n > 0) {
			got += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (time(NULL) >= deadline)
			return -1;
		msleep(10);
	}
	return 0;
}

/* Read one header line; waits (quietly) for a host to connect. */
static int read_line(char *buf, size_t len)
{
	size_t i = 0;

	while (i + 1 < len) {
		ssize_t n = read(port_fd, buf + i, 1);

		if (n == 1) {
			if (buf[i] == '\n') {
				buf[i] = 0;
				return 0;
			}
			i++;
		} else if (n == 0) {
			msleep(20);
		} else if (errno == EAGAIN || errno == EINTR) {
			struct pollfd p = { port_fd, POLLIN, 0 };

			poll(&p, 1, 1000);
		} else {
			return -1;
		}
	}
	return -1;
}

/*
 * Write all of @buf, never blocking for good. The port may report the host
 * as gone for a moment even though a request just came in: the "host
 * connected" notice travels on the control queue and can arrive after the
 * data. poll() then returns POLLHUP at once, so wait by the clock, not by
 * poll: up to 30 s.
 */
static void write_full(const char *buf, size_t len)
{
	time_t deadline = time(NULL) + 30;
	size_t done = 0;

	while (done < len && time(NULL) < deadline) {
		ssize_t n = write(port_fd, buf + done, len - done);

		if (n > 0)
			done += n;
		else
			msleep(10);
	}
	if (done < len)
		fprintf(stderr, "dmem-agent: reply cut short (%zu of %zu bytes)\n",
			done, len);
}

static int run(const char *cmd, int timeout_s, char *out, size_t *outlen)
{
	int pipefd[2], status = 0, timed_out = 0;
	time_t deadline = time(NULL) + timeout_s;
	size_t len = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return 125;
	pid = fork();
	if (pid < 0)
		return 125;
	if (pid == 0) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY);

		if (fd >= 0) {
			if (write(fd, "0", 1) < 0)
				_exit(126);
			close(fd);
		}
		setpgid(0, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		int left = (int)(deadline - time(NULL));
		char tmp[4096];
		ssize_t n;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, left * 1000) <= 0)
			continue;
		n = read(pipefd[0], tmp, sizeof(tmp));
		if (n <= 0)
			break;
		if (len + n > MAX_OUT)
			n = MAX_OUT - len;
		memcpy(out + len, tmp, n);
		len += n;
	}
	close(pipefd[0]);
	/* Output closed: the command (or whatever kept the pipe) is done. */
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*outlen = len;
	if (timed_out)
		return 124;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(void)
{
	static char cmd[MAX_CMD + 1], out[MAX_OUT];
	char path[300], hdr[128];
	int fd;

	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "-1000", 5) < 0)
			perror("oom_score_adj");
		close(fd);
	}
	signal(SIGPIPE, SIG_IGN);

	while (find_port(path, sizeof(path)) < 0)
		msleep(50);
	port_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (port_fd < 0) {
		perror(path);
		return 1;
	}
	fprintf(stderr, "dmem-agent: listening on %s\n", path);

	for (;;) {
		unsigned long id, len;
		size_t outlen = 0;
		int timeout, status;

		if (read_line(hdr, sizeof(hdr)) < 0)
			continue;
		if (sscanf(hdr, "%lu %d %lu", &id, &timeout, &len) != 3 ||
		    len > MAX_CMD || timeout <= 0)
			continue;
		if (read_full(cmd, len) < 0)
			continue;
		cmd[len] = 0;
		status = run(cmd, timeout, out, &outlen);
		snprintf(hdr, sizeof(hdr), "%lu %d %zu\n", id, status, outlen);
		write_full(hdr, strlen(hdr));
		write_full(out, outlen);
	}
}
