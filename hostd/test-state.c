// SPDX-License-Identifier: GPL-2.0-or-later
/* test-state.c - unit tests for state.c and status.c */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "state.h"
#include "status.h"

#define MiB(x) ((dmem_kib_t)(x) * 1024)

static void fill(DmemState *s)
{
	DmemStateVm *vm;

	dmem_state_init(s);
	s->version = g_strdup("0.1.0");
	s->pid = 1234;
	s->updated_us = 1700000000000000;
	s->interval_ms = 1000;
	s->uri = g_strdup("qemu:///system");
	s->connected = TRUE;
	s->pool_kib = MiB(8192);
	s->host_available_kib = MiB(9000);

	vm = dmem_state_add_vm(s);
	vm->name = g_strdup("web \"1\"");
	vm->uuid = g_strdup("6a1c0a5e-0000-4000-8000-000000000001");
	vm->state = g_strdup("running");
	vm->status = g_strdup("OK");
	vm->reason = g_strdup("has its ideal");
	vm->explain = g_strdup("web: OK\n  demand: 600 MiB\n\ttab\n");
	vm->managed = TRUE;
	vm->startup_kib = MiB(768);
	vm->minimum_kib = MiB(768);
	vm->maximum_kib = MiB(2048);
	vm->assigned_kib = MiB(1024);
	vm->target_kib = MiB(1024);
	vm->live_kib = MiB(1280);
	vm->balloon_kib = MiB(256);
	vm->hotadded_kib = MiB(512);
	vm->dimms = 2;
	vm->demand_known = TRUE;
	vm->demand_kib = MiB(700);
	vm->ideal_kib = MiB(840);

	vm = dmem_state_add_vm(s);
	vm->name = g_strdup("db");
	vm->state = g_strdup("shut off");
	vm->status = g_strdup("Unmanaged");
	vm->reason = g_strdup("not running");
	/* A stopped VM's persistent sizes. */
	vm->startup_kib = MiB(512);
	vm->maximum_kib = MiB(4096);
}

