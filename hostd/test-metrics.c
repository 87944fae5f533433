// SPDX-License-Identifier: GPL-2.0-or-later
/* test-metrics.c - unit tests for metrics.c */
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "metrics.h"

#define MiB(x) ((dmem_kib_t)(x) * 1024)

static void fill(DmemState *s)
{
	DmemStateVm *vm;

	dmem_state_init(s);
	s->version = g_strdup("0.1.0");
	s->pid = 1234;
	s->updated_us = 1700000000250000;
	s->interval_ms = 1000;
	s->uri = g_strdup("qemu:///system");
	s->connected = TRUE;
	s->pool_kib = MiB(6144);
	s->committed_kib = MiB(1536);
	s->free_kib = MiB(4608);
	s->minimums_kib = MiB(1024);
	s->uncooperative_kib = MiB(512);
	s->contention = FALSE;
	s->cycle_us = 1234;

	vm = dmem_state_add_vm(s);
	vm->name = g_strdup("web");
	vm->state = g_strdup("running");
	vm->status = g_strdup("OK");
	vm->managed = TRUE;
	vm->startup_kib = MiB(1024);
	vm->minimum_kib = MiB(512);
	vm->maximum_kib = MiB(4096);
	vm->assigned_kib = MiB(1000);
	vm->target_kib = MiB(1000);
	vm->held_kib = MiB(1024);
	vm->hotadded_kib = MiB(512);
	vm->dimms = 2;
	/* One DIMM on its way out; three gone, one refused, this boot. */
	vm->unplug_enabled = TRUE;
	vm->unplugging = g_strdup("dimm1");
	vm->unplugging_kib = MiB(256);
	vm->unplugging_ms = 150;
	vm->unplugs = 3;
	vm->unplug_refusals = 1;
	vm->unplug_failure = g_strdup("the guest did not offline it");
	vm->demand_known = TRUE;
	vm->demand_kib = MiB(700);
	vm->ideal_kib = MiB(840);

	/* Demand unknown: no demand or ideal series, the rest as usual. */
	vm = dmem_state_add_vm(s);
	vm->name = g_strdup("a\\b \"c\"\nd");
	vm->state = g_strdup("running");
	vm->status = g_strdup("NoDriver");
	vm->managed = TRUE;
	vm->startup_kib = MiB(512);
	vm->minimum_kib = MiB(512);
	vm->maximum_kib = MiB(512);
	vm->assigned_kib = MiB(512);
	vm->target_kib = MiB(512);
	vm->held_kib = MiB(512);

	/* Stopped: only its status. */
	vm = dmem_state_add_vm(s);
	vm->name = g_strdup("db");
	vm->state = g_strdup("shut off");
	vm->status = g_strdup("Unmanaged");
	vm->startup_kib = MiB(2048);
	vm->maximum_kib = MiB(2048);
}

