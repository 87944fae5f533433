/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - dmemd.conf: the daemon's configuration (interface layer).
 *
 * Keys, defaults and ranges are the contract of DESIGN.md section 3; sizes are
 * written in MiB in the file and held in KiB (dmem_kib_t) here.
 */
#ifndef DMEM_CONFIG_H
#define DMEM_CONFIG_H

#include <glib.h>

#include "units.h"

typedef struct {
	/* [daemon] */
	char *uri;			/* libvirt connection URI */
	guint interval_ms;		/* policy cycle period */
	char *state_file;		/* published state, for dmemctl */
	char *metrics_file;		/* Prometheus metrics; NULL: none */

	/* [policy] defaults for VMs whose metadata does not say */
	guint buffer_percent;
	guint weight;
	/* [policy] host side */
	dmem_kib_t host_reserve_kib;	/* kept free for the host */
	dmem_kib_t host_pool_kib;	/* 0: MemAvailable - reserve */
	guint shrink_delay_s;		/* idle surplus must persist this long */
	dmem_kib_t max_shrink_kib_per_s;
	guint reclaim_unresponsive_s;	/* 0: never */
	gboolean cache_aware;		/* hot page cache is demand */
	guint cache_probe_s;		/* a cache probe watches this long */
	guint cache_reprobe_s;		/* a hot finding stands this long */

	/* [hotadd] */
	dmem_kib_t dimm_size_kib;
	gboolean unplug;		/* surplus DIMMs are unplugged */
	gboolean unplug_delay_set;	/* FALSE: empty, shrink_delay_s */
	guint unplug_delay_s;		/* a surplus DIMM must persist this long */
} DmemConfig;

/* Fill @cfg with the documented defaults. */
void dmem_config_init(DmemConfig *cfg);
/* Free what @cfg owns; @cfg may then be re-initialised. */
void dmem_config_clear(DmemConfig *cfg);
/* Deep copy. */
void dmem_config_copy(DmemConfig *dst, const DmemConfig *src);

/*
 * Load @path over the defaults. When @path does not exist, the defaults are
 * used if @must_exist is FALSE (the default path is optional), and it is an
 * error otherwise (a file named on the command line must be there). On error
 * @cfg is left untouched and @error names the file, group, key, value and the
 * valid range.
 */
gboolean dmem_config_load_file(DmemConfig *cfg, const char *path,
			       gboolean must_exist, GError **error);

/*
 * Load from memory; @name is what messages call the file. Used by
 * dmem_config_load_file() and the unit tests.
 */
gboolean dmem_config_load_data(DmemConfig *cfg, const char *data, gsize len,
			       const char *name, GError **error);

/* The configuration as a dmemd.conf text (all keys), for logs and tests. */
char *dmem_config_to_string(const DmemConfig *cfg);

/*
 * How long a whole hot-added DIMM must be surplus before it is unplugged:
 * unplug_delay_s when set, else shrink_delay_s.
 */
guint dmem_config_unplug_delay_s(const DmemConfig *cfg);

#endif /* DMEM_CONFIG_H */
