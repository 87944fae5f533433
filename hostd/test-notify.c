// SPDX-License-Identifier: GPL-2.0-or-later
/* test-notify.c - unit tests for notify.c: the sd_notify datagram. */
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "notify.h"

/* Bind a datagram socket at @path ('@': abstract); returns the fd. */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	gsize len = strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa,
			     offsetof(struct sockaddr_un, sun_path) + len +
			     (path[0] == '/')), ==, 0);
	return fd;
}

static void expect(int fd, const char *msg)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	g_assert_cmpint(n, >, 0);
	buf[n] = '\0';
	g_assert_cmpstr(buf, ==, msg);
}

static void test_path(void)
{
	g_autofree char *dir = g_dir_make_tmp("dmem-test-notify.XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "notify", NULL);
	int fd = listen_at(path);

	g_setenv("NOTIFY_SOCKET", path, TRUE);
	g_assert_true(dmem_notify("READY=1"));
	expect(fd, "READY=1");
	g_assert_true(dmem_notify("STATUS=managing %d VMs", 2));
	expect(fd, "STATUS=managing 2 VMs");
	close(fd);
	g_unlink(path);
	g_rmdir(dir);
}

static void test_abstract(void)
{
	g_autofree char *name = g_strdup_printf("@dmem-test-notify-%d", getpid());
	int fd = listen_at(name);

	g_setenv("NOTIFY_SOCKET", name, TRUE);
	g_assert_true(dmem_notify("STOPPING=1"));
	expect(fd, "STOPPING=1");
	close(fd);
}

static void test_unset(void)
{
	g_unsetenv("NOTIFY_SOCKET");
	g_assert_true(dmem_notify("READY=1"));	/* not under systemd: nothing */
	g_setenv("NOTIFY_SOCKET", "relative", TRUE);
	g_assert_false(dmem_notify("READY=1"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/notify/path", test_path);
	g_test_add_func("/notify/abstract", test_abstract);
	g_test_add_func("/notify/unset", test_unset);
	return g_test_run();
}
