/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virt.h - dmemd's mechanism: everything that talks to libvirt.
 *
 *   virt-conn.c     the connection: open, keepalive, events, reconnect
 *   virt-job.c      running a VM's libvirt calls off the main loop
 *   virt-collect.c  one cycle's facts: per-VM stats, XML and metadata caches
 *   virt-act.c      applying a decision: stats period, DIMMs, balloon target
 *   virt-unplug.c   unplugging a DIMM and following it to its end
 *
 * libvirt's event loop runs inside dmemd's GLib main loop
 * (gvir_event_register()). Calls that reach a VM's QEMU (statistics, DIMM
 * attach, balloon target) or may wait for its domain job (XML, metadata)
 * run in a thread pool, at most one job per VM in flight, and their results
 * are handed back to the main loop: a QEMU that does not answer (stopped,
 * migrating, wedged) holds up its own VM and nobody else's. Only calls that
 * libvirtd answers by itself (listing domains) run on the main loop.
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
/*
 * Worker threads for healthy VMs; each VM whose call has not returned for
 * DMEM_JOB_STUCK_S takes one more, so stuck VMs never starve the others.
 */
#define DMEM_WORKERS			4
#define DMEM_JOB_STUCK_S		2
/* At exit, results of calls in flight are awaited this long, then dropped. */
#define DMEM_JOBS_EXIT_WAIT_MS		2000
/* The facts of a cycle are used once every job returned, or after this
 * share of the interval (VMs that did not answer are decided on the facts
 * they last gave, and reported once their call is overdue). */
#define DMEM_COLLECT_WAIT_PERCENT	40
/*
 * Between cycles, each managed guest's statistics are read again every
 * DMEM_PEEK_MS from DMEM_PEEK_LEAD_MS before they are due (the guest's
 * stats period after the last fresh ones) until they are fresh, and not
 * DMEM_PEEK_GIVE_UP_MS past the period without any: fresh ones that show
 * demand rising start a cycle at once, at most one per DMEM_WAKE_GAP_MS.
 */
#define DMEM_PEEK_MS			50
#define DMEM_PEEK_LEAD_MS		100
#define DMEM_PEEK_GIVE_UP_MS		3000
#define DMEM_WAKE_GAP_MS		200
/*
 * An unplug the guest has neither finished nor refused after this long is
 * given up (the guest cannot offline the memory, or has no ACPI hotplug).
 * A refused one is not tried again for DMEM_UNPLUG_BACKOFF_FIRST_S, then
 * twice as long after each refusal in a row, up to _MAX_S.
 */
#define DMEM_UNPLUG_TIMEOUT_S		20
/* A raise of the target before an unplug is waited for this long. */
#define DMEM_UNPLUG_RAISE_WAIT_MS	5000
#define DMEM_UNPLUG_BACKOFF_FIRST_S	300
#define DMEM_UNPLUG_BACKOFF_MAX_S	3600

typedef struct DmemJob DmemJob;

