// SPDX-License-Identifier: GPL-2.0-or-later
/* test-settings.c - unit tests for settings.c */
#include <glib.h>

#include "settings.h"

#define MiB(x) ((dmem_kib_t)(x) * 1024)

typedef struct {
	DmemConfig cfg;
	DmemDomainXml config, live;
	DmemMetadata md;
	DmemGuestStats stats;
	DmemVmFacts f;
	DmemVmInput in;
	char reason[DMEM_REASON_MAX];
} Fixture;

/* A hot-add capable VM: startup 768, maxMemory 2048 with 8 slots, 1 DIMM. */
static void setup(Fixture *x, gconstpointer data)
{
	dmem_config_init(&x->cfg);
	x->config = (DmemDomainXml) {
		.memory_kib = MiB(768), .current_kib = MiB(768),
		.max_memory_kib = MiB(2048), .slots = 8, .numa_cells = 1,
		.has_balloon = TRUE, .balloon_model = "virtio",
	};
	x->live = x->config;
	x->live.memory_kib = MiB(1024);
	x->live.dimms = 1;
	x->live.dimm_kib = MiB(256);
	x->stats = (DmemGuestStats) { .last_update_s = 1 };
	x->f = (DmemVmFacts) {
		.name = "vm1", .config = &x->config, .live = &x->live,
		.actual_kib = MiB(900), .stats = &x->stats,
	};
}

static void teardown(Fixture *x, gconstpointer data)
{
	dmem_config_clear(&x->cfg);
}

static void resolve(Fixture *x)
{
	dmem_settings_resolve(&x->cfg, &x->f, &x->in, x->reason);
}

static void test_defaults(Fixture *x, gconstpointer data)
{
	resolve(x);
	g_assert_null(x->in.unmanaged_reason);
	g_assert_true(x->in.enabled);
	g_assert_cmpstr(x->in.name, ==, "vm1");
	g_assert_cmpuint(x->in.startup_kib, ==, MiB(768));
	g_assert_cmpuint(x->in.minimum_kib, ==, MiB(768));
	g_assert_cmpuint(x->in.maximum_kib, ==, MiB(2048));
	g_assert_cmpuint(x->in.buffer_percent, ==, 20);
	g_assert_cmpuint(x->in.weight, ==, 5000);
	g_assert_cmpuint(x->in.live_kib, ==, MiB(1024));
	g_assert_cmpuint(x->in.free_slots, ==, 7);
	g_assert_cmpuint(x->in.assigned_kib, ==, MiB(900));
	/* Unknown target: the balloon's size, so nothing jumps. */
	g_assert_cmpuint(x->in.target_kib, ==, MiB(900));
	g_assert_cmpint(x->in.stats.last_update_s, ==, 1);
}

static void test_metadata(Fixture *x, gconstpointer data)
{
	x->md = (DmemMetadata) {
		.has_minimum = TRUE, .minimum_mib = 512,
		.has_buffer = TRUE, .buffer_percent = 50,
		.has_weight = TRUE, .weight = 7,
		.has_enabled = TRUE, .enabled = FALSE,
	};
	x->f.metadata = &x->md;
	x->f.target_known = TRUE;
	x->f.target_kib = MiB(1000);
	resolve(x);
	g_assert_cmpuint(x->in.minimum_kib, ==, MiB(512));
	g_assert_cmpuint(x->in.buffer_percent, ==, 50);
	g_assert_cmpuint(x->in.weight, ==, 7);
	g_assert_false(x->in.enabled);
	g_assert_cmpuint(x->in.target_kib, ==, MiB(1000));
}

static void test_balloon_only(Fixture *x, gconstpointer data)
{
	x->config.max_memory_kib = 0;
	x->config.slots = 0;
	x->config.numa_cells = 0;
	x->config.memory_kib = MiB(4096);
	x->live = x->config;
	resolve(x);
	g_assert_null(x->in.unmanaged_reason);
	g_assert_cmpuint(x->in.maximum_kib, ==, MiB(4096));
	g_assert_cmpuint(x->in.free_slots, ==, 0);
}

static void expect_unmanaged(Fixture *x, const char *fragment)
{
	resolve(x);
	g_assert_nonnull(x->in.unmanaged_reason);
	if (!g_strrstr(x->in.unmanaged_reason, fragment))
		g_error("'%s' lacks '%s'", x->in.unmanaged_reason, fragment);
}

