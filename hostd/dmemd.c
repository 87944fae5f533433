// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmemd.c - the host daemon: options, configuration, the main loop and the
 * cycle that ties collection, policy and actions together.
 *
 *   dmemd [--config FILE] [--foreground] [--connect URI] [--dry-run] [--version]
 *
 * One GMainLoop runs everything: signals (SIGTERM/SIGINT stop, SIGHUP reloads
 * the configuration), libvirt's events and keepalive (virt-conn.c), and the
 * cycle every interval_ms:
 *
 *   collect (virt-collect.c) -> resolve settings (settings.c)
 *     -> decide (policy.c) -> act (virt-act.c, virt-unplug.c)
 *     -> publish (state.c)
 *
 * Collecting and acting run in worker threads, one job per VM (virt-job.c):
 * the cycle starts the collection and decides when the facts are in (or at
 * the collect deadline, without the VMs whose QEMU did not answer).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "config.h"
#include "dmem_defaults.h"
#include "error.h"
#include "explain.h"
#include "hostmem.h"
#include "instance.h"
#include "metrics.h"
#include "notify.h"
#include "policy.h"
#include "settings.h"
#include "state.h"
#include "virt.h"

#define EXIT_USAGE 2

typedef struct {
	/* Command line. */
	char *config_path;	/* NULL: DMEM_CONFIG_PATH, optional */
	char *connect_uri;	/* overrides [daemon] uri */
	gboolean foreground;
	gboolean dry_run;
	gboolean version;

	DmemConfig cfg;
	GMainLoop *loop;
	guint cycle_source;
	guint peek_source;	/* fresh statistics between cycles */
	guint wake_source;	/* a cycle asked for between cycles */
	int exit_status;

	DmemVirt *virt;
	char *state_file;	/* fixed at start: where dmemctl looks */
	char *hostmem_error;	/* last failure to read MemAvailable */
	char *publish_error;	/* last failure to write the state */
	char *metrics_error;	/* last failure to write the metrics */
	char *notify_status;	/* last STATUS= sent to systemd */
	char *overcommit;	/* causes of the last overcommit logged */
	gint64 cycle_start_us;	/* of the cycle being collected */
	gint64 cycle_us;	/* how long the last cycle took */
} Dmemd;

static const char *config_path(const Dmemd *d)
{
	return d->config_path ? d->config_path : DMEM_CONFIG_PATH;
}

/* Load the configuration; only a file named with --config must exist. */
static gboolean load_config(const Dmemd *d, DmemConfig *cfg, GError **error)
{
	if (!dmem_config_load_file(cfg, config_path(d), d->config_path != NULL,
				   error))
		return FALSE;
	if (d->connect_uri) {
		g_free(cfg->uri);
		cfg->uri = g_strdup(d->connect_uri);
	}
	return TRUE;
}

static const char *domain_state_name(int state)
{
	switch (state) {
	case VIR_DOMAIN_RUNNING:	return "running";
	case VIR_DOMAIN_BLOCKED:	return "blocked";
	case VIR_DOMAIN_PAUSED:		return "paused";
	case VIR_DOMAIN_SHUTDOWN:	return "shutting down";
	case VIR_DOMAIN_SHUTOFF:	return "shut off";
	case VIR_DOMAIN_CRASHED:	return "crashed";
	case VIR_DOMAIN_PMSUSPENDED:	return "suspended";
	default:			return "unknown";
	}
}

static void notify_status(Dmemd *d, const char *status)
{
	if (g_strcmp0(status, d->notify_status) == 0)
		return;
	g_free(d->notify_status);
	d->notify_status = g_strdup(status);
	dmem_notify("STATUS=%s", status);
}

