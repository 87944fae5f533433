// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * notify.c - sd_notify(3) without libsystemd.
 *
 * One datagram to the AF_UNIX socket named by $NOTIFY_SOCKET: a path, or an
 * abstract socket when it starts with '@'.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

gboolean dmem_notify(const char *fmt, ...)
{
	const char *path = g_getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	g_autofree char *msg = NULL;
	socklen_t salen;
	gsize len;
	va_list ap;
	ssize_t n;
	int fd;

	if (!path || !*path)
		return TRUE;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		g_debug("NOTIFY_SOCKET=%s: not a socket path, not notifying", path);
		return FALSE;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/');

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g_warning("cannot notify systemd: socket: %s", g_strerror(errno));
		return FALSE;
	}
	n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	if (n < 0)
		g_warning("cannot notify systemd via %s: %s", path, g_strerror(errno));
	close(fd);
	return n >= 0;
}