static void test_roundtrip(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	DmemState a, b;
	const DmemStateVm *x, *y;
	gsize len;

	fill(&a);
	data = dmem_state_to_data(&a, &len);
	dmem_state_init(&b);
	g_assert_true(dmem_state_from_data(&b, data, len, "state", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(b.version, ==, "0.1.0");
	g_assert_cmpint(b.pid, ==, 1234);
	g_assert_cmpint(b.updated_us, ==, a.updated_us);
	g_assert_true(b.connected);
	g_assert_false(b.dry_run);
	g_assert_null(b.connection_error);
	g_assert_cmpint(b.disconnected_since_us, ==, 0);
	g_assert_cmpuint(b.pool_kib, ==, MiB(8192));
	g_assert_cmpuint(b.vms->len, ==, 2);
	x = a.vms->pdata[0];
	y = b.vms->pdata[0];
	g_assert_cmpstr(y->name, ==, x->name);
	g_assert_cmpstr(y->uuid, ==, x->uuid);
	g_assert_cmpstr(y->explain, ==, x->explain);
	g_assert_cmpuint(y->assigned_kib, ==, x->assigned_kib);
	g_assert_cmpuint(y->hotadded_kib, ==, x->hotadded_kib);
	g_assert_cmpuint(y->dimms, ==, 2);
	g_assert_true(y->demand_known);
	g_assert_cmpuint(y->ideal_kib, ==, MiB(840));
	y = b.vms->pdata[1];
	g_assert_false(y->demand_known);
	g_assert_null(y->uuid);
	g_assert_null(y->explain);
	dmem_state_clear(&a);
	dmem_state_clear(&b);
}

static void test_bad_data(void)
{
	static const char *const bad[] = {
		"garbage",
		"[dmemd]\nversion=1\n",
		"[dmemd]\nversion=1\npid=x\nupdated_us=1\ninterval_ms=1\nuri=u\n"
		"connected=true\ndry_run=false\nhost_available_kib=0\npool_kib=0\n"
		"held_kib=0\ntargets_kib=0\ncontention=false\nvms=0\n",
		"[dmemd]\nversion=1\npid=1\nupdated_us=1\ninterval_ms=1\nuri=u\n"
		"connected=yes\ndry_run=false\nhost_available_kib=0\npool_kib=0\n"
		"held_kib=0\ntargets_kib=0\ncontention=false\nvms=0\n",
		"[dmemd]\nversion=1\npid=1\nupdated_us=1\ninterval_ms=1\nuri=u\n"
		"connected=true\ndry_run=false\nhost_available_kib=0\npool_kib=0\n"
		"held_kib=0\ntargets_kib=0\ncontention=false\nvms=1\n",
		/* No negative pid or time. */
		"[dmemd]\nversion=1\npid=-1\nupdated_us=1\ninterval_ms=1\nuri=u\n"
		"connected=true\ndry_run=false\nhost_available_kib=0\npool_kib=0\n"
		"held_kib=0\ntargets_kib=0\ncontention=false\nvms=0\n",
		"[dmemd]\nversion=1\npid=1\nupdated_us=-5\ninterval_ms=1\nuri=u\n"
		"connected=true\ndry_run=false\nhost_available_kib=0\npool_kib=0\n"
		"held_kib=0\ntargets_kib=0\ncontention=false\nvms=0\n",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		DmemState s;

		dmem_state_init(&s);
		g_assert_false(dmem_state_from_data(&s, bad[i], strlen(bad[i]),
						    "state", &error));
		g_assert_error(error, DMEM_ERROR, DMEM_ERROR_INVALID);
		g_test_message("%s", error->message);
		g_assert_cmpuint(s.vms->len, ==, 0);
		dmem_state_clear(&s);
	}
}

static void test_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("dmem-test-state.XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "sub", "state", NULL);
	g_autofree char *sub = g_path_get_dirname(path);
	DmemState a, b;
	GStatBuf st;

	fill(&a);
	g_assert_true(dmem_state_write(&a, path, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0644);
	dmem_state_init(&b);
	g_assert_true(dmem_state_read(&b, path, &error));
	g_assert_cmpuint(b.vms->len, ==, 2);
	g_unlink(path);
	g_assert_false(dmem_state_read(&b, path, &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, path));
	g_clear_error(&error);
	/* Any other failure is not "not found". */
	g_assert_false(dmem_state_read(&b, sub, &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_FAILED);
	g_rmdir(sub);
	g_rmdir(dir);
	dmem_state_clear(&a);
	dmem_state_clear(&b);
}

static void test_table(void)
{
	g_autofree char *t = NULL;
	g_auto(GStrv) lines = NULL;
	DmemState s;

	fill(&s);
	t = dmem_status_table(&s);
	lines = g_strsplit(t, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4);	/* header, 2 rows, "" */
	g_assert_true(g_str_has_prefix(lines[0], "NAME     STATE     STARTUP"));
	g_assert_nonnull(strstr(lines[0], "HOT-ADDED  STATUS     REASON"));
	/* Sizes right-aligned under their headers, unknowns as "-". */
	g_assert_nonnull(strstr(lines[1], " 768 MiB  2048 MiB  1024 MiB  700 MiB  840 MiB"));
	g_assert_nonnull(strstr(lines[1], "OK         has its ideal"));
	g_assert_nonnull(strstr(lines[2], "db       shut off"));
	/* A stopped VM shows its persistent sizes, nothing live. */
	g_test_message("%s", lines[2]);
	g_assert_nonnull(strstr(lines[2], "shut off  512 MiB  4096 MiB         -        -"));
	g_assert_nonnull(strstr(lines[2], "Unmanaged  not running"));
	for (int i = 0; i < 3; i++)
		g_assert_false(g_str_has_suffix(lines[i], " "));
	/* Columns line up: STATUS starts at the same offset on every line. */
	g_assert_cmpint(strstr(lines[0], "STATUS") - lines[0], ==,
			strstr(lines[1], "OK ") - lines[1]);
	g_assert_cmpint(strstr(lines[0], "STATUS") - lines[0], ==,
			strstr(lines[2], "Unmanaged") - lines[2]);
	dmem_state_clear(&s);
}

static void test_json(void)
{
	g_autofree char *j = NULL;
	DmemState s;

	fill(&s);
	j = dmem_status_json(&s, NULL);
	g_assert_nonnull(strstr(j, "\"name\":\"web \\\"1\\\"\""));
	g_assert_nonnull(strstr(j, "\"assigned_kib\":1048576"));
	g_assert_nonnull(strstr(j, "\"stale\":false"));
	g_assert_nonnull(strstr(j, "\"demand_kib\":null"));
	g_assert_nonnull(strstr(j, "\"disconnected_since_us\":null"));
	g_assert_null(strstr(j, "\"explain\""));
	g_free(j);
	j = dmem_status_json(&s, "gone");
	g_assert_nonnull(strstr(j, "\"stale\":true,\"stale_reason\":\"gone\""));
	dmem_state_clear(&s);
}

/* While disconnected: said plainly, with since when and why. */
static void test_disconnected(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	g_autofree char *j = NULL;
	char *why;
	DmemState s, b;
	gsize len;

	fill(&s);
	g_assert_null(dmem_status_disconnected(&s, s.updated_us));
	s.connected = FALSE;
	s.connection_error = g_strdup("Failed to connect socket");
	why = dmem_status_disconnected(&s, s.updated_us);
	g_test_message("%s", why);
	g_assert_cmpstr(why, ==, "dmemd is not connected to libvirt (qemu:///system): "
			"Failed to connect socket; it keeps retrying and lists no VMs "
			"until it is back");
	g_free(why);

	s.disconnected_since_us = s.updated_us - 42 * G_USEC_PER_SEC;
	why = dmem_status_disconnected(&s, s.updated_us);
	g_test_message("%s", why);
	g_assert_true(g_str_has_prefix(why, "dmemd is not connected to libvirt "
				       "(qemu:///system) since 20"));
	g_assert_nonnull(strstr(why, " (42 s ago): Failed to connect socket;"));
	g_free(why);
	why = dmem_status_disconnected(&s, s.updated_us + (gint64)3 * 3600 * G_USEC_PER_SEC);
	g_assert_nonnull(strstr(why, " (3 h 0 min ago)"));
	g_free(why);
	why = dmem_status_disconnected(&s, s.updated_us + 600 * G_USEC_PER_SEC);
	g_assert_nonnull(strstr(why, " (10 min ago)"));
	g_free(why);

	/* Published and read back; in JSON too. */
	data = dmem_state_to_data(&s, &len);
	dmem_state_init(&b);
	g_assert_true(dmem_state_from_data(&b, data, len, "state", &error));
	g_assert_false(b.connected);
	g_assert_cmpint(b.disconnected_since_us, ==, s.disconnected_since_us);
	j = dmem_status_json(&b, NULL);
	g_assert_nonnull(strstr(j, "\"connected\":false"));
	g_assert_nonnull(strstr(j, "\"disconnected_since_us\":1699999958000000"));
	dmem_state_clear(&b);
	dmem_state_clear(&s);
}

static void test_json_escape(void)
{
	g_autoptr(GString) s = g_string_new(NULL);

	dmem_json_append_string(s, "a\"b\\c\nd\x01\xc3\xa9");
	g_assert_cmpstr(s->str, ==, "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"");
}

static void test_stale(void)
{
	DmemState s;
	char *why;

	fill(&s);
	g_assert_null(dmem_state_stale_reason(&s, s.updated_us + 2 * G_USEC_PER_SEC, TRUE));
	why = dmem_state_stale_reason(&s, s.updated_us + 60 * G_USEC_PER_SEC, TRUE);
	g_assert_nonnull(strstr(why, "60 s old"));
	g_free(why);
	why = dmem_state_stale_reason(&s, s.updated_us + G_USEC_PER_SEC, FALSE);
	g_assert_nonnull(strstr(why, "pid 1234) is not running"));
	g_free(why);
	dmem_state_clear(&s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/state/roundtrip", test_roundtrip);
	g_test_add_func("/state/bad-data", test_bad_data);
	g_test_add_func("/state/file", test_file);
	g_test_add_func("/status/table", test_table);
	g_test_add_func("/status/json", test_json);
	g_test_add_func("/status/json-escape", test_json_escape);
	g_test_add_func("/status/disconnected", test_disconnected);
	g_test_add_func("/status/stale", test_stale);
	return g_test_run();
}
