/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * status.h - `dmemctl status` output from the published state (pure).
 */
#ifndef DMEM_STATUS_H
#define DMEM_STATUS_H

#include <glib.h>

#include "state.h"

/* One aligned row per VM, sizes in human units, and a header line. */
char *dmem_status_table(const DmemState *s);

/*
 * The host line: "pool 6.0 GiB, committed 4.2 GiB, free 1.8 GiB,
 * overcommit 0", and while VMs hold more than the pool, a second line that
 * says which ones and why.
 */
char *dmem_status_host(const DmemState *s);

/* The whole state as one JSON object; sizes in KiB. */
char *dmem_status_json(const DmemState *s, const char *stale_reason);

/*
 * Why the state cannot be trusted, or NULL: the daemon that wrote it is gone
 * (@pid_alive FALSE), or it is older than a few intervals at @now_us.
 */
char *dmem_state_stale_reason(const DmemState *s, gint64 now_us,
			      gboolean pid_alive);

/*
 * NULL while dmemd is connected to libvirt; otherwise one line that says
 * so, since when (at @now_us, wall clock) and why, for dmemctl.
 */
char *dmem_status_disconnected(const DmemState *s, gint64 now_us);

/* A JSON string literal for @text, quotes included. */
void dmem_json_append_string(GString *out, const char *text);

#endif /* DMEM_STATUS_H */
