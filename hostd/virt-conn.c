// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-conn.c - the libvirt connection: open, keepalive, domain events and
 * reconnection with backoff after libvirtd goes away.
 *
 * State changes are logged once each ("connected", "lost", "reconnected"),
 * never once per attempt: a host whose libvirtd is down for an hour gets two
 * lines, not thousands.
 */
#include <string.h>

#include <libvirt-glib/libvirt-glib.h>
#include <libvirt/virterror.h>

#include "virt.h"

enum {
	EV_LIFECYCLE, EV_BALLOON, EV_DEVICE_ADDED, EV_DEVICE_REMOVED,
	EV_DEVICE_REMOVAL_FAILED, EV_METADATA
};

const char *dmem_virt_error_message(void)
{
	const char *msg = virGetLastErrorMessage();

	return msg && *msg ? msg : "unknown libvirt error";
}

gboolean dmem_virt_error_domain_gone(void)
{
	int code = virGetLastErrorCode();

	return code == VIR_ERR_NO_DOMAIN || code == VIR_ERR_OPERATION_INVALID;
}

static void silence_libvirt(void *opaque, virErrorPtr err)
{
	/* libvirt prints every error by default; ours are logged with context. */
	(void)opaque;
	(void)err;
}

static DmemVm *vm_of(DmemVirt *v, virDomainPtr dom)
{
	char uuid[VIR_UUID_STRING_BUFLEN];

	if (virDomainGetUUIDString(dom, uuid) < 0)
		return NULL;
	return g_hash_table_lookup(v->vms, uuid);
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			int detail, void *opaque)
{
	DmemVirt *v = opaque;
	DmemVm *vm = vm_of(v, dom);

	g_debug("%s: lifecycle event %d/%d", virDomainGetName(dom), event, detail);
	v->inactive_stale = TRUE;
	if (vm && event == VIR_DOMAIN_EVENT_STARTED) {
		/*
		 * A new boot, whatever its domain id (ids start over when
		 * libvirtd restarts with no VM running): forget the old one;
		 * the next list starts it afresh.
		 */
		g_message("%s: started: managed afresh from its startup size", vm->name);
		g_hash_table_remove(v->vms, vm->uuid);
	} else if (vm) {
		vm->config_stale = vm->live_stale = vm->metadata_stale = TRUE;
	}
	return 0;
}

static int on_balloon(virConnectPtr conn, virDomainPtr dom,
		      unsigned long long actual_kib, void *opaque)
{
	DmemVirt *v = opaque;
	DmemVm *vm = vm_of(v, dom);

	if (!vm)
		return 0;
	/*
	 * Above what dmemd asked for and risen: the guest deflated on its
	 * own (out of memory, DEFLATE_ON_OOM). It is short now: decide at
	 * once.
	 */
	gboolean deflated = vm->target_known && !vm->apply_pending &&
			    actual_kib > vm->actual_kib &&
			    actual_kib > vm->target_kib + DMEM_BALLOON_TOLERANCE_KIB;

	vm->actual_kib = actual_kib;
	vm->actual_reported = TRUE;
	if (deflated && v->wake && !v->stopping) {
		g_debug("%s: the guest deflated its balloon on its own: deciding now",
			vm->name);
		v->wake(v->wake_data);
	}
	return 0;
}

static int on_device_added(virConnectPtr conn, virDomainPtr dom, const char *alias,
			   void *opaque)
{
	DmemVm *vm = vm_of(opaque, dom);

	g_debug("%s: device %s added", virDomainGetName(dom), alias);
	if (vm)
		vm->live_stale = TRUE;
	return 0;
}

/* A DIMM being unplugged ends here (virt-unplug.c). */
static int on_device_removed(virConnectPtr conn, virDomainPtr dom, const char *alias,
			     void *opaque)
{
	DmemVm *vm = vm_of(opaque, dom);

	g_debug("%s: device %s removed", virDomainGetName(dom), alias);
	if (!vm)
		return 0;
	vm->live_stale = TRUE;
	if (alias)
		dmem_virt_unplug_event(opaque, vm, alias, TRUE);
	return 0;
}

static int on_device_removal_failed(virConnectPtr conn, virDomainPtr dom,
				    const char *alias, void *opaque)
{
	DmemVm *vm = vm_of(opaque, dom);

	g_debug("%s: removal of device %s failed", virDomainGetName(dom), alias);
	if (vm && alias)
		dmem_virt_unplug_event(opaque, vm, alias, FALSE);
	return 0;
}

