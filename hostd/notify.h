/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * notify.h - tell systemd about the daemon's state (Type=notify).
 *
 * The sd_notify(3) datagram protocol, written out so that dmemd needs no
 * libsystemd: without $NOTIFY_SOCKET every call does nothing.
 */
#ifndef DMEM_NOTIFY_H
#define DMEM_NOTIFY_H

#include <glib.h>

/* Send @fmt (e.g. "READY=1\nSTATUS=...") to systemd; FALSE on failure. */
gboolean dmem_notify(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif /* DMEM_NOTIFY_H */
