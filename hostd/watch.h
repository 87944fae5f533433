/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * watch.h - `dmemctl status --watch`: redraw a screen every few seconds.
 */
#ifndef DMEM_WATCH_H
#define DMEM_WATCH_H

#include <glib.h>

/* Append the screen's text (lines ending in '\n') to @screen. */
typedef void (*DmemWatchRender)(GString *screen, gpointer data);

/*
 * Render and draw every @interval_ms until SIGINT or SIGTERM, under a title
 * line naming @what: in place on a terminal, frame after frame otherwise.
 * Returns the exit status (0).
 */
int dmem_watch(const char *what, guint interval_ms, DmemWatchRender render,
	       gpointer data);

#endif /* DMEM_WATCH_H */