static void test_no_balloon(Fixture *x, gconstpointer data)
{
	x->live.has_balloon = FALSE;
	g_strlcpy(x->live.balloon_model, "none", sizeof(x->live.balloon_model));
	expect_unmanaged(x, "no memory balloon device");
}

static void test_xen_balloon(Fixture *x, gconstpointer data)
{
	g_strlcpy(x->live.balloon_model, "xen", sizeof(x->live.balloon_model));
	expect_unmanaged(x, "'xen' is not virtio");
}

static void test_no_numa(Fixture *x, gconstpointer data)
{
	x->live.numa_cells = 0;
	expect_unmanaged(x, "without a NUMA cell");
}

static void test_no_slots(Fixture *x, gconstpointer data)
{
	x->live.slots = 0;
	expect_unmanaged(x, "no slots");
}

static void test_maxmemory_not_live(Fixture *x, gconstpointer data)
{
	x->live.max_memory_kib = 0;
	expect_unmanaged(x, "restart the VM");
}

static void test_bad_metadata(Fixture *x, gconstpointer data)
{
	x->f.metadata_error = "invalid dmem metadata: weight=lots: not a whole number";
	expect_unmanaged(x, "weight=lots");
	/* Defaults, not half of a broken element. */
	g_assert_cmpuint(x->in.weight, ==, 5000);
}

static void test_unreadable(Fixture *x, gconstpointer data)
{
	x->f.live = NULL;
	x->f.live_error = "Domain not found";
	expect_unmanaged(x, "live definition: Domain not found");
	x->f.live = &x->live;
	x->f.config = NULL;
	expect_unmanaged(x, "persistent definition: unknown error");
}

static void test_slots_used_up(Fixture *x, gconstpointer data)
{
	x->live.dimms = 9;	/* more than slots: never underflows */
	resolve(x);
	g_assert_cmpuint(x->in.free_slots, ==, 0);
}

/* minimum <= startup <= maximum: metadata that breaks it, set with virsh,
 * makes the VM Unmanaged with the values named. */
static void test_minimum_above_startup(Fixture *x, gconstpointer data)
{
	x->md = (DmemMetadata) { .has_minimum = TRUE, .minimum_mib = 1024 };
	x->f.metadata = &x->md;
	expect_unmanaged(x, "minimum 1024 MiB is above startup 768 MiB "
			 "(minimum <= startup <= maximum)");
	x->md.minimum_mib = 768;	/* equal is fine */
	resolve(x);
	g_assert_null(x->in.unmanaged_reason);
}

static void test_check_bounds(Fixture *x, gconstpointer data)
{
	g_autofree char *ok = dmem_settings_check_bounds(MiB(512), MiB(512), MiB(2048));
	g_autofree char *low = dmem_settings_check_bounds(MiB(600), MiB(512), MiB(2048));
	g_autofree char *high = dmem_settings_check_bounds(MiB(256), MiB(4096), MiB(2048));

	g_assert_null(ok);
	g_assert_cmpstr(low, ==, "minimum 600 MiB is above startup 512 MiB "
			"(minimum <= startup <= maximum)");
	g_assert_cmpstr(high, ==, "startup 4096 MiB is above maximum 2048 MiB "
			"(minimum <= startup <= maximum)");
}

/* The hot-add ceiling and the live information come from the live XML. */
static void test_live_ceiling(Fixture *x, gconstpointer data)
{
	x->config.max_memory_kib = MiB(4096);	/* raised for the next boot */
	x->f.rss_kib = MiB(1100);
	x->f.call_pending = "hot-adding a DIMM";
	x->f.call_pending_s = 7;
	resolve(x);
	g_assert_null(x->in.unmanaged_reason);
	g_assert_cmpuint(x->in.maximum_kib, ==, MiB(4096));
	g_assert_cmpuint(x->in.hotadd_max_kib, ==, MiB(2048));
	g_assert_cmpuint(x->in.rss_kib, ==, MiB(1100));
	g_assert_cmpstr(x->in.call_pending, ==, "hot-adding a DIMM");
	g_assert_cmpint(x->in.call_pending_s, ==, 7);
	g_assert_false(x->in.target_known);
}