static const char expected[] =
	"# HELP dmem_pool_bytes Memory the managed VMs may hold together: host_pool_mib, "
	"or MemAvailable plus what managed VMs hold minus host_reserve_mib.\n"
	"# TYPE dmem_pool_bytes gauge\n"
	"dmem_pool_bytes 6442450944\n"
	"# HELP dmem_committed_bytes Memory the managed VMs hold: the sum of their held memory.\n"
	"# TYPE dmem_committed_bytes gauge\n"
	"dmem_committed_bytes 1610612736\n"
	"# HELP dmem_free_bytes Pool minus committed memory, or 0.\n"
	"# TYPE dmem_free_bytes gauge\n"
	"dmem_free_bytes 4831838208\n"
	"# HELP dmem_overcommit_bytes Committed memory minus the pool, or 0; should be 0 "
	"(dmemd logs which VMs cause it).\n"
	"# TYPE dmem_overcommit_bytes gauge\n"
	"dmem_overcommit_bytes 0\n"
	"# HELP dmem_minimums_bytes The sum of the managed VMs' minimum memory.\n"
	"# TYPE dmem_minimums_bytes gauge\n"
	"dmem_minimums_bytes 1073741824\n"
	"# HELP dmem_uncooperative_bytes Memory held by uncooperative VMs (no driver, "
	"stale statistics, a balloon that does not move).\n"
	"# TYPE dmem_uncooperative_bytes gauge\n"
	"dmem_uncooperative_bytes 536870912\n"
	"# HELP dmem_contention 1 while some VM waits for memory that other VMs hold.\n"
	"# TYPE dmem_contention gauge\n"
	"dmem_contention 0\n"
	"# HELP dmem_cycle_duration_seconds How long dmemd's last cycle took.\n"
	"# TYPE dmem_cycle_duration_seconds gauge\n"
	"dmem_cycle_duration_seconds 0.001234\n"
	"# HELP dmem_connected 1 while dmemd is connected to libvirt.\n"
	"# TYPE dmem_connected gauge\n"
	"dmem_connected 1\n"
	"# HELP dmem_last_cycle_timestamp_seconds When dmemd's last cycle ran, in seconds "
	"since the epoch.\n"
	"# TYPE dmem_last_cycle_timestamp_seconds gauge\n"
	"dmem_last_cycle_timestamp_seconds 1700000000.250000\n"
	"# HELP dmem_vm_startup_bytes The VM's startup memory: its persistent boot memory.\n"
	"# TYPE dmem_vm_startup_bytes gauge\n"
	"dmem_vm_startup_bytes{domain=\"web\"} 1073741824\n"
	"dmem_vm_startup_bytes{domain=\"a\\\\b \\\"c\\\"\\nd\"} 536870912\n"
	"# HELP dmem_vm_minimum_bytes The least memory dmemd leaves the VM.\n"
	"# TYPE dmem_vm_minimum_bytes gauge\n"
	"dmem_vm_minimum_bytes{domain=\"web\"} 536870912\n"
	"dmem_vm_minimum_bytes{domain=\"a\\\\b \\\"c\\\"\\nd\"} 536870912\n"
	"# HELP dmem_vm_maximum_bytes The most memory dmemd gives the VM, hot-added DIMMs "
	"included.\n"
	"# TYPE dmem_vm_maximum_bytes gauge\n"
	"dmem_vm_maximum_bytes{domain=\"web\"} 4294967296\n"
	"dmem_vm_maximum_bytes{domain=\"a\\\\b \\\"c\\\"\\nd\"} 536870912\n"
	"# HELP dmem_vm_assigned_bytes Memory the guest has: its balloon's actual size.\n"
	"# TYPE dmem_vm_assigned_bytes gauge\n"
	"dmem_vm_assigned_bytes{domain=\"web\"} 1048576000\n"
	"dmem_vm_assigned_bytes{domain=\"a\\\\b \\\"c\\\"\\nd\"} 536870912\n"
	"# HELP dmem_vm_held_bytes Memory the VM holds on the host: at least its balloon "
	"target and its assigned memory, and no less than its QEMU process's resident "
	"memory minus QEMU's overhead.\n"
	"# TYPE dmem_vm_held_bytes gauge\n"
	"dmem_vm_held_bytes{domain=\"web\"} 1073741824\n"
	"dmem_vm_held_bytes{domain=\"a\\\\b \\\"c\\\"\\nd\"} 536870912\n"
	"# HELP dmem_vm_target_bytes The VM's balloon target.\n"
	"# TYPE dmem_vm_target_bytes gauge\n"
	"dmem_vm_target_bytes{domain=\"web\"} 1048576000\n"
	"dmem_vm_target_bytes{domain=\"a\\\\b \\\"c\\\"\\nd\"} 536870912\n"
	"# HELP dmem_vm_demand_bytes Memory the guest needs to perform well; absent while "
	"unknown.\n"
	"# TYPE dmem_vm_demand_bytes gauge\n"
	"dmem_vm_demand_bytes{domain=\"web\"} 734003200\n"
	"# HELP dmem_vm_ideal_bytes Memory dmemd wants the VM to have: demand plus buffer, "
	"within minimum and maximum; absent while unknown.\n"
	"# TYPE dmem_vm_ideal_bytes gauge\n"
	"dmem_vm_ideal_bytes{domain=\"web\"} 880803840\n"
	"# HELP dmem_vm_hotadded_bytes Memory of the DIMMs hot-added to the VM.\n"
	"# TYPE dmem_vm_hotadded_bytes gauge\n"
	"dmem_vm_hotadded_bytes{domain=\"web\"} 536870912\n"
	"dmem_vm_hotadded_bytes{domain=\"a\\\\b \\\"c\\\"\\nd\"} 0\n"
	"# HELP dmem_vm_dimms Hot-added DIMMs plugged into the VM.\n"
	"# TYPE dmem_vm_dimms gauge\n"
	"dmem_vm_dimms{domain=\"web\"} 2\n"
	"dmem_vm_dimms{domain=\"a\\\\b \\\"c\\\"\\nd\"} 0\n"
	"# HELP dmem_vm_unplugging 1 while a hot-added DIMM is being unplugged from the VM.\n"
	"# TYPE dmem_vm_unplugging gauge\n"
	"dmem_vm_unplugging{domain=\"web\"} 1\n"
	"dmem_vm_unplugging{domain=\"a\\\\b \\\"c\\\"\\nd\"} 0\n"
	"# HELP dmem_vm_dimm_unplugs_total Hot-added DIMMs unplugged from the VM since it "
	"started.\n"
	"# TYPE dmem_vm_dimm_unplugs_total counter\n"
	"dmem_vm_dimm_unplugs_total{domain=\"web\"} 3\n"
	"dmem_vm_dimm_unplugs_total{domain=\"a\\\\b \\\"c\\\"\\nd\"} 0\n"
	"# HELP dmem_vm_dimm_unplug_refusals_total Unplugs of the VM's DIMMs its guest "
	"refused or did not answer since it started; each is retried later, with backoff.\n"
	"# TYPE dmem_vm_dimm_unplug_refusals_total counter\n"
	"dmem_vm_dimm_unplug_refusals_total{domain=\"web\"} 1\n"
	"dmem_vm_dimm_unplug_refusals_total{domain=\"a\\\\b \\\"c\\\"\\nd\"} 0\n"
	"# HELP dmem_vm_managed 1 if dmemd manages the VM, 0 if it leaves it alone.\n"
	"# TYPE dmem_vm_managed gauge\n"
	"dmem_vm_managed{domain=\"web\"} 1\n"
	"dmem_vm_managed{domain=\"a\\\\b \\\"c\\\"\\nd\"} 1\n"
	"# HELP dmem_vm_status The VM's status, with value 1: OK, Low, Warning, NoDriver, "
	"Unresponsive or Unmanaged.\n"
	"# TYPE dmem_vm_status gauge\n"
	"dmem_vm_status{domain=\"web\",status=\"OK\"} 1\n"
	"dmem_vm_status{domain=\"a\\\\b \\\"c\\\"\\nd\",status=\"NoDriver\"} 1\n"
	"dmem_vm_status{domain=\"db\",status=\"Unmanaged\"} 1\n";

