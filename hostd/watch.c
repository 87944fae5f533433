// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * watch.c - redraw a screen every few seconds, like watch(1) and top(1).
 *
 * On a terminal the screen is redrawn in place: cursor home, each line
 * cleared to its end and cut to the terminal's width (a wrapped line would
 * push the next frame down), the rest of the screen cleared, the cursor
 * hidden meanwhile. Elsewhere (a pipe, a file) each frame is printed in
 * full after a line with its time, so that a log of it reads like a series
 * of `dmemctl status` runs. Ctrl-C (or SIGTERM) ends it with status 0, the
 * cursor shown again; so does a reader that went away (a closed pipe).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "watch.h"

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static guint terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* @line cut to @width characters (UTF-8), in place. */
static void cut(char *line, guint width)
{
	if (g_utf8_validate(line, -1, NULL) && g_utf8_strlen(line, -1) > (glong)width)
		*g_utf8_offset_to_pointer(line, width) = '\0';
	else if (strlen(line) > width)
		line[width] = '\0';
}

/* FALSE when stdout is gone (a closed pipe: `dmemctl status -w | head`). */
static gboolean draw(const char *title, const char *screen, gboolean tty)
{
	g_auto(GStrv) lines = g_strsplit(screen, "\n", -1);
	guint width = tty ? terminal_width() : G_MAXUINT;
	g_autoptr(GString) out = g_string_new(tty ? "\033[H" : "");
	guint n = g_strv_length(lines);

	/* The text ends with a newline: no empty last line. */
	if (n && lines[n - 1][0] == '\0')
		n--;
	if (tty) {
		g_autofree char *t = g_strdup(title);

		cut(t, width);
		g_string_append_printf(out, "%s\033[K\n", t);
	} else {
		g_string_append_printf(out, "%s\n", title);
	}
	for (guint i = 0; i < n; i++) {
		if (tty)
			cut(lines[i], width);
		g_string_append(out, lines[i]);
		g_string_append(out, tty ? "\033[K\n" : "\n");
	}
	g_string_append(out, tty ? "\033[J" : "\n");
	return fwrite(out->str, 1, out->len, stdout) == out->len && fflush(stdout) == 0;
}

/* Sleep until @until_us (monotonic) or a stop request. */
static void sleep_until(gint64 until_us)
{
	while (!stop_requested) {
		gint64 left = until_us - g_get_monotonic_time();
		struct timespec ts;

		if (left <= 0)
			return;
		ts.tv_sec = left / G_USEC_PER_SEC;
		ts.tv_nsec = (left % G_USEC_PER_SEC) * 1000;
		/* A signal ends it early (no SA_RESTART). */
		if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
			return;
	}
}

int dmem_watch(const char *what, guint interval_ms, DmemWatchRender render,
	       gpointer data)
{
	struct sigaction sa = { .sa_handler = on_stop }, old_int, old_term;
	gboolean tty = isatty(STDOUT_FILENO);
	gint64 next = g_get_monotonic_time();

	stop_requested = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (tty)
		fputs("\033[?25l\033[H\033[2J", stdout);	/* hide, clear */
	while (!stop_requested) {
		g_autoptr(GString) screen = g_string_new(NULL);
		g_autoptr(GDateTime) now = g_date_time_new_now_local();
		g_autofree char *clock = g_date_time_format(now, "%H:%M:%S");
		g_autofree char *title = g_strdup_printf("%s, every %u.%u s  %s%s", what,
							 interval_ms / 1000,
							 interval_ms % 1000 / 100, clock,
							 tty ? "  (Ctrl-C to quit)" : "");

		render(screen, data);
		if (!draw(title, screen->str, tty))
			break;
		/* After a stop (Ctrl-Z) or a slow frame: no burst of frames. */
		next = MAX(next + (gint64)interval_ms * 1000, g_get_monotonic_time());
		sleep_until(next);
	}
	if (tty)
		fputs("\033[?25h", stdout);			/* show */
	fflush(stdout);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return 0;
}
