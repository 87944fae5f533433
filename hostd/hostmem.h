/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostmem.h - the host's own memory: MemAvailable from /proc/meminfo.
 */
#ifndef DMEM_HOSTMEM_H
#define DMEM_HOSTMEM_H

#include <glib.h>

#include "units.h"

#define DMEM_PROC_MEMINFO "/proc/meminfo"

/* Find @field ("MemAvailable") in meminfo-formatted @text. Pure. */
gboolean dmem_meminfo_parse(const char *text, const char *field,
			    dmem_kib_t *kib_out, GError **error);

/* MemAvailable of the host, read from @path (DMEM_PROC_MEMINFO). */
gboolean dmem_host_available_kib(const char *path, dmem_kib_t *kib_out,
				 GError **error);

#endif /* DMEM_HOSTMEM_H */