static void test_format(void)
{
	g_autofree char *text = NULL;
	DmemState s;

	fill(&s);
	text = dmem_metrics_format(&s);
	g_test_message("\n%s", text);
	g_assert_cmpstr(text, ==, expected);
	dmem_state_clear(&s);
}

/* No VM (or not connected): the host metrics, and no empty families. */
static void test_no_vms(void)
{
	g_autofree char *text = NULL;
	DmemState s;

	dmem_state_init(&s);
	s.updated_us = 1;
	text = dmem_metrics_format(&s);
	g_assert_nonnull(strstr(text, "\ndmem_connected 0\n"));
	g_assert_nonnull(strstr(text, "\ndmem_pool_bytes 0\n"));
	g_assert_nonnull(strstr(text, "\ndmem_last_cycle_timestamp_seconds 0.000001\n"));
	g_assert_null(strstr(text, "dmem_vm_"));
	dmem_state_clear(&s);
}

/* Overcommit and contention as the daemon publishes them. */
static void test_overcommit(void)
{
	g_autofree char *text = NULL;
	DmemState s;

	fill(&s);
	s.overcommit_kib = MiB(100);
	s.contention = TRUE;
	s.cycle_us = 2500000;
	text = dmem_metrics_format(&s);
	g_assert_nonnull(strstr(text, "\ndmem_overcommit_bytes 104857600\n"));
	g_assert_nonnull(strstr(text, "\ndmem_contention 1\n"));
	g_assert_nonnull(strstr(text, "\ndmem_cycle_duration_seconds 2.500000\n"));
	dmem_state_clear(&s);
}

/* Cache and disk reads: a series only for VMs where they are known. */
static void test_cache_and_io(void)
{
	g_autofree char *text = NULL;
	DmemState s;
	DmemStateVm *web;

	fill(&s);
	web = s.vms->pdata[0];
	web->cache_known = TRUE;
	web->cache_kib = MiB(300);
	web->disk_io_known = TRUE;
	web->disk_read_kib_per_s = 2048;
	web->hot_cache_known = TRUE;
	web->hot_cache_kib = MiB(200);
	text = dmem_metrics_format(&s);
	g_assert_nonnull(strstr(text, "\ndmem_vm_hot_cache_bytes{domain=\"web\"} 209715200\n"));
	g_assert_nonnull(strstr(text, "\ndmem_vm_cache_bytes{domain=\"web\"} 314572800\n"));
	g_assert_nonnull(strstr(text, "\ndmem_vm_disk_read_bytes_per_second{domain=\"web\"} "
				"2097152\n"));
	/* The other VM does not know them: no series. */
	g_assert_null(strstr(text, "dmem_vm_cache_bytes{domain=\"a"));
	dmem_state_clear(&s);
}

