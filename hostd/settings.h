/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * settings.h - a VM's policy input from what libvirt says about it.
 *
 * Pure: the mechanism gathers the facts (persistent and live XML, the <dmem/>
 * metadata, balloon and guest statistics), this resolves them against
 * dmemd.conf into a DmemVmInput, and decides whether the VM can be managed at
 * all. A VM that lacks something dmemd needs gets an unmanaged reason that
 * says what to add; it is never half-managed.
 */
#ifndef DMEM_SETTINGS_H
#define DMEM_SETTINGS_H

#include <glib.h>

#include "config.h"
#include "domxml.h"
#include "metadata.h"
#include "policy.h"

typedef struct {
	const char *name;

	/* Persistent definition: startup and maximum. */
	const DmemDomainXml *config;	/* NULL: could not be read */
	const char *config_error;
	/* Live definition: size, DIMMs, balloon device, NUMA. */
	const DmemDomainXml *live;	/* NULL: could not be read */
	const char *live_error;
	/* The <dmem/> element: absent, valid, or invalid with a reason. */
	const DmemMetadata *metadata;	/* NULL: absent or invalid */
	const char *metadata_error;	/* non-NULL: invalid */

	dmem_kib_t actual_kib;		/* balloon actual */
	gboolean target_known;
	dmem_kib_t target_kib;		/* what dmemd set last */
	dmem_kib_t rss_kib;		/* QEMU's resident memory; 0: unknown */
	gboolean has_disk_io;		/* the host's count of disk reads */
	guint64 disk_read_bytes, disk_write_bytes;
	const DmemGuestStats *stats;	/* NULL: none */
	/* A libvirt call in flight for the VM, and for how long; NULL: none. */
	const char *call_pending;
	gint64 call_pending_s;
	/* A decision on its way to libvirt. */
	gboolean apply_pending;
	dmem_kib_t pending_target_kib;
	guint pending_dimms;
	/* A DIMM being unplugged; a refused unplug's backoff still running. */
	gboolean unplugging;
	gboolean unplug_blocked;
	dmem_kib_t unplugged_kib;	/* since the guest's statistics */
} DmemVmFacts;

/*
 * startup and maximum from a persistent definition: <currentMemory>, and
 * <maxMemory> (the hot-add ceiling) or <memory> for a balloon-only VM.
 */
void dmem_settings_sizes(const DmemDomainXml *config, dmem_kib_t *startup_kib,
			 dmem_kib_t *maximum_kib);

/*
 * The Hyper-V rule: minimum <= startup <= maximum. NULL when @minimum_kib,
 * @startup_kib and @maximum_kib keep it; otherwise a one-line reason naming
 * the values (newly allocated), for `dmemctl set` and for the Unmanaged
 * reason of a VM whose metadata breaks it.
 */
char *dmem_settings_check_bounds(dmem_kib_t minimum_kib, dmem_kib_t startup_kib,
				 dmem_kib_t maximum_kib);

/*
 * Fill @in from @f. @reason (DMEM_REASON_MAX bytes) receives why the VM is
 * unmanaged, and in->unmanaged_reason points at it; otherwise it is NULL.
 */
void dmem_settings_resolve(const DmemConfig *cfg, const DmemVmFacts *f,
			   DmemVmInput *in, char *reason);

#endif /* DMEM_SETTINGS_H */
