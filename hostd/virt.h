/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virt.h - dmemd's mechanism: everything that talks to libvirt.
 *
 *   virt-conn.c     the connection: open, keepalive, events, reconnect
 *   virt-collect.c  one cycle's facts: bulk stats, XML and metadata caches
 *   virt-act.c      applying a decision: stats period, DIMMs, balloon target
 *
 * libvirt's event loop runs inside dmemd's GLib main loop
 * (gvir_event_register()); every call here is made from that one thread.
 *
 * Nothing here decides anything: the facts go to settings.c and policy.c,
 * and decisions come back to dmem_virt_apply().
 */
#ifndef DMEM_VIRT_H
#define DMEM_VIRT_H

#include <glib.h>
#include <libvirt/libvirt.h>

#include "domxml.h"
#include "metadata.h"
#include "policy.h"

/* Keepalive: a libvirtd that misses this many probes, this far apart, is gone. */
#define DMEM_KEEPALIVE_INTERVAL_S	5
#define DMEM_KEEPALIVE_COUNT		3
/* Reconnect backoff: from the first delay, doubling up to the last. */
#define DMEM_RECONNECT_FIRST_MS		500
#define DMEM_RECONNECT_MAX_MS		16000
/* XML caches are refreshed on events, and at least this often. */
#define DMEM_XML_REFRESH_S		15
/* A failing action on a VM is retried after 1, 2, 4 ... up to this many s. */
#define DMEM_ACTION_BACKOFF_MAX_S	60

/* One running domain, as dmemd knows it. */
typedef struct {
	char uuid[VIR_UUID_STRING_BUFLEN];
	char *name;
	virDomainPtr dom;		/* NULL while disconnected */
	int state;			/* virDomainState */
	gboolean seen;			/* in the last bulk stats */

	/* Caches, refreshed when an event marks them stale, and periodically. */
	gboolean config_stale, live_stale, metadata_stale;
	gint64 config_at_us, live_at_us;
	gboolean config_ok, live_ok;
	DmemDomainXml config;		/* persistent definition */
	DmemDomainXml live;		/* running definition */
	char *config_error, *live_error;
	gboolean has_metadata;
	DmemMetadata metadata;
	char *metadata_error;		/* the element is there but invalid */

	/* From the bulk stats (and BALLOON_CHANGE events). */
	dmem_kib_t actual_kib;
	gboolean actual_reported;	/* else: the live <currentMemory> */
	dmem_kib_t rss_kib;
	DmemGuestStats stats;
	gboolean have_stats;

	/*
	 * The balloon target. libvirt does not report it, so this is what
	 * dmemd set last. A VM seen for the first time (also after a dmemd
	 * restart) adopts its current balloon size: nothing jumps.
	 */
	gboolean target_known;
	dmem_kib_t target_kib;
	gboolean period_set;		/* stats period set by us this run */

	/* A failing action: retried with backoff, reported once per change. */
	guint failures;
	gint64 retry_at_us;
	char *failure;			/* "action: message" of the last failure */
	dmem_kib_t dry_run_target_kib;	/* last "would set" logged */
	guint dry_run_dimms;

	/* The last cycle. */
	DmemVmState policy;
	DmemVmInput input;
	DmemVmDecision decision;
	char reason_buf[DMEM_REASON_MAX];
	gboolean decided;
} DmemVm;

/* A defined, stopped domain: its persistent sizes, for dmemctl status. */
typedef struct {
	char *name;
	dmem_kib_t startup_kib, maximum_kib;	/* 0: its XML could not be read */
} DmemInactiveVm;

typedef struct {
	char *uri;
	virConnectPtr conn;		/* NULL while disconnected */
	int callback_ids[5];
	guint reconnect_source;
	guint teardown_source;
	guint backoff_ms;
	guint attempts;			/* failed connects since the last success */
	char *error;			/* why we are not connected */
	gint64 lost_at_us;
	gint64 down_since_real_us;	/* wall clock; 0 while connected */
	gboolean ever_connected;

	GHashTable *vms;		/* uuid -> DmemVm *, running domains */
	GPtrArray *inactive;		/* DmemInactiveVm *, sorted by name */
	gboolean inactive_stale;
	gint64 inactive_at_us;
	char *stats_error;		/* last bulk stats failure, logged once */
} DmemVirt;

/* virt-conn.c */
/*
 * Events only mark caches stale: the next cycle reads them. An extra cycle
 * would break the policy's per-cycle rate limits.
 */
DmemVirt *dmem_virt_new(const char *uri);
void dmem_virt_free(DmemVirt *v);
/* Connect now; on failure keep retrying with backoff in the background. */
void dmem_virt_start(DmemVirt *v);
gboolean dmem_virt_connected(DmemVirt *v);
/* Drop a broken connection and schedule a reconnect. */
void dmem_virt_lost(DmemVirt *v, const char *why);

/* virt-collect.c */
/* Refresh every running VM's facts. FALSE when not connected. */
gboolean dmem_virt_collect(DmemVirt *v, gint64 now_us);
/* The running VMs, sorted by name (a new array; the VMs are borrowed). */
GPtrArray *dmem_virt_vms(DmemVirt *v);
void dmem_vm_free(DmemVm *vm);
void dmem_inactive_vm_free(gpointer vm);

/* virt-act.c */
/*
 * Apply @vm->decision: stats period, DIMMs, balloon target. With @dry_run,
 * log what would be done instead.
 */
void dmem_virt_apply(DmemVirt *v, DmemVm *vm, dmem_kib_t dimm_size_kib,
		     gint64 now_us, gboolean dry_run);

/* Messages of the last libvirt error, for logs. */
const char *dmem_virt_error_message(void);
/* TRUE when the last error means "the domain is gone" (not worth a warning). */
gboolean dmem_virt_error_domain_gone(void);

#endif /* DMEM_VIRT_H */