/*
 * Hot-remove: the DIMMs plugged, an unplug in flight, and the unplugs and
 * refusals of this boot as counters, which grow as they come.
 */
static void test_unplug(void)
{
	g_autofree char *text = NULL;
	DmemStateVm *web;
	DmemState s;

	fill(&s);
	web = s.vms->pdata[0];
	g_clear_pointer(&web->unplugging, g_free);
	web->dimms = 1;
	web->unplugs = 4;
	web->unplug_refusals = 4000000000u;
	text = dmem_metrics_format(&s);
	g_assert_nonnull(strstr(text, "\ndmem_vm_dimms{domain=\"web\"} 1\n"));
	g_assert_nonnull(strstr(text, "\ndmem_vm_unplugging{domain=\"web\"} 0\n"));
	g_assert_nonnull(strstr(text, "\n# TYPE dmem_vm_dimm_unplugs_total counter\n"
				"dmem_vm_dimm_unplugs_total{domain=\"web\"} 4\n"));
	g_assert_nonnull(strstr(text, "\ndmem_vm_dimm_unplug_refusals_total{domain=\"web\"} "
				"4000000000\n"));
	/* A stopped VM has none. */
	g_assert_null(strstr(text, "dmem_vm_dimms{domain=\"db\"}"));
	g_assert_null(strstr(text, "dmem_vm_dimm_unplugs_total{domain=\"db\"}"));
	dmem_state_clear(&s);
}

/*
 * Every line is a comment or "name{labels} value": a light check of the
 * format, and that each metric has exactly one HELP and one TYPE, before
 * its series; counters, and only they, are named *_total.
 */
static void test_well_formed(void)
{
	g_autoptr(GRegex) sample = g_regex_new(
		"^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\\n]|\\\\[\\\\\"n])*\""
		"(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\\n]|\\\\[\\\\\"n])*\")*\\})? [-0-9.]+$",
		0, 0, NULL);
	g_autoptr(GHashTable) typed = g_hash_table_new_full(g_str_hash, g_str_equal,
							    g_free, NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	DmemState s;

	fill(&s);
	text = dmem_metrics_format(&s);
	g_assert_true(g_str_has_suffix(text, "\n"));
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		if (g_str_has_prefix(*l, "# TYPE ")) {
			g_auto(GStrv) w = g_strsplit(*l, " ", -1);

			g_assert_false(g_hash_table_contains(typed, w[2]));
			g_assert_true(g_strcmp0(w[3], "gauge") == 0 ||
				      g_strcmp0(w[3], "counter") == 0);
			g_assert_cmpint(g_str_has_suffix(w[2], "_total"), ==,
					g_strcmp0(w[3], "counter") == 0);
			g_hash_table_add(typed, g_strdup(w[2]));
			continue;
		}
		if (g_str_has_prefix(*l, "# HELP "))
			continue;
		if (!g_regex_match(sample, *l, 0, NULL))
			g_error("not a sample line: %s", *l);
		{
			g_autofree char *name = g_strndup(*l, strcspn(*l, "{ "));

			g_assert_true(g_hash_table_contains(typed, name));
		}
	}
	dmem_state_clear(&s);
}

static void test_write(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("dmem-test-metrics.XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "dmem.prom", NULL);
	g_autofree char *missing = g_build_filename(dir, "nodir", "dmem.prom", NULL);
	g_autofree char *text = NULL;
	g_autoptr(GDir) d = NULL;
	DmemState s;
	GStatBuf st;
	mode_t old = umask(077);

	fill(&s);
	g_assert_true(dmem_metrics_write(&s, path, &error));
	g_assert_no_error(error);
	umask(old);
	/* Readable by node_exporter whatever dmemd's umask. */
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0644);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, expected);
	/* Nothing else left in the directory. */
	d = g_dir_open(dir, 0, NULL);
	g_assert_cmpstr(g_dir_read_name(d), ==, "dmem.prom");
	g_assert_null(g_dir_read_name(d));

	/* The directory is node_exporter's to make: a missing one is an error. */
	g_assert_false(dmem_metrics_write(&s, missing, &error));
	g_test_message("%s", error->message);
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "nodir"));
	g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS));

	g_unlink(path);
	g_rmdir(dir);
	dmem_state_clear(&s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/metrics/format", test_format);
	g_test_add_func("/metrics/no-vms", test_no_vms);
	g_test_add_func("/metrics/overcommit", test_overcommit);
	g_test_add_func("/metrics/cache-and-io", test_cache_and_io);
	g_test_add_func("/metrics/unplug", test_unplug);
	g_test_add_func("/metrics/well-formed", test_well_formed);
	g_test_add_func("/metrics/write", test_write);
	return g_test_run();
}