/* A memory device of the live or persistent definition. */
static void add_dimm(DmemDomainXml *x, const char *alias, dmem_kib_t kib, gboolean dimm)
{
	DmemDimm *m = &x->dimm_list[x->dimm_list_len++];

	g_strlcpy(m->alias, alias, sizeof(m->alias));
	m->size_kib = kib;
	m->slot = -1;
	m->dimm = dimm;
}

/*
 * Hot-remove: the DIMMs hot-added this boot are the live ones beyond the
 * persistent definition's, newest first; other models and DIMMs without an
 * alias are not; metadata overrides dmemd.conf.
 */
static void test_unplug(Fixture *x, gconstpointer data)
{
	resolve(x);
	g_assert_true(x->in.unplug_enabled);
	g_assert_cmpuint(x->in.removable_dimms, ==, 0);

	/* Booted with one DIMM (startup memory), three hot-added, one nvdimm. */
	add_dimm(&x->config, "", MiB(128), TRUE);
	add_dimm(&x->live, "dimm0", MiB(128), TRUE);
	add_dimm(&x->live, "dimm1", MiB(256), TRUE);
	add_dimm(&x->live, "nvdimm0", MiB(64), FALSE);
	add_dimm(&x->live, "dimm2", MiB(256), TRUE);
	add_dimm(&x->live, "dimm3", MiB(512), TRUE);
	resolve(x);
	g_assert_cmpuint(x->in.removable_dimms, ==, 3);
	g_assert_cmpuint(x->in.removable_kib[0], ==, MiB(512));
	g_assert_cmpuint(x->in.removable_kib[1], ==, MiB(256));
	g_assert_cmpuint(x->in.removable_kib[2], ==, MiB(256));

	/* The newest attached with --config too (its slot is defined): it
	 * is the VM's from the next boot on, and stays. */
	x->config.dimm_list[0].slot = 7;
	x->live.dimm_list[4].slot = 7;	/* dimm3 */
	resolve(x);
	g_assert_cmpuint(x->in.removable_dimms, ==, 3);
	g_assert_cmpuint(x->in.removable_kib[0], ==, MiB(256));
	x->live.dimm_list[4].slot = 3;
	x->config.dimm_list[0].slot = -1;

	/* A DIMM without an alias cannot be named: it and older ones stay. */
	x->live.dimm_list[2 + 1].alias[0] = '\0';	/* dimm2 */
	resolve(x);
	g_assert_cmpuint(x->in.removable_dimms, ==, 1);

	/* Off in dmemd.conf, on in the metadata, and the other way round. */
	x->cfg.unplug = FALSE;
	resolve(x);
	g_assert_false(x->in.unplug_enabled);
	x->md = (DmemMetadata) { .has_unplug = TRUE, .unplug = TRUE };
	x->f.metadata = &x->md;
	resolve(x);
	g_assert_true(x->in.unplug_enabled);
	x->cfg.unplug = TRUE;
	x->md.unplug = FALSE;
	resolve(x);
	g_assert_false(x->in.unplug_enabled);

	/* What the mechanism says passes through. */
	x->f.unplugging = TRUE;
	x->f.unplug_blocked = TRUE;
	resolve(x);
	g_assert_true(x->in.unplugging);
	g_assert_true(x->in.unplug_blocked);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
	ADD("/settings/defaults", test_defaults);
	ADD("/settings/metadata", test_metadata);
	ADD("/settings/balloon-only", test_balloon_only);
	ADD("/settings/unmanaged/no-balloon", test_no_balloon);
	ADD("/settings/unmanaged/xen-balloon", test_xen_balloon);
	ADD("/settings/unmanaged/no-numa", test_no_numa);
	ADD("/settings/unmanaged/no-slots", test_no_slots);
	ADD("/settings/unmanaged/maxmemory-not-live", test_maxmemory_not_live);
	ADD("/settings/unmanaged/bad-metadata", test_bad_metadata);
	ADD("/settings/unmanaged/unreadable", test_unreadable);
	ADD("/settings/slots-used-up", test_slots_used_up);
	ADD("/settings/unmanaged/minimum-above-startup", test_minimum_above_startup);
	ADD("/settings/check-bounds", test_check_bounds);
	ADD("/settings/live-ceiling", test_live_ceiling);
	ADD("/settings/unplug", test_unplug);
	return g_test_run();
}
