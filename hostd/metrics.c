// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * metrics.c - format the published state as Prometheus metrics.
 *
 * Metrics are gauges: the state is a snapshot of one cycle. The exceptions
 * are a VM's unplug counts, counters of its boot: they start again from 0
 * when it restarts, which Prometheus' rate() and increase() allow for.
 */
#include <stddef.h>
#include <string.h>

#include "metrics.h"
#include "replace.h"

typedef enum {
	VALUE_KIB,	/* dmem_kib_t, published in bytes */
	VALUE_BOOL,	/* gboolean, 0 or 1 */
	VALUE_USEC,	/* gint64 microseconds, published in seconds */
	VALUE_COUNT,	/* guint */
	VALUE_TOTAL,	/* guint, a counter */
	VALUE_SET,	/* a string, 1 if there is one (not NULL), else 0 */
} ValueKind;

typedef struct {
	const char *name;
	const char *help;
	ValueKind kind;
	size_t offset;		/* of the value in DmemState or DmemStateVm */
	/* Only for VMs where the gboolean at this offset of DmemStateVm is
	 * set (the number is known); ALWAYS: every VM with live numbers. */
	gssize known;
} Metric;

#define ALWAYS ((gssize)-1)
#define KNOWN(field) ((gssize)G_STRUCT_OFFSET(DmemStateVm, field))

#define HOST(f) offsetof(DmemState, f)
#define VM(f) offsetof(DmemStateVm, f)

static const Metric host_metrics[] = {
	{ "dmem_pool_bytes", "Memory the managed VMs may hold together: host_pool_mib, "
	  "or MemAvailable plus what managed VMs hold minus host_reserve_mib.",
	  VALUE_KIB, HOST(pool_kib), ALWAYS },
	{ "dmem_committed_bytes", "Memory the managed VMs hold: the sum of their held memory.",
	  VALUE_KIB, HOST(committed_kib), ALWAYS },
	{ "dmem_free_bytes", "Pool minus committed memory, or 0.",
	  VALUE_KIB, HOST(free_kib), ALWAYS },
	{ "dmem_overcommit_bytes", "Committed memory minus the pool, or 0; should be 0 "
	  "(dmemd logs which VMs cause it).",
	  VALUE_KIB, HOST(overcommit_kib), ALWAYS },
	{ "dmem_minimums_bytes", "The sum of the managed VMs' minimum memory.",
	  VALUE_KIB, HOST(minimums_kib), ALWAYS },
	{ "dmem_uncooperative_bytes", "Memory held by uncooperative VMs (no driver, stale "
	  "statistics, a balloon that does not move).",
	  VALUE_KIB, HOST(uncooperative_kib), ALWAYS },
	{ "dmem_contention", "1 while some VM waits for memory that other VMs hold.",
	  VALUE_BOOL, HOST(contention), ALWAYS },
	{ "dmem_cycle_duration_seconds", "How long dmemd's last cycle took.",
	  VALUE_USEC, HOST(cycle_us), ALWAYS },
	{ "dmem_connected", "1 while dmemd is connected to libvirt.",
	  VALUE_BOOL, HOST(connected), ALWAYS },
	{ "dmem_last_cycle_timestamp_seconds", "When dmemd's last cycle ran, in seconds "
	  "since the epoch.",
	  VALUE_USEC, HOST(updated_us), ALWAYS },
};

