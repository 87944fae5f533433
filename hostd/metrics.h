/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics.h - the published state as Prometheus metrics (interface layer).
 *
 * Text exposition format 0.0.4, for node_exporter's textfile collector
 * (on Debian, the *.prom files in /var/lib/prometheus/node-exporter). Sizes
 * in bytes, times in seconds; one series per running VM, labelled
 * domain="<name>". The metrics are listed in dmemd(8).
 */
#ifndef DMEM_METRICS_H
#define DMEM_METRICS_H

#include <glib.h>

#include "state.h"

/* The metrics of @s; newly allocated. */
char *dmem_metrics_format(const DmemState *s);

/*
 * Replace @path atomically (temporary file + rename, so node_exporter never
 * reads half a file), mode 0644: node_exporter runs as its own user. The
 * directory must exist.
 */
gboolean dmem_metrics_write(const DmemState *s, const char *path, GError **error);

#endif /* DMEM_METRICS_H */
