// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replace.c - replace a published file atomically: temporary file in the
 * same directory (rename() is only atomic within one file system), owner and
 * mode set on the open descriptor, then rename() over the old file.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "error.h"
#include "replace.h"

static gboolean fail(GError **error, const char *what, const char *path, int err)
{
	g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED, "cannot %s %s: %s",
		    what, path, g_strerror(err));
	return FALSE;
}

/* 0, or the errno of the failure. */
static int write_all(int fd, const char *data, gsize len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		data += n;
		len -= (gsize)n;
	}
	return 0;
}

/*
 * A new, exclusively created file named after @tmpl (which must end in
 * XXXXXX; it receives the name): no reader holds it, and a link planted
 * under its name (in a directory others can write) is refused.
 */
static int open_temp(char *tmpl, const char *dir, gboolean make_dir,
		     GError **error)
{
	g_autofree char *pristine = g_strdup(tmpl);
	int fd = g_mkstemp_full(tmpl, O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0 && errno == ENOENT && make_dir) {
		/* Readers must reach the file whatever dmemd's umask. */
		if (g_mkdir_with_parents(dir, 0755) < 0 || chmod(dir, 0755) < 0) {
			fail(error, "create", dir, errno);
			return -1;
		}
		/* A failed attempt filled in the XXXXXX. */
		strcpy(tmpl, pristine);
		fd = g_mkstemp_full(tmpl, O_WRONLY | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		fail(error, "create a file in", dir, errno);
	return fd;
}

gboolean dmem_file_replace(const char *path, const char *data, gsize len,
			   mode_t mode, gid_t gid, gboolean make_dir,
			   GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *base = g_path_get_basename(path);
	/* Hidden, and not matching what readers look for (*.prom). */
	g_autofree char *tmp = g_strdup_printf("%s/.%s.XXXXXX", dir, base);
	int fd, err;

	fd = open_temp(tmp, dir, make_dir, error);
	if (fd < 0)
		return FALSE;
	/* Group first: a chown may clear mode bits, and it must fail early. */
	if (gid != DMEM_REPLACE_KEEP_GID && fchown(fd, (uid_t)-1, gid) < 0) {
		err = errno;
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
			    "cannot give %s to group %u: %s%s", path, (unsigned int)gid,
			    g_strerror(err),
			    err == EPERM ? " (dmemd needs CAP_CHOWN)" : "");
		goto fail;
	}
	if (fchmod(fd, mode) < 0) {
		fail(error, "set the mode of", tmp, errno);
		goto fail;
	}
	err = write_all(fd, data, len);
	if (err) {
		fail(error, "write", tmp, err);
		goto fail;
	}
	err = close(fd) < 0 ? errno : 0;
	fd = -1;
	if (err) {
		fail(error, "write", tmp, err);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		fail(error, "replace", path, errno);
		goto fail;
	}
	return TRUE;
fail:
	if (fd >= 0)
		close(fd);
	g_unlink(tmp);
	return FALSE;
}