static const Metric vm_metrics[] = {
	{ "dmem_vm_startup_bytes", "The VM's startup memory: its persistent boot memory.",
	  VALUE_KIB, VM(startup_kib), ALWAYS },
	{ "dmem_vm_minimum_bytes", "The least memory dmemd leaves the VM.",
	  VALUE_KIB, VM(minimum_kib), ALWAYS },
	{ "dmem_vm_maximum_bytes", "The most memory dmemd gives the VM, hot-added DIMMs "
	  "included.",
	  VALUE_KIB, VM(maximum_kib), ALWAYS },
	{ "dmem_vm_assigned_bytes", "Memory the guest has: its balloon's actual size.",
	  VALUE_KIB, VM(assigned_kib), ALWAYS },
	{ "dmem_vm_held_bytes", "Memory the VM holds on the host: at least its balloon "
	  "target and its assigned memory, and no less than its QEMU process's resident "
	  "memory minus QEMU's overhead.",
	  VALUE_KIB, VM(held_kib), ALWAYS },
	{ "dmem_vm_target_bytes", "The VM's balloon target.",
	  VALUE_KIB, VM(target_kib), ALWAYS },
	{ "dmem_vm_demand_bytes", "Memory the guest needs to perform well; absent while "
	  "unknown.",
	  VALUE_KIB, VM(demand_kib), KNOWN(demand_known) },
	{ "dmem_vm_ideal_bytes", "Memory dmemd wants the VM to have: demand plus buffer, "
	  "within minimum and maximum; absent while unknown.",
	  VALUE_KIB, VM(ideal_kib), KNOWN(demand_known) },
	{ "dmem_vm_hotadded_bytes", "Memory of the DIMMs hot-added to the VM.",
	  VALUE_KIB, VM(hotadded_kib), ALWAYS },
	{ "dmem_vm_dimms", "Hot-added DIMMs plugged into the VM.",
	  VALUE_COUNT, VM(dimms), ALWAYS },
	{ "dmem_vm_unplugging", "1 while a hot-added DIMM is being unplugged from the VM.",
	  VALUE_SET, VM(unplugging), ALWAYS },
	{ "dmem_vm_dimm_unplugs_total", "Hot-added DIMMs unplugged from the VM since it "
	  "started.",
	  VALUE_TOTAL, VM(unplugs), ALWAYS },
	{ "dmem_vm_dimm_unplug_refusals_total", "Unplugs of the VM's DIMMs its guest refused "
	  "or did not answer since it started; each is retried later, with backoff.",
	  VALUE_TOTAL, VM(unplug_refusals), ALWAYS },
	{ "dmem_vm_cache_bytes", "The guest's page cache (Buffers + Cached), as it "
	  "reports it; absent while unknown.",
	  VALUE_KIB, VM(cache_kib), KNOWN(cache_known) },
	{ "dmem_vm_hot_cache_bytes", "The part of the guest's page cache dmemd counts as "
	  "demand (its loss shows as disk reads); absent while not estimated.",
	  VALUE_KIB, VM(hot_cache_kib), KNOWN(hot_cache_known) },
	{ "dmem_vm_disk_read_bytes_per_second", "What the VM reads from its disks, as "
	  "QEMU counts it; absent while unknown.",
	  VALUE_KIB, VM(disk_read_kib_per_s), KNOWN(disk_io_known) },
	{ "dmem_vm_managed", "1 if dmemd manages the VM, 0 if it leaves it alone.",
	  VALUE_BOOL, VM(managed), ALWAYS },
};

/*
 * @v as decimal digits ending at @end; returns where they start. printf()
 * would be most of the cost of 10 series for each of 1000 VMs.
 */
static char *format_u64(char *end, guint64 v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/* @sep, the value and a line feed, with one append. */
static void append_value(GString *out, const char *sep, ValueKind kind,
			 const void *base, size_t offset)
{
	const char *field = (const char *)base + offset;
	char buf[64];
	char *end = buf + sizeof(buf), *p = end;
	gint64 us;
	guint64 abs_us;

	*--p = '\n';
	switch (kind) {
	case VALUE_KIB:
		p = format_u64(p, *(const dmem_kib_t *)field * 1024);
		break;
	case VALUE_BOOL:
		*--p = *(const gboolean *)field ? '1' : '0';
		break;
	case VALUE_COUNT:
	case VALUE_TOTAL:
		p = format_u64(p, *(const guint *)field);
		break;
	case VALUE_SET:
		*--p = *(const char *const *)field ? '1' : '0';
		break;
	case VALUE_USEC:
		/* Exact decimal seconds, whatever the locale's decimal point. */
		us = *(const gint64 *)field;
		abs_us = us < 0 ? -(guint64)us : (guint64)us;
		for (int i = 0; i < 6; i++, abs_us /= 10)
			*--p = (char)('0' + abs_us % 10);
		*--p = '.';
		p = format_u64(p, abs_us);
		if (us < 0)
			*--p = '-';
		break;
	}
	for (gsize n = strlen(sep); n; n--)
		*--p = sep[n - 1];
	g_string_append_len(out, p, end - p);
}

static void append_header(GString *out, const char *name, const char *help,
			  ValueKind kind)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
			       kind == VALUE_TOTAL ? "counter" : "gauge");
}