static void publish_vm(DmemState *st, const DmemVm *vm, gint64 now_us)
{
	const DmemVmDecision *dec = &vm->decision;
	DmemStateVm *s = dmem_state_add_vm(st);

	s->name = g_strdup(vm->name);
	s->uuid = g_strdup(vm->uuid);
	s->state = g_strdup(domain_state_name(vm->state));
	s->status = g_strdup(dmem_status_name(dec->status));
	s->reason = g_strdup(dec->reason);
	s->failure = g_strdup(vm->failure);
	s->managed = dec->managed;
	s->startup_kib = vm->input.startup_kib;
	s->minimum_kib = vm->input.minimum_kib;
	s->maximum_kib = vm->input.maximum_kib;
	s->assigned_kib = vm->actual_kib;
	s->target_kib = dec->managed ? dec->target_kib :
			vm->target_known ? vm->target_kib : vm->actual_kib;
	s->live_kib = vm->live.memory_kib;
	s->balloon_kib = vm->live.memory_kib > vm->actual_kib ?
			 vm->live.memory_kib - vm->actual_kib : 0;
	s->hotadded_kib = vm->live.dimm_kib;
	s->dimms = vm->live.dimms;
	s->demand_known = dec->demand_known;
	s->demand_kib = dec->demand_kib;
	s->ideal_kib = dec->ideal_kib;
	s->held_kib = dec->managed ? dec->held_kib : MAX(vm->actual_kib, vm->input.target_kib);
	s->rss_kib = vm->rss_kib;
	s->overhead_kib = dec->qemu_overhead_kib;
	s->held_for_s = dec->held_for_s;
	s->cache_known = dec->cache_known;
	s->cache_kib = dec->cache_kib;
	s->disk_io_known = dec->disk_io_known;
	s->disk_read_kib_per_s = dec->disk_read_kib_per_s;
	s->hot_cache_known = dec->demand_known && dec->cache_phase != DMEM_CACHE_OFF;
	s->hot_cache_kib = dec->hot_cache_kib;
	s->unplug_enabled = vm->input.unplug_enabled;
	if (vm->unplug_alias[0]) {
		s->unplugging = g_strdup(vm->unplug_alias);
		s->unplugging_kib = vm->unplug_kib;
		s->unplugging_ms = (now_us - vm->unplug_since_us) / 1000;
	}
	s->unplugs = vm->unplugs;
	s->unplug_refusals = vm->unplug_refusals;
	s->unplug_failure = g_strdup(vm->unplug_failure);
	s->unplug_retry_s = dmem_vm_unplug_blocked(vm, now_us) ?
			    (vm->unplug_retry_at_us - now_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC : 0;
	dmem_explain_record(&vm->input, dec, &s->decision);
}

/* The same state for node_exporter's textfile collector; errors once each. */
static void write_metrics(Dmemd *d, const DmemState *st)
{
	g_autoptr(GError) error = NULL;

	if (!dmem_metrics_write(st, d->cfg.metrics_file, &error)) {
		if (g_strcmp0(error->message, d->metrics_error) != 0)
			g_warning("cannot write the metrics: %s", error->message);
		g_free(d->metrics_error);
		d->metrics_error = g_strdup(error->message);
	} else if (d->metrics_error) {
		g_message("metrics written to %s again", d->cfg.metrics_file);
		g_clear_pointer(&d->metrics_error, g_free);
	}
}

/* Write the state file for dmemctl; @vms NULL while disconnected. */
static void publish(Dmemd *d, GPtrArray *vms, const DmemPolicyParams *p,
		    const DmemPoolDecision *pool, dmem_kib_t host_available_kib)
{
	g_autoptr(GError) error = NULL;
	DmemState st;

	dmem_state_init(&st);
	st.version = g_strdup(DMEM_VERSION);
	st.pid = getpid();
	st.updated_us = g_get_real_time();
	st.interval_ms = d->cfg.interval_ms;
	st.uri = g_strdup(d->cfg.uri);
	st.connected = dmem_virt_connected(d->virt);
	st.connection_error = g_strdup(d->virt->error);
	st.disconnected_since_us = d->virt->down_since_real_us;
	st.dry_run = d->dry_run;
	st.host_available_kib = host_available_kib;
	st.cycle_us = d->cycle_us;
	st.shrink_delay_s = p->shrink_delay_s;
	st.max_shrink_kib_per_s = p->max_shrink_kib_per_s;
	st.dimm_size_kib = p->dimm_size_kib;
	st.reclaim_unresponsive_s = p->reclaim_unresponsive_s;
	st.cache_aware = p->cache_aware;
	st.cache_probe_s = p->cache_probe_s;
	st.cache_reprobe_s = p->cache_reprobe_s;
	st.unplug_delay_s = p->unplug_delay_s;
	if (pool) {
		st.minimums_exceed_pool = pool->minimums_exceed_pool;
		st.pool_kib = pool->pool_kib;
		st.committed_kib = pool->committed_kib;
		st.free_kib = pool->free_kib;
		st.overcommit_kib = pool->overcommit_kib;
		st.overcommit_reason = pool->overcommit_reason[0] ?
				       g_strdup(pool->overcommit_reason) : NULL;
		st.minimums_kib = pool->minimums_kib;
		st.uncooperative_kib = pool->uncooperative_kib;
		st.contention = pool->contention;
	}
	for (guint i = 0; vms && i < vms->len; i++)
		publish_vm(&st, vms->pdata[i], g_get_monotonic_time());
	for (guint i = 0; vms && d->virt->inactive && i < d->virt->inactive->len; i++) {
		const DmemInactiveVm *vm = d->virt->inactive->pdata[i];
		DmemStateVm *s = dmem_state_add_vm(&st);

		s->name = g_strdup(vm->name);
		s->startup_kib = vm->startup_kib;
		s->maximum_kib = vm->maximum_kib;
		s->state = g_strdup("shut off");
		s->status = g_strdup(dmem_status_name(DMEM_STATUS_UNMANAGED));
		s->reason = g_strdup("not running");
	}

	if (!dmem_state_write(&st, d->state_file, &error)) {
		if (g_strcmp0(error->message, d->publish_error) != 0)
			g_warning("cannot publish the state for dmemctl: %s",
				  error->message);
		g_free(d->publish_error);
		d->publish_error = g_strdup(error->message);
	} else if (d->publish_error) {
		g_message("state published to %s again", d->state_file);
		g_clear_pointer(&d->publish_error, g_free);
	}
	if (d->cfg.metrics_file && *d->cfg.metrics_file)
		write_metrics(d, &st);
	dmem_state_clear(&st);

	if (!st.connected) {
		g_autofree char *status = g_strdup_printf("not connected to %s: %s",
							  d->cfg.uri,
							  d->virt->error ? d->virt->error : "connecting");

		notify_status(d, status);
	} else {
		guint managed = 0;
		g_autofree char *status = NULL;

		for (guint i = 0; vms && i < vms->len; i++)
			managed += ((DmemVm *)vms->pdata[i])->decision.managed;
		status = g_strdup_printf("managing %u of %u running VMs%s", managed,
					 vms ? vms->len : 0,
					 d->dry_run ? " (dry run)" : "");
		notify_status(d, status);
	}
}

static dmem_kib_t host_available(Dmemd *d)
{
	g_autoptr(GError) error = NULL;
	dmem_kib_t kib = 0;

	if (!dmem_host_available_kib(DMEM_PROC_MEMINFO, &kib, &error)) {
		if (g_strcmp0(error->message, d->hostmem_error) != 0)
			g_warning("%s; the pool is taken as empty (set host_pool_mib "
				  "to fix it)", error->message);
		g_free(d->hostmem_error);
		d->hostmem_error = g_strdup(error->message);
		return 0;
	}
	g_clear_pointer(&d->hostmem_error, g_free);
	return kib;
}

static gboolean status_is_fine(DmemStatus status)
{
	return status == DMEM_STATUS_OK || status == DMEM_STATUS_LOW;
}

/*
 * A VM's status, when it changes. OK <-> Low is routine while a VM grows:
 * debug only, so that the log shows problems and their end.
 */
static void log_status_change(const DmemVm *vm, gboolean decided, DmemStatus old)
{
	const DmemVmDecision *dec = &vm->decision;

	if (decided && old == dec->status)
		return;
	if (status_is_fine(dec->status) && (!decided || status_is_fine(old)))
		g_debug("%s: %s (%s)", vm->name, dmem_status_name(dec->status),
			dec->reason);
	else if (status_is_fine(dec->status))
		g_message("%s: %s again (%s)", vm->name,
			  dmem_status_name(dec->status), dec->reason);
	else
		g_warning("%s: %s: %s", vm->name, dmem_status_name(dec->status),
			  dec->reason);
}

/* The pool's overcommit, when it starts, changes its cause, and ends. */
static void log_overcommit(Dmemd *d, const DmemPoolDecision *pool)
{
	if (!pool->overcommit_kib) {
		if (d->overcommit)
			g_message("the pool is no longer overcommitted");
		g_clear_pointer(&d->overcommit, g_free);
		return;
	}
	if (g_strcmp0(d->overcommit, pool->overcommit_causes) == 0)
		return;
	g_warning("the pool (%" G_GUINT64_FORMAT " MiB) is overcommitted by %" G_GUINT64_FORMAT
		  " MiB: %s", dmem_kib_to_mib(pool->pool_kib),
		  dmem_kib_to_mib(pool->overcommit_kib), pool->overcommit_reason);
	g_free(d->overcommit);
	d->overcommit = g_strdup(pool->overcommit_causes);
}

/* The facts are in: decide, act, publish. */
static void on_collected(gpointer data)
{
	Dmemd *d = data;
	gint64 now_us = g_get_monotonic_time();
	g_autoptr(GPtrArray) vms = NULL;
	g_autofree DmemVmInput *in = NULL;
	g_autofree DmemVmState *st = NULL;
	g_autofree DmemVmDecision *out = NULL;
	DmemPoolDecision pool = { 0 };
	DmemPolicyParams params;
	DmemHostInput host;
	dmem_kib_t avail, resident = 0;

	dmem_policy_params_from_config(&params, &d->cfg);
	dmem_jobs_watch(d->virt, now_us);
	dmem_virt_unplug_watch(d->virt, now_us);
	avail = host_available(d);
	vms = dmem_virt_vms(d->virt);
	in = g_new0(DmemVmInput, MAX(vms->len, 1));
	st = g_new0(DmemVmState, MAX(vms->len, 1));
	out = g_new0(DmemVmDecision, MAX(vms->len, 1));

	for (guint i = 0; i < vms->len; i++) {
		DmemVm *vm = vms->pdata[i];
		DmemVmFacts facts = {
			.name = vm->name,
			.config = vm->config_ok ? &vm->config : NULL,
			.config_error = vm->config_error,
			.live = vm->live_ok ? &vm->live : NULL,
			.live_error = vm->live_error,
			.metadata = vm->has_metadata ? &vm->metadata : NULL,
			.metadata_error = vm->metadata_error,
			.actual_kib = vm->actual_kib,
			.target_known = vm->target_known,
			.target_kib = vm->target_kib,
			.rss_kib = vm->rss_kib,
			.has_disk_io = vm->has_disk_io,
			.disk_read_bytes = vm->disk_read_bytes,
			.disk_write_bytes = vm->disk_write_bytes,
			.stats = vm->have_stats ? &vm->stats : NULL,
			.apply_pending = vm->apply_pending,
			.pending_target_kib = vm->pending_target_kib,
			.pending_dimms = vm->pending_dimms,
			.unplugging = vm->unplug_alias[0] != '\0',
			.unplug_blocked = dmem_vm_unplug_blocked(vm, now_us),
			/* Same second: maybe before, maybe after. */
			.unplugged_kib = vm->have_stats &&
					 vm->stats.last_update_s > vm->unplugged_real_s ?
					 0 : vm->unplugged_kib,
		};

		facts.call_pending = dmem_job_pending(vm, now_us, &facts.call_pending_s);
		dmem_settings_resolve(&d->cfg, &facts, &vm->input, vm->reason_buf);
		in[i] = vm->input;
		st[i] = vm->policy;
		if (vm->input.enabled && !vm->input.unmanaged_reason)
			resident += dmem_policy_guest_resident_kib(&vm->input, &vm->policy);
	}

	host = (DmemHostInput) {
		.pool_kib = dmem_policy_pool_kib(&d->cfg, avail, resident),
		.now_us = now_us,
		.now_real_s = g_get_real_time() / G_USEC_PER_SEC,
	};
	dmem_policy_decide(&params, &host, in, st, out, vms->len, &pool);
	log_overcommit(d, &pool);

	for (guint i = 0; i < vms->len; i++) {
		DmemVm *vm = vms->pdata[i];
		DmemStatus old = vm->decision.status;

		vm->policy = st[i];
		vm->decision = out[i];
		log_status_change(vm, vm->decided, old);
		if (!g_log_writer_default_would_drop(G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
			g_debug("%s: %s, assigned %" G_GUINT64_FORMAT " target %" G_GUINT64_FORMAT
				" ideal %" G_GUINT64_FORMAT " allocation %" G_GUINT64_FORMAT
				" KiB, stats %" G_GINT64_FORMAT " s old: %s", vm->name,
				dmem_status_name(vm->decision.status), vm->input.assigned_kib,
				vm->decision.target_kib, vm->decision.ideal_kib,
				vm->decision.allocation_kib,
				vm->have_stats ? host.now_real_s - vm->stats.last_update_s : -1,
				vm->decision.reason);
		vm->decided = TRUE;
		dmem_virt_apply(d->virt, vm, d->cfg.dimm_size_kib, now_us, d->dry_run);
	}
	d->cycle_us = g_get_monotonic_time() - d->cycle_start_us;
	publish(d, vms, &params, &pool, avail);
}

/* One cycle: collect, then (on_collected) decide, act, publish. */
static void run_cycle(Dmemd *d, gboolean relist)
{
	DmemPolicyParams params;

	d->cycle_start_us = g_get_monotonic_time();
	if (d->wake_source) {
		/* This cycle reads what the wake was for. */
		g_source_remove(d->wake_source);
		d->wake_source = 0;
	}
	if (!dmem_virt_collect(d->virt, d->cycle_start_us, d->cfg.interval_ms, relist,
			       on_collected, d)) {
		dmem_policy_params_from_config(&params, &d->cfg);
		publish(d, NULL, &params, NULL, host_available(d));
	}
}

static gboolean on_cycle(gpointer user_data)
{
	run_cycle(user_data, TRUE);
	return G_SOURCE_CONTINUE;
}

static gboolean on_first_cycle(gpointer user_data)
{
	run_cycle(user_data, TRUE);
	return G_SOURCE_REMOVE;
}

static void schedule_cycle(Dmemd *d)
{
	if (d->cycle_source)
		g_source_remove(d->cycle_source);
	d->cycle_source = g_timeout_add(d->cfg.interval_ms, on_cycle, d);
}

/*
 * A guest's demand rose between cycles (virt-collect.c peeks at fresh
 * statistics): decide now. A cycle that is collecting decides on them: the
 * peek merged them before this call (and a balloon event its actual).
 */
static gboolean on_wake_due(gpointer user_data);

static void on_wake(gpointer user_data)
{
	Dmemd *d = user_data;
	gint64 since_us = g_get_monotonic_time() - d->cycle_start_us;

	if (d->virt->collected || d->wake_source)
		return;
	if (since_us < DMEM_WAKE_GAP_MS * 1000) {
		/* The last cycle began just before: this one a little later. */
		d->wake_source = g_timeout_add(DMEM_WAKE_GAP_MS - since_us / 1000,
					       on_wake_due, d);
		return;
	}
	/* On the VMs of the last list: no call on the main loop. The
	 * cycles every interval go on as they were. */
	run_cycle(d, FALSE);
}

static gboolean on_wake_due(gpointer user_data)
{
	Dmemd *d = user_data;

	d->wake_source = 0;
	on_wake(d);
	return G_SOURCE_REMOVE;
}

static gboolean on_peek(gpointer user_data)
{
	Dmemd *d = user_data;

	dmem_virt_peek(d->virt, g_get_monotonic_time());
	return G_SOURCE_CONTINUE;
}

static void log_config(const DmemConfig *cfg)
{
	g_autofree char *text = dmem_config_to_string(cfg);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (char **l = lines; *l; l++)
		if (**l && **l != '[')
			g_debug("config: %s", *l);
}

static gboolean on_quit_signal(gpointer user_data)
{
	Dmemd *d = user_data;

	g_message("signal received, stopping");
	dmem_notify("STOPPING=1");
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean on_reload_signal(gpointer user_data)
{
	Dmemd *d = user_data;
	g_autoptr(GError) error = NULL;
	DmemConfig cfg;

	dmem_config_init(&cfg);
	if (!load_config(d, &cfg, &error)) {
		g_warning("reload failed, keeping the current configuration: %s",
			  error->message);
		dmem_config_clear(&cfg);
		return G_SOURCE_CONTINUE;
	}
	dmem_notify("RELOADING=1");
	if (strcmp(cfg.uri, d->cfg.uri) != 0)
		g_warning("uri changed to %s: restart dmemd to reconnect (still using %s)",
			  cfg.uri, d->cfg.uri);
	if (strcmp(cfg.state_file, d->state_file) != 0)
		g_warning("state_file changed to %s: restart dmemd to move it (still %s)",
			  cfg.state_file, d->state_file);
	g_free(cfg.uri);
	cfg.uri = g_strdup(d->cfg.uri);

	dmem_config_clear(&d->cfg);
	d->cfg = cfg;
	schedule_cycle(d);
	g_message("configuration reloaded from %s", config_path(d));
	log_config(&d->cfg);
	dmem_notify("READY=1");
	return G_SOURCE_CONTINUE;
}

/*
 * Detach from the terminal. Errors from here on go to the journal: GLib's
 * default writer sends structured log entries there when it can.
 */
static gboolean daemonize(GError **error)
{
	if (daemon(0, 0) < 0) {
		int err = errno;

		g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
			    "cannot detach from the terminal: %s",
			    g_strerror(err));
		return FALSE;
	}
	return TRUE;
}

static gboolean parse_options(Dmemd *d, int *argc, char ***argv, GError **error)
{
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &d->config_path,
		  "Configuration file (default " DMEM_CONFIG_PATH
		  ", optional; a file given here must exist)", "FILE" },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &d->foreground,
		  "Stay in the foreground and log to stderr", NULL },
		{ "connect", 0, 0, G_OPTION_ARG_STRING, &d->connect_uri,
		  "libvirt URI (overrides [daemon] uri)", "URI" },
		{ "dry-run", 'n', 0, G_OPTION_ARG_NONE, &d->dry_run,
		  "Decide and log, but change no VM", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &d->version,
		  "Print the version and exit", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("- Dynamic Memory for KVM guests");

	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx,
		"Gives each managed libvirt/QEMU VM the memory it needs, between its\n"
		"minimum and maximum: balloon and DIMM hot-add, driven by the guest's\n"
		"memory demand. SIGHUP reloads the configuration.\n");
	if (!g_option_context_parse(ctx, argc, argv, error))
		return FALSE;
	if (*argc > 1) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "unexpected argument '%s'", (*argv)[1]);
		return FALSE;
	}
	if (d->connect_uri && *d->connect_uri == '\0') {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "--connect: the URI must not be empty");
		return FALSE;
	}
	return TRUE;
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	Dmemd d = { .exit_status = EXIT_SUCCESS };
	int lock_fd = -1;

	dmem_config_init(&d.cfg);

	if (!parse_options(&d, &argc, &argv, &error)) {
		g_printerr("dmemd: %s (see dmemd --help)\n", error->message);
		d.exit_status = EXIT_USAGE;
		goto out;
	}
	if (d.version) {
		printf("dmemd " DMEM_VERSION "\n");
		goto out;
	}
	if (!load_config(&d, &d.cfg, &error)) {
		g_printerr("dmemd: %s\n", error->message);
		d.exit_status = EXIT_FAILURE;
		goto out;
	}
	/* Before detaching, so that a second dmemd says why on the terminal. */
	lock_fd = dmem_instance_lock(d.cfg.state_file, &error);
	if (lock_fd < 0) {
		g_printerr("dmemd: %s\n", error->message);
		d.exit_status = EXIT_FAILURE;
		goto out;
	}
	if (!d.foreground && !daemonize(&error)) {
		g_printerr("dmemd: %s\n", error->message);
		d.exit_status = EXIT_FAILURE;
		goto out;
	}
	if (!d.foreground && !dmem_instance_set_pid(lock_fd, &error)) {
		g_warning("%s", error->message);
		g_clear_error(&error);
	}

	d.loop = g_main_loop_new(NULL, FALSE);
	/*
	 * libvirt's socket to a libvirtd that went away must give an error
	 * we handle (and reconnect after), not kill us.
	 */
	signal(SIGPIPE, SIG_IGN);
	g_unix_signal_add(SIGTERM, on_quit_signal, &d);
	g_unix_signal_add(SIGINT, on_quit_signal, &d);
	g_unix_signal_add(SIGHUP, on_reload_signal, &d);
	d.state_file = g_strdup(d.cfg.state_file);

	g_message("dmemd " DMEM_VERSION " started: uri=%s interval_ms=%u state_file=%s%s",
		  d.cfg.uri, d.cfg.interval_ms, d.state_file,
		  d.dry_run ? " (dry run: no VM is changed)" : "");
	log_config(&d.cfg);

	d.virt = dmem_virt_new(d.cfg.uri);
	d.virt->wake = on_wake;
	d.virt->wake_data = &d;
	dmem_virt_start(d.virt);
	d.peek_source = g_timeout_add(DMEM_PEEK_MS, on_peek, &d);
	/* The first cycle at once, but inside the loop: jobs report to it. */
	g_idle_add(on_first_cycle, &d);
	schedule_cycle(&d);
	dmem_notify("READY=1");

	g_main_loop_run(d.loop);

	if (d.cycle_source)
		g_source_remove(d.cycle_source);
	g_source_remove(d.peek_source);
	/* Calls that return while the jobs wind down start no cycle. */
	d.virt->wake = NULL;
	if (d.wake_source)
		g_source_remove(d.wake_source);
	dmem_virt_free(d.virt);
	/* dmemctl then says "not running" rather than showing old numbers. */
	if (unlink(d.state_file) < 0 && errno != ENOENT)
		g_warning("cannot remove %s: %s", d.state_file, g_strerror(errno));
	/* Stale series would look alive to Prometheus: remove them too. */
	if (d.cfg.metrics_file && *d.cfg.metrics_file &&
	    unlink(d.cfg.metrics_file) < 0 && errno != ENOENT)
		g_warning("cannot remove %s: %s", d.cfg.metrics_file, g_strerror(errno));
	g_message("dmemd stopped");
	g_main_loop_unref(d.loop);
out:
	if (lock_fd >= 0)
		close(lock_fd);
	g_free(d.state_file);
	g_free(d.hostmem_error);
	g_free(d.publish_error);
	g_free(d.metrics_error);
	g_free(d.notify_status);
	g_free(d.overcommit);
	dmem_config_clear(&d.cfg);
	g_free(d.config_path);
	g_free(d.connect_uri);
	return d.exit_status;
}
