/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * state.h - the daemon's published state (interface layer).
 *
 * dmemd replaces the state file atomically after every cycle; dmemctl status
 * and explain read it. The format is a GKeyFile: a [dmemd] group, then one
 * [vm N] group per VM, sizes in KiB. It is documented in dmemd(8) so that
 * other tools (cluster schedulers) can read it too.
 */
#ifndef DMEM_STATE_H
#define DMEM_STATE_H

#include <glib.h>

#include "units.h"

typedef struct {
	char *name;
	char *uuid;
	char *state;		/* "running", "paused", "shut off", ... */
	char *status;		/* dmem_status_name() */
	char *reason;
	char *explain;		/* dmem_policy_explain(), multi-line */
	gboolean managed;
	dmem_kib_t startup_kib, minimum_kib, maximum_kib;
	dmem_kib_t assigned_kib;	/* balloon actual */
	dmem_kib_t target_kib;		/* balloon target */
	dmem_kib_t live_kib;		/* boot + hot-added */
	dmem_kib_t balloon_kib;		/* live - assigned: held by the balloon */
	dmem_kib_t hotadded_kib;	/* sum of the DIMMs */
	guint dimms;
	gboolean demand_known;
	dmem_kib_t demand_kib, ideal_kib;
	/*
	 * What the VM holds on the host: at least max(target, assigned), and
	 * no less than its QEMU process's resident memory (rss_kib) minus the
	 * learned QEMU overhead (overhead_kib). The pool is shared on this.
	 */
	dmem_kib_t held_kib;
	dmem_kib_t rss_kib;
	dmem_kib_t overhead_kib;
	/* Uncooperative (no driver, stale stats, stuck balloon or libvirt
	 * call): since how many seconds; 0: cooperative. */
	gint64 held_for_s;
} DmemStateVm;

typedef struct {
	char *version;
	gint64 pid;
	gint64 updated_us;	/* wall clock of the last cycle */
	guint interval_ms;
	char *uri;
	gboolean connected;
	char *connection_error;	/* while not connected */
	gint64 disconnected_since_us;	/* wall clock; 0: connected or unknown */
	gboolean dry_run;
	dmem_kib_t host_available_kib;
	dmem_kib_t pool_kib;		/* what managed VMs may hold together */
	dmem_kib_t committed_kib;	/* sum of managed VMs' held_kib */
	dmem_kib_t free_kib;		/* pool - committed, or 0 */
	dmem_kib_t overcommit_kib;	/* committed - pool, or 0 */
	char *overcommit_reason;	/* which VMs cause it, and why; NULL */
	dmem_kib_t minimums_kib;	/* sum of managed VMs' minimums */
	dmem_kib_t uncooperative_kib;	/* held by uncooperative VMs */
	gboolean contention;		/* some VM waits for others' memory */
	gint64 cycle_us;		/* how long the last cycle took */
	GPtrArray *vms;		/* DmemStateVm *, sorted by name */
} DmemState;

void dmem_state_init(DmemState *s);
void dmem_state_clear(DmemState *s);
DmemStateVm *dmem_state_add_vm(DmemState *s);

char *dmem_state_to_data(const DmemState *s, gsize *len);
gboolean dmem_state_from_data(DmemState *s, const char *data, gsize len,
			      const char *name, GError **error);

/*
 * Write atomically (temporary file + rename, no fsync), creating the
 * directory (0755) if needed. Mode 0640, group libvirt when that group
 * exists; otherwise 0600: root only.
 */
gboolean dmem_state_write(const DmemState *s, const char *path, GError **error);
gboolean dmem_state_read(DmemState *s, const char *path, GError **error);

#endif /* DMEM_STATE_H */
