/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * replace.h - replace a published file atomically.
 *
 * dmemd publishes files that others open at any moment (dmemctl reads the
 * state, node_exporter the metrics): a reader must see the old or the new
 * version, never half of one, and never a moment with wider permissions than
 * the file is meant to have.
 */
#ifndef DMEM_REPLACE_H
#define DMEM_REPLACE_H

#include <sys/types.h>

#include <glib.h>

/* Do not change the file's group. */
#define DMEM_REPLACE_KEEP_GID ((gid_t)-1)

/*
 * Write @len bytes of @data to a new file beside @path, give it @gid (unless
 * DMEM_REPLACE_KEEP_GID) and exactly @mode (whatever the umask), then rename
 * it over @path. With @make_dir, a missing parent directory is created (0755).
 *
 * There is no fsync: these files are rewritten every cycle and are worthless
 * after a crash, and an fsync per second would cost a disk flush per second
 * for nothing. rename() alone is what makes the replacement atomic for
 * readers.
 */
gboolean dmem_file_replace(const char *path, const char *data, gsize len,
			   mode_t mode, gid_t gid, gboolean make_dir,
			   GError **error);

#endif /* DMEM_REPLACE_H */
