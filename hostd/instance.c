// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * instance.c - the single-instance lock: flock(2) on "<state_file>.lock".
 *
 * flock() rather than fcntl() record locks: a record lock belongs to the
 * process and is dropped when the process closes any descriptor of the file,
 * a library that opens and closes it would silently unlock us. An flock()
 * lock belongs to the open file description, lives exactly as long as our
 * descriptor, and conflicts even with a second open() in the same process,
 * which is what the tests rely on.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "error.h"
#include "instance.h"

#define LOCK_SUFFIX ".lock"
#define LOCK_MODE 0640

char *dmem_instance_lock_path(const char *state_file)
{
	return g_strconcat(state_file, LOCK_SUFFIX, NULL);
}

static int open_lock(const char *path, GError **error)
{
	int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW;
	int fd = open(path, flags, LOCK_MODE);

	if (fd < 0 && errno == ENOENT) {
		g_autofree char *dir = g_path_get_dirname(path);

		if (g_mkdir_with_parents(dir, 0755) < 0) {
			int err = errno;

			g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
				    "cannot create %s: %s", dir, g_strerror(err));
			return -1;
		}
		fd = open(path, flags, LOCK_MODE);
	}
	if (fd < 0) {
		int err = errno;

		g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
			    "cannot open %s: %s", path, g_strerror(err));
	}
	return fd;
}

/* The holder's pid as it wrote it, or 0 (not written yet, or garbage). */
static gint64 holder_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	guint64 pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	g_strchomp(buf);
	if (!g_ascii_string_to_unsigned(buf, 10, 1, G_MAXINT, &pid, NULL))
		return 0;
	return (gint64)pid;
}

gboolean dmem_instance_set_pid(int fd, GError **error)
{
	char buf[32];
	int len = g_snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	int err = 0;

	errno = 0;
	if (ftruncate(fd, 0) < 0)
		err = errno;
	else if (pwrite(fd, buf, (size_t)len, 0) != len)
		err = errno ? errno : EIO;	/* a short write sets no errno */
	if (err) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
			    "cannot write the pid into the lock file: %s",
			    g_strerror(err));
		return FALSE;
	}
	return TRUE;
}

int dmem_instance_lock(const char *state_file, GError **error)
{
	g_autofree char *path = dmem_instance_lock_path(state_file);
	int fd = open_lock(path, error);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;
		gint64 pid = holder_pid(fd);

		if (err == EWOULDBLOCK && pid)
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
				    "another dmemd (pid %" G_GINT64_FORMAT ") is running: "
				    "%s is locked", pid, path);
		else if (err == EWOULDBLOCK)
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
				    "another dmemd is running: %s is locked", path);
		else
			g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
				    "cannot lock %s: %s", path, g_strerror(err));
		close(fd);
		return -1;
	}
	/* Ours now: whatever mode an old file had, and the umask, do not matter. */
	if (fchmod(fd, LOCK_MODE) < 0) {
		int err = errno;

		g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
			    "cannot set the mode of %s: %s", path, g_strerror(err));
		close(fd);
		return -1;
	}
	if (!dmem_instance_set_pid(fd, error)) {
		g_prefix_error(error, "%s: ", path);
		close(fd);
		return -1;
	}
	return fd;
}