/* A label value: backslash, double quote and line feed are escaped. */
static void append_label_value(GString *out, const char *v)
{
	const char *p = v ? v : "";

	for (;;) {
		gsize run = strcspn(p, "\\\"\n");

		g_string_append_len(out, p, (gssize)run);
		p += run;
		if (*p == '\\')
			g_string_append_len(out, "\\\\", 2);
		else if (*p == '"')
			g_string_append_len(out, "\\\"", 2);
		else if (*p == '\n')
			g_string_append_len(out, "\\n", 2);
		else
			return;
		p++;
	}
}

/* {domain="<name>" without the closing brace, made once per VM. */
static char *domain_label(const DmemStateVm *vm)
{
	GString *out = g_string_new("{domain=\"");

	append_label_value(out, vm->name);
	g_string_append_c(out, '"');
	return g_string_free(out, FALSE);
}

/* A stopped VM has no live numbers: it has only its status. */
static gboolean has_live_numbers(const DmemStateVm *vm)
{
	return g_strcmp0(vm->state, "shut off") != 0;
}

/* Whether @vm has a series of @m; @label is NULL without live numbers. */
static gboolean has_series(const Metric *m, const DmemStateVm *vm, const char *label)
{
	return label && (m->known == ALWAYS ||
			 G_STRUCT_MEMBER(gboolean, (gpointer)vm, m->known));
}

char *dmem_metrics_format(const DmemState *s)
{
	guint n = s->vms->len;
	GString *out = g_string_sized_new(4096 + (gsize)n * 900);
	/* Each VM's {domain="..." once; NULL for a VM without live numbers. */
	g_autofree char **labels = g_new0(char *, n + 1);

	for (guint j = 0; j < n; j++)
		if (has_live_numbers(s->vms->pdata[j]))
			labels[j] = domain_label(s->vms->pdata[j]);

	for (gsize i = 0; i < G_N_ELEMENTS(host_metrics); i++) {
		const Metric *m = &host_metrics[i];

		append_header(out, m->name, m->help, m->kind);
		g_string_append(out, m->name);
		append_value(out, " ", m->kind, s, m->offset);
	}

	/* Each metric's series together, under one HELP and TYPE. */
	for (gsize i = 0; i < G_N_ELEMENTS(vm_metrics); i++) {
		const Metric *m = &vm_metrics[i];
		gsize name_len = strlen(m->name);
		gboolean header = FALSE;

		for (guint j = 0; j < n; j++) {
			const DmemStateVm *vm = s->vms->pdata[j];

			if (!has_series(m, vm, labels[j]))
				continue;
			if (!header)
				append_header(out, m->name, m->help, m->kind);
			header = TRUE;
			g_string_append_len(out, m->name, (gssize)name_len);
			g_string_append(out, labels[j]);
			append_value(out, "} ", m->kind, vm, m->offset);
		}
	}

	if (n)
		append_header(out, "dmem_vm_status", "The VM's status, with value 1: OK, "
			      "Low, Warning, NoDriver, Unresponsive or Unmanaged.",
			      VALUE_BOOL);
	for (guint j = 0; j < n; j++) {
		const DmemStateVm *vm = s->vms->pdata[j];

		g_string_append(out, "dmem_vm_status{domain=\"");
		append_label_value(out, vm->name);
		g_string_append(out, "\",status=\"");
		append_label_value(out, vm->status);
		g_string_append(out, "\"} 1\n");
		g_free(labels[j]);
	}
	return g_string_free(out, FALSE);
}

gboolean dmem_metrics_write(const DmemState *s, const char *path, GError **error)
{
	g_autofree char *text = dmem_metrics_format(s);

	return dmem_file_replace(path, text, strlen(text), 0644, DMEM_REPLACE_KEEP_GID,
				 FALSE, error);
}