/* One running domain, as dmemd knows it. */
typedef struct {
	char uuid[VIR_UUID_STRING_BUFLEN];
	char *name;
	virDomainPtr dom;		/* NULL while disconnected */
	/*
	 * The domain id of this boot: everything below belongs to one boot
	 * of the domain. A new id (a restart, even one dmemd did not see)
	 * starts the VM afresh from its startup size.
	 */
	unsigned int id;
	int state;			/* virDomainState */
	gboolean seen;			/* in the last list of running domains */

	/* The job in flight for this VM (virt-job.c); NULL: none. */
	DmemJob *job;
	/*
	 * A decision on its way: applying (an apply job in flight), or
	 * waiting for the job in flight to return (apply_deferred). The
	 * policy counts it as done until it is.
	 */
	gboolean apply_pending, apply_deferred;
	dmem_kib_t pending_target_kib;
	guint pending_dimms;
	dmem_kib_t pending_dimm_kib;	/* the DIMM size when it was decided */
	char *pending_why;		/* why, when not the decision's */

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

	/* From the VM's stats (and BALLOON_CHANGE events). */
	dmem_kib_t actual_kib;
	gboolean actual_reported;	/* else: the live <currentMemory> */
	dmem_kib_t rss_kib;
	gboolean has_disk_io;		/* reads from all its disks, host side */
	guint64 disk_read_bytes, disk_write_bytes;
	DmemGuestStats stats;
	gboolean have_stats;
	/*
	 * When the guest's statistics last changed, as first seen (by a
	 * peek between cycles: within DMEM_PEEK_MS of their arrival), and
	 * the guest's stats period as the peeks measure it (0: not yet).
	 */
	gint64 stats_fresh_us;
	gboolean stats_fresh_by_peek;
	gint64 stats_period_us;

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
	gboolean dry_run_unplug;

	/*
	 * Hot-remove (virt-unplug.c): the DIMM being unplugged ("": none),
	 * its size, the balloon target once it is gone, when it was asked
	 * for, whether the detach call returned and what the guest said
	 * meanwhile (UNPLUG_*), and the DIMM last given up on (a late
	 * removal is still recognised).
	 */
	char unplug_alias[64];
	dmem_kib_t unplug_kib;
	dmem_kib_t unplug_target_kib;
	gint64 unplug_since_us;
	gboolean unplug_requested;
	int unplug_outcome;
	char unplug_late_alias[64];
	/* DIMM memory unplugged since when (wall clock, s): statistics
	 * from before still count it. */
	dmem_kib_t unplugged_kib;
	gint64 unplugged_real_s;
	guint unplugs;			/* DIMMs unplugged this boot */
	guint unplug_refusals;		/* refused or unanswered this boot */
	guint unplug_failures;		/* in a row: the backoff */
	gint64 unplug_retry_at_us;
	char *unplug_failure;		/* why the last one failed */

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
	int callback_ids[6];
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
	char *list_error;		/* last failure to list domains, logged once */

	/* Jobs (virt-job.c). */
	GThreadPool *workers;
	guint jobs;			/* in flight, collect and apply */
	gboolean stopping;		/* dmemd is stopping: no new job */
	guint stuck_jobs;		/* of which overdue */

	/* The collection in progress: done() once every job is back. */
	guint collecting;		/* collect jobs not back yet */
	guint collect_gen;		/* which collection a job belongs to */
	guint collect_deadline;		/* GSource */
	void (*collected)(gpointer data);
	gpointer collected_data;

	/* Asks for a cycle now: a guest's demand rose between cycles. */
	void (*wake)(gpointer data);
	gpointer wake_data;
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

/* virt-job.c */
typedef void (*DmemJobRun)(DmemJob *job);
/* On the main loop; @vm is NULL when the VM is gone or restarted meanwhile. */
typedef void (*DmemJobDone)(DmemVirt *v, DmemVm *vm, DmemJob *job);

struct DmemJob {
	char uuid[VIR_UUID_STRING_BUFLEN];
	unsigned int id;
	char *name;
	virDomainPtr dom;		/* a reference of the job's own */
	DmemJobRun run;			/* in a worker */
	DmemJobDone done;		/* on the main loop */
	/* The call in progress, a static string (atomic: read by the loop). */
	const char *what;
	gpointer data;
	GDestroyNotify free_data;
	/* When a worker started it (atomic; 0: waiting for a worker). */
	gint64 run_start_us;
	/* Main loop only. */
	gboolean stuck;			/* counted in DmemVirt.stuck_jobs */
};

void dmem_jobs_init(DmemVirt *v);
/* Wait for the jobs that can finish and drop the rest (at exit). */
void dmem_jobs_shutdown(DmemVirt *v);
/*
 * In a worker: is the job's domain still the boot it was submitted for? A
 * VM restarted since must not get the old boot's actions (its virDomainPtr
 * follows the name and uuid, not the boot). *@gone: it is not.
 */
gboolean dmem_job_same_boot(DmemJob *job, gboolean *gone);
/* Start @run for @vm in a worker; FALSE when a job is in flight already. */
gboolean dmem_job_submit(DmemVirt *v, DmemVm *vm, DmemJobRun run, DmemJobDone done,
			 gpointer data, GDestroyNotify free_data);
/* In a worker: say which call the job is in (a static string). */
void dmem_job_calling(DmemJob *job, const char *what);
/* The call @vm's job is in, or NULL; seconds in flight in @for_s. */
const char *dmem_job_pending(DmemVm *vm, gint64 now_us, gint64 *for_s);
/* Count overdue jobs, log a stall once per VM, grow the pool by them. */
void dmem_jobs_watch(DmemVirt *v, gint64 now_us);

/* virt-collect.c */
/*
 * List the running domains (with @relist; without, the last list stands:
 * a cycle between cycles makes no call on the main loop) and start a
 * collect job for each VM that has no job in flight; @done runs on the
 * main loop once all are back or the collect deadline passed. FALSE (and
 * no call) when not connected.
 */
gboolean dmem_virt_collect(DmemVirt *v, gint64 now_us, guint interval_ms, gboolean relist,
			   void (*done)(gpointer data), gpointer data);
/*
 * Between cycles (every DMEM_PEEK_MS): read the statistics of the managed
 * guests whose fresh ones are due; fresh ones that call for a cycle
 * (dmem_policy_needs_cycle()) call v->wake.
 */
void dmem_virt_peek(DmemVirt *v, gint64 now_us);
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
/* Apply the decision that waited for @vm's last job (virt-job.c). */
void dmem_virt_apply_deferred(DmemVirt *v, DmemVm *vm);
/*
 * Set @vm's balloon target to @target_kib (@why for the log), now or once
 * its job in flight returns.
 */
void dmem_virt_set_target(DmemVirt *v, DmemVm *vm, dmem_kib_t target_kib,
			  const char *why);

/* virt-unplug.c */
enum { UNPLUG_WAITING, UNPLUG_REMOVED, UNPLUG_REFUSED };
/* Unplug @vm's newest DIMM, as @vm->decision says (from dmem_virt_apply()). */
void dmem_virt_unplug(DmemVirt *v, DmemVm *vm, gint64 now_us);
/* libvirt says a device of @vm was removed, or that its removal failed. */
void dmem_virt_unplug_event(DmemVirt *v, DmemVm *vm, const char *alias,
			    gboolean removed);
/* Every cycle: give up unplugs the guest has not answered in time. */
void dmem_virt_unplug_watch(DmemVirt *v, gint64 now_us);
/* Does a refused unplug keep @vm from trying again now? */
gboolean dmem_vm_unplug_blocked(const DmemVm *vm, gint64 now_us);

/* Messages of the last libvirt error, for logs. */
const char *dmem_virt_error_message(void);
/* TRUE when the last error means "the domain is gone" (not worth a warning). */
gboolean dmem_virt_error_domain_gone(void);

#endif /* DMEM_VIRT_H */