static int on_metadata(virConnectPtr conn, virDomainPtr dom, int type,
		       const char *nsuri, void *opaque)
{
	DmemVirt *v = opaque;
	DmemVm *vm;

	if (type != VIR_DOMAIN_METADATA_ELEMENT ||
	    g_strcmp0(nsuri, DMEM_METADATA_URI) != 0)
		return 0;
	vm = vm_of(v, dom);
	if (vm)
		vm->metadata_stale = TRUE;
	g_message("%s: dmem metadata changed", virDomainGetName(dom));
	return 0;
}

static void register_events(DmemVirt *v)
{
	static const struct {
		int id;
		virConnectDomainEventGenericCallback cb;
		const char *name;
	} events[] = {
		[EV_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE,
				   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), "lifecycle" },
		[EV_BALLOON] = { VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
				 VIR_DOMAIN_EVENT_CALLBACK(on_balloon), "balloon change" },
		[EV_DEVICE_ADDED] = { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
				      VIR_DOMAIN_EVENT_CALLBACK(on_device_added),
				      "device added" },
		[EV_DEVICE_REMOVED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
					VIR_DOMAIN_EVENT_CALLBACK(on_device_removed),
					"device removed" },
		[EV_DEVICE_REMOVAL_FAILED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
					       VIR_DOMAIN_EVENT_CALLBACK(on_device_removal_failed),
					       "device removal failed" },
		[EV_METADATA] = { VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
				  VIR_DOMAIN_EVENT_CALLBACK(on_metadata), "metadata change" },
	};

	G_STATIC_ASSERT(G_N_ELEMENTS(events) == G_N_ELEMENTS(v->callback_ids));
	for (gsize i = 0; i < G_N_ELEMENTS(events); i++) {
		v->callback_ids[i] = virConnectDomainEventRegisterAny(
			v->conn, NULL, events[i].id, events[i].cb, v, NULL);
		/* Without events dmemd still works, from its periodic refresh. */
		if (v->callback_ids[i] < 0)
			g_warning("%s: cannot subscribe to %s events: %s; relying on "
				  "periodic refresh", v->uri, events[i].name,
				  dmem_virt_error_message());
	}
}

static void deregister_events(DmemVirt *v)
{
	for (gsize i = 0; i < G_N_ELEMENTS(v->callback_ids); i++) {
		if (v->callback_ids[i] >= 0)
			virConnectDomainEventDeregisterAny(v->conn, v->callback_ids[i]);
		v->callback_ids[i] = -1;
	}
}

static gboolean on_teardown(gpointer data);

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	DmemVirt *v = opaque;
	static const char *const reasons[] = {
		[VIR_CONNECT_CLOSE_REASON_ERROR] = "connection error",
		[VIR_CONNECT_CLOSE_REASON_EOF] = "libvirtd closed the connection",
		[VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "libvirtd stopped answering keepalives",
		[VIR_CONNECT_CLOSE_REASON_CLIENT] = "closed by dmemd",
	};
	const char *why = reason >= 0 && reason < (int)G_N_ELEMENTS(reasons) &&
			  reasons[reason] ? reasons[reason] : "unknown reason";

	if (conn != v->conn || reason == VIR_CONNECT_CLOSE_REASON_CLIENT)
		return;
	g_free(v->error);
	v->error = g_strdup(why);
	/* Not from inside libvirt's callback: close it from the main loop. */
	if (!v->teardown_source)
		v->teardown_source = g_idle_add(on_teardown, v);
}

static void forget_domains(DmemVirt *v)
{
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		DmemVm *vm = value;

		if (vm->dom) {
			virDomainFree(vm->dom);
			vm->dom = NULL;
		}
		/* libvirtd may have been restarted with new definitions. */
		vm->config_stale = vm->live_stale = vm->metadata_stale = TRUE;
		vm->period_set = FALSE;
	}
}

static void disconnect(DmemVirt *v)
{
	if (!v->conn)
		return;
	deregister_events(v);
	virConnectUnregisterCloseCallback(v->conn, on_close);
	forget_domains(v);
	virConnectClose(v->conn);
	v->conn = NULL;
}

static gboolean on_reconnect(gpointer data);

static void schedule_reconnect(DmemVirt *v)
{
	if (v->reconnect_source)
		return;
	v->reconnect_source = g_timeout_add(v->backoff_ms, on_reconnect, v);
	v->backoff_ms = MIN(v->backoff_ms * 2, DMEM_RECONNECT_MAX_MS);
}

void dmem_virt_lost(DmemVirt *v, const char *why)
{
	if (!v->conn)
		return;
	g_warning("lost the connection to %s (%s): reconnecting", v->uri, why);
	if (why != v->error) {
		g_free(v->error);
		v->error = g_strdup(why);
	}
	disconnect(v);
	v->lost_at_us = g_get_monotonic_time();
	v->down_since_real_us = g_get_real_time();
	v->backoff_ms = DMEM_RECONNECT_FIRST_MS;
	schedule_reconnect(v);
}

static gboolean on_teardown(gpointer data)
{
	DmemVirt *v = data;

	v->teardown_source = 0;
	dmem_virt_lost(v, v->error);
	return G_SOURCE_REMOVE;
}

static gboolean try_connect(DmemVirt *v)
{
	virConnectPtr conn = virConnectOpen(v->uri);
	int ka;

	if (!conn) {
		const char *msg = dmem_virt_error_message();

		/* Report the first failure and every new reason, not each try. */
		if (v->attempts == 0 || g_strcmp0(msg, v->error) != 0)
			g_warning("cannot connect to %s: %s; retrying in the background",
				  v->uri, msg);
		g_free(v->error);
		v->error = g_strdup(msg);
		v->attempts++;
		if (!v->down_since_real_us)
			v->down_since_real_us = g_get_real_time();
		return FALSE;
	}
	v->conn = conn;

	ka = virConnectSetKeepAlive(conn, DMEM_KEEPALIVE_INTERVAL_S,
				    DMEM_KEEPALIVE_COUNT);
	if (ka < 0 && virGetLastErrorCode() == VIR_ERR_NO_SUPPORT)
		g_debug("%s: no keepalive: the driver runs in this process", v->uri);
	else if (ka < 0)
		g_warning("%s: cannot enable keepalive: %s; a hung libvirtd will "
			  "not be noticed", v->uri, dmem_virt_error_message());
	if (virConnectRegisterCloseCallback(conn, on_close, v, NULL) < 0)
		g_warning("%s: cannot watch the connection: %s", v->uri,
			  dmem_virt_error_message());
	register_events(v);

	if (v->lost_at_us)
		g_message("reconnected to %s after %" G_GINT64_FORMAT " s",
			  v->uri, (g_get_monotonic_time() - v->lost_at_us) / G_USEC_PER_SEC);
	else
		g_message("connected to %s", v->uri);
	g_clear_pointer(&v->error, g_free);
	v->attempts = 0;
	v->lost_at_us = 0;
	v->down_since_real_us = 0;
	v->ever_connected = TRUE;
	v->inactive_stale = TRUE;
	v->backoff_ms = DMEM_RECONNECT_FIRST_MS;
	return TRUE;
}

static gboolean on_reconnect(gpointer data)
{
	DmemVirt *v = data;

	v->reconnect_source = 0;
	if (!try_connect(v))
		schedule_reconnect(v);
	return G_SOURCE_REMOVE;
}

void dmem_virt_start(DmemVirt *v)
{
	if (!try_connect(v))
		schedule_reconnect(v);
}

gboolean dmem_virt_connected(DmemVirt *v)
{
	return v->conn != NULL;
}

DmemVirt *dmem_virt_new(const char *uri)
{
	static gsize event_loop_registered;
	DmemVirt *v = g_new0(DmemVirt, 1);

	/* Once per process, before the first connection. */
	if (g_once_init_enter(&event_loop_registered)) {
		virSetErrorFunc(NULL, silence_libvirt);
		gvir_event_register();
		g_once_init_leave(&event_loop_registered, 1);
	}
	v->uri = g_strdup(uri);
	for (gsize i = 0; i < G_N_ELEMENTS(v->callback_ids); i++)
		v->callback_ids[i] = -1;
	v->backoff_ms = DMEM_RECONNECT_FIRST_MS;
	v->vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
				       (GDestroyNotify)dmem_vm_free);
	dmem_jobs_init(v);
	return v;
}

void dmem_virt_free(DmemVirt *v)
{
	if (!v)
		return;
	if (v->reconnect_source)
		g_source_remove(v->reconnect_source);
	if (v->teardown_source)
		g_source_remove(v->teardown_source);
	if (v->collect_deadline)
		g_source_remove(v->collect_deadline);
	v->collect_deadline = 0;
	v->collected = NULL;
	dmem_jobs_shutdown(v);
	disconnect(v);
	g_hash_table_destroy(v->vms);
	if (v->inactive)
		g_ptr_array_unref(v->inactive);
	g_free(v->list_error);
	g_free(v->error);
	g_free(v->uri);
	g_free(v);
}
