// SPDX-License-Identifier: GPL-2.0-or-later
/* test-state.c - unit tests for state.c, status.c and explain.c's part */
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "error.h"
#include "explain.h"
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
	s->committed_kib = MiB(1100);
	s->free_kib = MiB(7092);
	s->minimums_kib = MiB(768);
	s->uncooperative_kib = MiB(0);
	s->cycle_us = 1234;

	vm = dmem_state_add_vm(s);
	vm->name = g_strdup("web \"1\"");
	vm->uuid = g_strdup("6a1c0a5e-0000-4000-8000-000000000001");
	vm->state = g_strdup("running");
	vm->status = g_strdup("OK");
	vm->reason = g_strdup("has its ideal");
	vm->failure = g_strdup("web: OK\n  demand: 600 MiB\n\ttab\n");
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
	vm->held_kib = MiB(1100);
	vm->rss_kib = MiB(1180);
	vm->overhead_kib = MiB(80);
	vm->held_for_s = 0;
	vm->cache_known = TRUE;
	vm->cache_kib = MiB(300);
	vm->disk_io_known = TRUE;
	vm->disk_read_kib_per_s = 4096;
	vm->hot_cache_known = TRUE;
	vm->hot_cache_kib = MiB(250);
	vm->unplug_enabled = TRUE;
	vm->unplugging = g_strdup("dimm1");
	vm->unplugging_kib = MiB(256);
	vm->unplugging_ms = 150;
	vm->unplugs = 3;
	vm->unplug_refusals = 1;
	vm->unplug_failure = g_strdup("no DEVICE_REMOVED in 30 s: the guest did not offline it");
	vm->unplug_retry_s = 240;
	vm->decision = (DmemStateDecision) {
		.known = TRUE, .buffer_percent = 20, .weight = 8000, .free_slots = 6,
		.previous_target_kib = MiB(900), .used_kib = MiB(600),
		.guest_overhead_kib = MiB(40), .pressure_kib = MiB(60),
		.floor_kib = MiB(232), .min_kib = MiB(768), .max_kib = MiB(2048),
		.allocation_kib = MiB(840), .hotadd_fill_kib = MiB(184),
		.allocation = 2, .dimms = 1, .shrink_wait_s = 17,
		.flags = DMEM_DECISION_HELD_BY_RSS | DMEM_DECISION_TARGET_CHANGED |
			 DMEM_DECISION_SHRINK_DELAYED | DMEM_DECISION_PROBING,
		.cache_phase = 2, .cache_off = 0, .cache_seen = 2, .cache_seen_s = 720,
		.cache_seen_step_kib = MiB(64), .cache_seen_before_kib_per_s = 10,
		.cache_seen_during_kib_per_s = 40960, .probe_target_kib = MiB(700),
		.probe_step_kib = MiB(32),
		.unplug_dimms = 2, .unplug_spare_kib = MiB(512), .unplug_wait_s = 23,
		.unplug_kib = MiB(256), .unplug_target_kib = MiB(1024),
	};
	vm->decision.flags |= DMEM_DECISION_UNPLUG | DMEM_DECISION_KEEP_BALLOON_OFF;
	s->shrink_delay_s = 60;
	s->cache_aware = TRUE;
	s->cache_probe_s = 30;
	s->cache_reprobe_s = 600;
	s->max_shrink_kib_per_s = MiB(256);
	s->dimm_size_kib = MiB(128);
	s->reclaim_unresponsive_s = 300;
	s->unplug_delay_s = 90;
	s->minimums_exceed_pool = TRUE;

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
	g_assert_cmpuint(b.committed_kib, ==, MiB(1100));
	g_assert_cmpuint(b.free_kib, ==, MiB(7092));
	g_assert_cmpuint(b.overcommit_kib, ==, 0);
	g_assert_null(b.overcommit_reason);
	g_assert_cmpuint(b.minimums_kib, ==, MiB(768));
	g_assert_cmpuint(b.uncooperative_kib, ==, 0);
	g_assert_false(b.contention);
	g_assert_cmpint(b.cycle_us, ==, 1234);
	g_assert_cmpuint(b.vms->len, ==, 2);
	x = a.vms->pdata[0];
	y = b.vms->pdata[0];
	g_assert_cmpstr(y->name, ==, x->name);
	g_assert_cmpstr(y->uuid, ==, x->uuid);
	g_assert_cmpstr(y->failure, ==, x->failure);
	g_assert_cmpuint(y->assigned_kib, ==, x->assigned_kib);
	g_assert_cmpuint(y->hotadded_kib, ==, x->hotadded_kib);
	g_assert_cmpuint(y->dimms, ==, 2);
	g_assert_true(y->demand_known);
	g_assert_cmpuint(y->ideal_kib, ==, MiB(840));
	g_assert_cmpuint(y->held_kib, ==, MiB(1100));
	g_assert_cmpuint(y->rss_kib, ==, MiB(1180));
	g_assert_cmpuint(y->overhead_kib, ==, MiB(80));
	g_assert_cmpint(y->held_for_s, ==, 0);
	g_assert_true(y->cache_known && y->disk_io_known);
	g_assert_cmpuint(y->cache_kib, ==, MiB(300));
	g_assert_cmpuint(y->disk_read_kib_per_s, ==, 4096);
	g_assert_false(((DmemStateVm *)b.vms->pdata[1])->cache_known);
	g_assert_true(y->hot_cache_known);
	g_assert_cmpuint(y->hot_cache_kib, ==, MiB(250));
	g_assert_false(((DmemStateVm *)b.vms->pdata[1])->hot_cache_known);
	g_assert_true(b.cache_aware);
	g_assert_cmpuint(b.cache_probe_s, ==, 30);
	g_assert_cmpuint(b.cache_reprobe_s, ==, 600);
	/* Hot-remove: what the mechanism did, and the policy's delay. */
	g_assert_true(y->unplug_enabled);
	g_assert_cmpstr(y->unplugging, ==, "dimm1");
	g_assert_cmpuint(y->unplugging_kib, ==, MiB(256));
	g_assert_cmpint(y->unplugging_ms, ==, 150);
	g_assert_cmpuint(y->unplugs, ==, 3);
	g_assert_cmpuint(y->unplug_refusals, ==, 1);
	g_assert_cmpstr(y->unplug_failure, ==, x->unplug_failure);
	g_assert_cmpint(y->unplug_retry_s, ==, 240);
	g_assert_cmpuint(b.unplug_delay_s, ==, 90);
	g_assert_true(y->decision.flags & DMEM_DECISION_UNPLUG);
	g_assert_true(y->decision.flags & DMEM_DECISION_KEEP_BALLOON_OFF);
	g_assert_cmpuint(y->decision.unplug_dimms, ==, 2);
	g_assert_cmpint(y->decision.unplug_wait_s, ==, 23);
	/* The numbers behind the explanation, flags as words. */
	g_assert_cmpmem(&y->decision, sizeof(y->decision), &x->decision, sizeof(x->decision));
	g_assert_cmpuint(b.shrink_delay_s, ==, 60);
	g_assert_cmpuint(b.max_shrink_kib_per_s, ==, MiB(256));
	g_assert_cmpuint(b.dimm_size_kib, ==, MiB(128));
	g_assert_cmpuint(b.reclaim_unresponsive_s, ==, 300);
	g_assert_true(b.minimums_exceed_pool);
	y = b.vms->pdata[1];
	g_assert_false(y->decision.known);
	g_assert_false(y->demand_known);
	g_assert_null(y->uuid);
	g_assert_null(y->failure);
	g_assert_false(y->unplug_enabled);
	g_assert_null(y->unplugging);
	g_assert_null(y->unplug_failure);
	g_assert_cmpuint(y->unplugs, ==, 0);
	dmem_state_clear(&a);
	dmem_state_clear(&b);
}

/*
 * No unplug in flight: no alias, size or time in the file. A time that
 * went negative is published as 0: the reader takes no negative number,
 * and one VM must not make the state unreadable.
 */
static void test_roundtrip_unplug_idle(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	DmemStateVm *vm;
	DmemState a, b;
	gsize len;

	fill(&a);
	vm = a.vms->pdata[0];
	g_clear_pointer(&vm->unplugging, g_free);
	g_clear_pointer(&vm->unplug_failure, g_free);
	vm->unplug_enabled = FALSE;
	vm->unplug_retry_s = -5;
	vm->decision.unplug_wait_s = -1;
	data = dmem_state_to_data(&a, &len);
	g_assert_null(strstr(data, "unplugging"));
	g_assert_null(strstr(data, "unplug_failure"));
	g_assert_nonnull(strstr(data, "\nunplug_enabled=false\n"));
	g_assert_nonnull(strstr(data, "\nunplug_retry_s=0\n"));
	dmem_state_init(&b);
	g_assert_true(dmem_state_from_data(&b, data, len, "state", &error));
	g_assert_no_error(error);
	vm = b.vms->pdata[0];
	g_assert_false(vm->unplug_enabled);
	g_assert_null(vm->unplugging);
	g_assert_cmpuint(vm->unplugging_kib, ==, 0);
	g_assert_cmpint(vm->unplugging_ms, ==, 0);
	g_assert_null(vm->unplug_failure);
	g_assert_cmpint(vm->unplug_retry_s, ==, 0);
	g_assert_cmpuint(vm->unplugs, ==, 3);
	g_assert_cmpint(vm->decision.unplug_wait_s, ==, 0);
	dmem_state_clear(&a);
	dmem_state_clear(&b);
}

/* Overcommit, contention and an uncooperative VM survive the trip too. */
static void test_roundtrip_overcommit(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	DmemStateVm *vm;
	DmemState a, b;
	gsize len;

	fill(&a);
	a.committed_kib = MiB(9000);
	a.free_kib = 0;
	a.overcommit_kib = MiB(808);
	a.overcommit_reason = g_strdup("web \"1\" holds 1100 MiB (resident)\n  db: 2 GiB");
	a.uncooperative_kib = MiB(1100);
	a.contention = TRUE;
	vm = a.vms->pdata[0];
	vm->held_for_s = 421;
	data = dmem_state_to_data(&a, &len);
	g_assert_cmpuint(len, ==, strlen(data));
	dmem_state_init(&b);
	g_assert_true(dmem_state_from_data(&b, data, len, "state", &error));
	g_assert_no_error(error);
	g_assert_cmpuint(b.committed_kib, ==, MiB(9000));
	g_assert_cmpuint(b.free_kib, ==, 0);
	g_assert_cmpuint(b.overcommit_kib, ==, MiB(808));
	g_assert_cmpstr(b.overcommit_reason, ==, a.overcommit_reason);
	g_assert_cmpuint(b.uncooperative_kib, ==, MiB(1100));
	g_assert_true(b.contention);
	vm = b.vms->pdata[0];
	g_assert_cmpint(vm->held_for_s, ==, 421);
	dmem_state_clear(&a);
	dmem_state_clear(&b);
}

/* Strings that need GKeyFile's escapes, or look like they might. */
static const char *const tricky[] = {
	"", " ", "  two leading blanks", "\ttab first", " \t mixed lead",
	"\n  blanks after a leading line break", "trailing blank ",
	"trailing tab\t", "mid  blanks\tand tab", "back\\slash", "\\",
	"ends in a backslash\\", "\\n is not a line break", "\\s\\t\\r",
	"crlf\r\nline", "\r", "multi\nline\n  indented\n\ttabbed\n",
	"caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac", "[not a group]",
	"# not a comment", "key=value", "list;sep,arated", "ctl\x01\x7f",
	" \\ ", "=", "\"quoted\"",
};

/* Each string is escaped byte for byte as g_key_file_set_string() does it. */
static void test_escape_like_gkeyfile(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(tricky); i++) {
		g_autoptr(GKeyFile) ref = g_key_file_new();
		g_autoptr(GKeyFile) ours = g_key_file_new();
		g_autoptr(GError) error = NULL;
		g_autofree char *data = NULL;
		g_autofree char *want = NULL;
		g_autofree char *got = NULL;
		g_autofree char *back = NULL;
		DmemState s;
		DmemStateVm *vm;
		gsize len;

		fill(&s);
		vm = s.vms->pdata[0];
		g_free(vm->failure);
		vm->failure = g_strdup(tricky[i]);
		data = dmem_state_to_data(&s, &len);

		g_key_file_set_string(ref, "g", "k", tricky[i]);
		want = g_key_file_get_value(ref, "g", "k", NULL);
		g_assert_true(g_key_file_load_from_data(ours, data, len, G_KEY_FILE_NONE,
							&error));
		got = g_key_file_get_value(ours, "vm 0", "failure", &error);
		g_assert_no_error(error);
		g_assert_cmpstr(got, ==, want);
		back = g_key_file_get_string(ours, "vm 0", "failure", &error);
		g_assert_no_error(error);
		g_assert_cmpstr(back, ==, tricky[i]);
		dmem_state_clear(&s);
	}
}

/*
 * Every tricky string in every string field reads back as it was written,
 * and the whole text is laid out as g_key_file_to_data() lays it out.
 */
static void test_roundtrip_strings(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(tricky); i++) {
		g_autoptr(GKeyFile) kf = g_key_file_new();
		g_autoptr(GKeyFile) copy = g_key_file_new();
		g_autoptr(GError) error = NULL;
		g_autofree char *data = NULL;
		g_autofree char *again = NULL;
		g_auto(GStrv) groups = NULL;
		const DmemStateVm *y;
		DmemStateVm *vm;
		DmemState a, b;
		gsize len;

		fill(&a);
		vm = a.vms->pdata[0];
		g_free(vm->name);
		g_free(vm->reason);
		g_free(vm->failure);
		g_free(vm->unplugging);
		g_free(vm->unplug_failure);
		g_free(a.uri);
		vm->name = g_strdup(tricky[i]);
		vm->reason = g_strdup(tricky[i]);
		vm->failure = g_strdup(tricky[i]);
		vm->unplugging = g_strdup(tricky[i]);
		vm->unplug_failure = g_strdup(tricky[i]);
		a.uri = g_strdup(tricky[i]);
		a.overcommit_reason = g_strdup(tricky[i]);
		data = dmem_state_to_data(&a, &len);

		dmem_state_init(&b);
		g_assert_true(dmem_state_from_data(&b, data, len, "state", &error));
		g_assert_no_error(error);
		y = b.vms->pdata[0];
		g_assert_cmpstr(y->name, ==, tricky[i]);
		g_assert_cmpstr(y->reason, ==, tricky[i]);
		g_assert_cmpstr(y->failure, ==, tricky[i]);
		g_assert_cmpstr(y->unplugging, ==, tricky[i]);
		g_assert_cmpstr(y->unplug_failure, ==, tricky[i]);
		g_assert_cmpstr(b.uri, ==, tricky[i]);
		g_assert_cmpstr(b.overcommit_reason, ==, tricky[i]);

		/* GKeyFile writes the same text from the same values. */
		g_assert_true(g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE,
							NULL));
		groups = g_key_file_get_groups(kf, NULL);
		for (char **g = groups; *g; g++) {
			g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);

			for (char **k = keys; *k; k++) {
				g_autofree char *v = g_key_file_get_value(kf, *g, *k, NULL);

				g_key_file_set_value(copy, *g, *k, v);
			}
		}
		again = g_key_file_to_data(copy, NULL, NULL);
		g_assert_cmpstr(again, ==, data);
		dmem_state_clear(&a);
		dmem_state_clear(&b);
	}
}

/* A valid [dmemd] group from "connected" on, for the cases below. */
#define DAEMON_TAIL \
	"dry_run=false\nhost_available_kib=0\npool_kib=0\ncommitted_kib=0\n" \
	"free_kib=0\novercommit_kib=0\nminimums_kib=0\nuncooperative_kib=0\n" \
	"contention=false\ncycle_us=0\nminimums_exceed_pool=false\n" \
	"shrink_delay_s=60\nmax_shrink_kib_per_s=1\ndimm_size_kib=1\n" \
	"reclaim_unresponsive_s=0\n"
#define DAEMON_HEAD "[dmemd]\nversion=1\npid=1\nupdated_us=1\ninterval_ms=1\nuri=u\n"
#define VM_0 \
	"[vm 0]\nname=a\nstate=running\nstatus=OK\nmanaged=true\n" \
	"startup_kib=1\nminimum_kib=1\nmaximum_kib=1\nassigned_kib=1\n" \
	"target_kib=1\nlive_kib=1\nballoon_kib=0\nhotadded_kib=0\ndimms=0\n"

static void test_bad_data(void)
{
	static const char *const bad[] = {
		"garbage",
		"[dmemd]\nversion=1\n",
		"[dmemd]\nversion=1\npid=x\nupdated_us=1\ninterval_ms=1\nuri=u\n"
		"connected=true\n" DAEMON_TAIL "vms=0\n",
		DAEMON_HEAD "connected=yes\n" DAEMON_TAIL "vms=0\n",
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n",
		/* No negative pid or time. */
		"[dmemd]\nversion=1\npid=-1\nupdated_us=1\ninterval_ms=1\nuri=u\n"
		"connected=true\n" DAEMON_TAIL "vms=0\n",
		"[dmemd]\nversion=1\npid=1\nupdated_us=-5\ninterval_ms=1\nuri=u\n"
		"connected=true\n" DAEMON_TAIL "vms=0\n",
		/* The old totals are not the new ones. */
		DAEMON_HEAD "connected=true\ndry_run=false\nhost_available_kib=0\n"
		"pool_kib=0\nheld_kib=0\ntargets_kib=0\ncontention=false\nvms=0\n",
		/* A VM without what a VM has: held, resident, overhead. */
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n\n" VM_0,
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n\n" VM_0
		"held_kib=1\nrss_kib=1\noverhead_kib=1\nheld_for_s=-1\n",
		/* A decision with a number that is not one. */
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n\n" VM_0
		"held_kib=1\nrss_kib=1\noverhead_kib=1\nheld_for_s=0\n"
		"buffer_percent=20\nweight=1\nfree_slots=1\nprevious_target_kib=1\n"
		"used_kib=1\nguest_overhead_kib=1\npressure_kib=x\nfloor_kib=1\n"
		"effective_minimum_kib=1\nreachable_maximum_kib=1\nallocation_kib=1\n"
		"allocation=1\nfair_share_kib=1\nhotadd_fill_kib=0\ndimms_planned=0\n"
		"shrink_wait_s=0\nflags=held\n",
		/* Hot-remove facts that are not what they say. */
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n\n" VM_0
		"held_kib=1\nrss_kib=1\noverhead_kib=1\nheld_for_s=0\n"
		"unplug_enabled=maybe\nunplugs=0\nunplug_refusals=0\nunplug_retry_s=0\n",
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n\n" VM_0
		"held_kib=1\nrss_kib=1\noverhead_kib=1\nheld_for_s=0\n"
		"unplug_enabled=true\nunplugs=x\nunplug_refusals=0\nunplug_retry_s=0\n",
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n\n" VM_0
		"held_kib=1\nrss_kib=1\noverhead_kib=1\nheld_for_s=0\n"
		"unplug_enabled=true\nunplugging=dimm0\nunplugging_kib=1\n"
		"unplugging_ms=-3\nunplugs=0\nunplug_refusals=0\nunplug_retry_s=0\n",
		/* Half of them: written together, or not at all. */
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n\n" VM_0
		"held_kib=1\nrss_kib=1\noverhead_kib=1\nheld_for_s=0\n"
		"unplug_enabled=true\n",
	};
	static const char good[] =
		DAEMON_HEAD "connected=true\n" DAEMON_TAIL "vms=1\n\n" VM_0
		"held_kib=1\nrss_kib=1\noverhead_kib=1\nheld_for_s=0\n"
		"buffer_percent=20\nweight=1\nfree_slots=1\nprevious_target_kib=1\n"
		"used_kib=1\nguest_overhead_kib=1\npressure_kib=0\nfloor_kib=1\n"
		"effective_minimum_kib=1\nreachable_maximum_kib=1\nallocation_kib=1\n"
		"allocation=1\nfair_share_kib=1\nhotadd_fill_kib=0\ndimms_planned=0\n"
		"shrink_wait_s=0\nflags=held from-a-newer-dmemd growing\n";
	g_autoptr(GError) err = NULL;
	DmemState ok;

	/* The cases are one mistake away from a valid state. */
	dmem_state_init(&ok);
	g_assert_true(dmem_state_from_data(&ok, good, strlen(good), "state", &err));
	g_assert_no_error(err);
	g_assert_cmpuint(ok.vms->len, ==, 1);
	/* A flag of a newer dmemd is ignored, the known ones kept. */
	g_assert_cmpuint(((DmemStateVm *)ok.vms->pdata[0])->decision.flags, ==,
			 DMEM_DECISION_HELD | DMEM_DECISION_GROWING);
	/* A state from before hot-remove: none of it, nothing wrong. */
	g_assert_false(((DmemStateVm *)ok.vms->pdata[0])->unplug_enabled);
	g_assert_cmpuint(((DmemStateVm *)ok.vms->pdata[0])->decision.unplug_dimms, ==, 0);
	g_assert_cmpuint(ok.unplug_delay_s, ==, 0);
	dmem_state_clear(&ok);

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

/* Nothing but @name in @dir: no temporary file left behind. */
static void assert_only_file(const char *dir, const char *name)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *entry;
	guint n = 0;

	g_assert_nonnull(d);
	while ((entry = g_dir_read_name(d))) {
		g_assert_cmpstr(entry, ==, name);
		n++;
	}
	g_assert_cmpuint(n, ==, 1);
}

static void test_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("dmem-test-state.XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "sub", "state", NULL);
	g_autofree char *sub = g_path_get_dirname(path);
	struct group *libvirt = getgrnam("libvirt");
	DmemState a, b;
	GStatBuf st;
	ino_t first;

	fill(&a);
	g_assert_true(dmem_state_write(&a, path, &error));
	g_assert_no_error(error);
	/* The missing directory was created, readable by all. */
	g_assert_cmpint(g_stat(sub, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0755);
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	/* root and group libvirt, or root alone; never the world. */
	g_test_message("mode %o gid %u", st.st_mode & 0777, (unsigned int)st.st_gid);
	if (!libvirt) {
		g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	} else if (geteuid() == 0) {
		g_assert_cmpint(st.st_mode & 0777, ==, 0640);
		g_assert_cmpint(st.st_gid, ==, libvirt->gr_gid);
	} else {
		/* Unprivileged: the group only if we may give the file to it. */
		g_assert_true((st.st_mode & 0777) == 0600 ||
			      ((st.st_mode & 0777) == 0640 && st.st_gid == libvirt->gr_gid));
	}
	first = st.st_ino;
	assert_only_file(sub, "state");

	/* Replaced, not rewritten in place: a reader keeps a whole old copy. */
	g_assert_true(dmem_state_write(&a, path, &error));
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpuint(st.st_ino, !=, first);
	assert_only_file(sub, "state");

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
	g_clear_error(&error);

	/* A path that cannot be written: an error naming it, nothing left. */
	g_assert_false(dmem_state_write(&a, sub, &error));
	g_test_message("%s", error->message);
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, sub));
	g_assert_cmpint(g_rmdir(sub), ==, 0);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
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
	g_test_message("\n%s", t);
	lines = g_strsplit(t, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4);	/* header, 2 rows, "" */
	g_assert_true(g_str_has_prefix(lines[0], "NAME     STATE     STARTUP"));
	g_assert_nonnull(strstr(lines[0], "  ASSIGNED      HELD   DEMAND"));
	g_assert_nonnull(strstr(lines[0], "HOT-ADDED  STATUS     REASON"));
	/* Sizes right-aligned under their headers, unknowns as "-". */
	g_assert_nonnull(strstr(lines[1], " 768 MiB  2048 MiB  1024 MiB  1100 MiB  700 MiB  840 MiB"));
	g_assert_nonnull(strstr(lines[1], "OK         has its ideal"));
	g_assert_nonnull(strstr(lines[2], "db       shut off"));
	/* A stopped VM shows its persistent sizes, nothing live. */
	g_assert_nonnull(strstr(lines[2], "shut off  512 MiB  4096 MiB         -         -        -"));
	g_assert_nonnull(strstr(lines[2], "Unmanaged  not running"));
	for (int i = 0; i < 3; i++)
		g_assert_false(g_str_has_suffix(lines[i], " "));
	/* Columns line up: sizes end under their header, STATUS starts there. */
	g_assert_cmpint(strstr(lines[0], "HELD") + 4 - lines[0], ==,
			strstr(lines[1], "1100 MiB") + 8 - lines[1]);
	g_assert_cmpint(strstr(lines[0], "STATUS") - lines[0], ==,
			strstr(lines[1], "OK ") - lines[1]);
	g_assert_cmpint(strstr(lines[0], "STATUS") - lines[0], ==,
			strstr(lines[2], "Unmanaged") - lines[2]);
	/* A DIMM on its way out: what goes, after what there is. */
	g_assert_nonnull(strstr(lines[0], "         HOT-ADDED  STATUS"));
	g_assert_nonnull(strstr(lines[1], "  512 MiB -256 MiB  OK "));
	g_assert_nonnull(strstr(lines[2], "                 -  Unmanaged"));
	dmem_state_clear(&s);
}

/* The HOT-ADDED column while a DIMM is unplugged, and when none is. */
static void test_table_unplugging(void)
{
	DmemStateVm *vm;
	DmemState s;
	char *t;

	fill(&s);
	vm = s.vms->pdata[0];
	/* Its size unknown: its alias. */
	vm->unplugging_kib = 0;
	t = dmem_status_table(&s);
	g_test_message("\n%s", t);
	g_assert_nonnull(strstr(t, "  512 MiB -dimm1  OK "));
	g_free(t);
	/* None: the column as it always was. */
	g_clear_pointer(&vm->unplugging, g_free);
	t = dmem_status_table(&s);
	g_assert_nonnull(strstr(t, "BALLOON  HOT-ADDED  STATUS"));
	g_assert_nonnull(strstr(t, "256 MiB    512 MiB  OK "));
	g_assert_null(strstr(t, " -2"));
	g_free(t);
	dmem_state_clear(&s);
}

static void test_host_line(void)
{
	DmemState s;
	char *t;

	fill(&s);
	s.pool_kib = MiB(6 * 1024);
	s.committed_kib = MiB(4300);	/* 4.199 GiB */
	s.free_kib = s.pool_kib - s.committed_kib;
	t = dmem_status_host(&s);
	g_assert_cmpstr(t, ==, "pool 6.0 GiB, committed 4.2 GiB, free 1.8 GiB, overcommit 0\n");
	g_free(t);

	/* Overcommitted: by how much, then which VMs and why on a line. */
	s.pool_kib = MiB(512);
	s.committed_kib = MiB(1100);
	s.free_kib = 0;
	s.overcommit_kib = MiB(588);
	s.uncooperative_kib = MiB(1100);
	s.overcommit_reason = g_strdup("web holds 1100 MiB resident: its balloon does not move");
	t = dmem_status_host(&s);
	g_assert_cmpstr(t, ==, "pool 512 MiB, committed 1.1 GiB, free 0, overcommit 588 MiB "
			"(1.1 GiB held by uncooperative VMs)\n"
			"overcommit: web holds 1100 MiB resident: its balloon does not move\n");
	g_free(t);
	dmem_state_clear(&s);
}

static void test_json(void)
{
	g_autofree char *j = NULL;
	DmemState s;

	fill(&s);
	j = dmem_status_json(&s, NULL);
	g_test_message("%s", j);
	g_assert_nonnull(strstr(j, "\"name\":\"web \\\"1\\\"\""));
	g_assert_nonnull(strstr(j, "\"assigned_kib\":1048576"));
	g_assert_nonnull(strstr(j, "\"stale\":false"));
	g_assert_nonnull(strstr(j, "\"demand_kib\":null"));
	g_assert_nonnull(strstr(j, "\"disconnected_since_us\":null"));
	g_assert_null(strstr(j, "\"explain\""));
	/* Host: what VMs hold against the pool; no more "targets". */
	g_assert_nonnull(strstr(j, "\"pool_kib\":8388608,\"committed_kib\":1126400,"
				"\"free_kib\":7262208,\"overcommit_kib\":0,"
				"\"overcommit_reason\":null,\"minimums_kib\":786432,"
				"\"uncooperative_kib\":0,\"contention\":false,"
				"\"cycle_us\":1234}"));
	g_assert_null(strstr(j, "targets_kib"));
	/* Per VM: held, and what it is made of. */
	g_assert_nonnull(strstr(j, "\"dimms\":2,\"held_kib\":1126400,\"rss_kib\":1208320,"
				"\"overhead_kib\":81920,\"held_for_s\":0,"));
	/* Hot-remove: what is being unplugged, what came of the last ones. */
	g_assert_nonnull(strstr(j, ",\"unplug_enabled\":true,\"unplugging\":\"dimm1\","
				"\"unplugging_kib\":262144,\"unplugging_ms\":150,"
				"\"unplugs\":3,\"unplug_refusals\":1,\"unplug_failure\":"
				"\"no DEVICE_REMOVED in 30 s: the guest did not offline it\","
				"\"unplug_retry_s\":240}"));
	g_assert_nonnull(strstr(j, ",\"unplug_enabled\":false,\"unplugging\":null,"
				"\"unplugging_kib\":0,\"unplugging_ms\":0,\"unplugs\":0,"
				"\"unplug_refusals\":0,\"unplug_failure\":null,"
				"\"unplug_retry_s\":0}]}"));
	g_free(j);
	j = dmem_status_json(&s, "gone");
	g_assert_nonnull(strstr(j, "\"stale\":true,\"stale_reason\":\"gone\""));
	g_free(j);
	s.overcommit_kib = 1;
	s.overcommit_reason = g_strdup("a \"b\"");
	j = dmem_status_json(&s, NULL);
	g_assert_nonnull(strstr(j, "\"overcommit_kib\":1,\"overcommit_reason\":\"a \\\"b\\\"\","));
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

/* A reason cut in the middle of a character does not break the file. */
static void test_invalid_utf8(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	DmemState a, b;
	gsize len;

	dmem_state_init(&a);
	dmem_state_init(&b);
	a.version = g_strdup("1");
	a.uri = g_strdup("u");
	a.overcommit_reason = g_strdup("vm \xe2\x82");	/* half a euro sign */
	data = dmem_state_to_data(&a, &len);
	g_assert_true(dmem_state_from_data(&b, data, len, "state", &error));
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(b.overcommit_reason, "vm "));
	g_assert_true(g_utf8_validate(b.overcommit_reason, -1, NULL));
	dmem_state_clear(&a);
	dmem_state_clear(&b);
}

/* ---- hot-remove in `dmemctl explain` ------------------------------------ */

/*
 * A managed VM of 1 GiB boot memory and three 256 MiB DIMMs hot-added, whose
 * allocation (1000 MiB) leaves them unused: the unplug clock runs.
 */
typedef struct {
	DmemPolicyParams p;
	DmemVmInput in;
	DmemVmDecision d;
	DmemPoolDecision pool;
} Case;

static void unplug_case(Case *c)
{
	*c = (Case) {
		.p = { .interval_ms = 1000, .shrink_delay_s = 60,
		       .max_shrink_kib_per_s = MiB(256), .dimm_size_kib = MiB(256),
		       .unplug_delay_s = 60 },
		.in = { .name = "web", .enabled = TRUE, .startup_kib = MiB(1024),
			.minimum_kib = MiB(512), .maximum_kib = MiB(4096),
			.buffer_percent = 20, .weight = 100, .assigned_kib = MiB(1792),
			.target_kib = MiB(1792), .live_kib = MiB(1792), .free_slots = 5,
			.unplug_enabled = TRUE, .removable_dimms = 3,
			.removable_kib = { MiB(256), MiB(256), MiB(256) } },
		.d = { .status = DMEM_STATUS_OK, .managed = TRUE, .demand_known = TRUE,
		       .used_kib = MiB(700), .overhead_kib = MiB(60),
		       .demand_kib = MiB(800), .floor_kib = MiB(200),
		       .ideal_kib = MiB(960), .min_kib = MiB(512), .max_kib = MiB(4096),
		       .allocation_kib = MiB(1000), .alloc_kind = DMEM_ALLOC_IDEAL,
		       .target_kib = MiB(1792), .held_kib = MiB(1792),
		       .unplug_dimms = 3, .unplug_spare_kib = MiB(768),
		       .keep_balloon_off = TRUE, .unplug_wait_s = 23 },
		.pool = { .pool_kib = MiB(8192), .committed_kib = MiB(1792),
			  .free_kib = MiB(6400) },
	};
	g_strlcpy(c->d.reason, "has its ideal", sizeof(c->d.reason));
}

/*
 * The case published as dmemd publishes it, with what the mechanism did
 * (@facts' hot-remove fields), read back and explained.
 */
static char *explain_published(const Case *c, const DmemStateVm *facts)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	DmemState st, back;
	DmemStateVm *vm;
	char *text;
	gsize len;

	dmem_state_init(&st);
	st.version = g_strdup("test");
	st.uri = g_strdup("test:///");
	st.interval_ms = c->p.interval_ms;
	st.shrink_delay_s = c->p.shrink_delay_s;
	st.max_shrink_kib_per_s = c->p.max_shrink_kib_per_s;
	st.dimm_size_kib = c->p.dimm_size_kib;
	st.unplug_delay_s = c->p.unplug_delay_s;
	st.pool_kib = c->pool.pool_kib;
	st.committed_kib = c->pool.committed_kib;
	st.free_kib = c->pool.free_kib;
	st.contention = c->pool.contention;
	vm = dmem_state_add_vm(&st);
	vm->name = g_strdup(c->in.name);
	vm->state = g_strdup("running");
	vm->status = g_strdup(dmem_status_name(c->d.status));
	vm->reason = g_strdup(c->d.reason);
	vm->managed = c->d.managed;
	vm->startup_kib = c->in.startup_kib;
	vm->minimum_kib = c->in.minimum_kib;
	vm->maximum_kib = c->in.maximum_kib;
	vm->assigned_kib = c->in.assigned_kib;
	vm->target_kib = c->d.target_kib;
	vm->live_kib = c->in.live_kib;
	vm->hotadded_kib = c->in.live_kib - c->in.startup_kib;
	vm->dimms = c->in.removable_dimms;
	vm->demand_known = c->d.demand_known;
	vm->demand_kib = c->d.demand_kib;
	vm->ideal_kib = c->d.ideal_kib;
	vm->held_kib = c->d.held_kib;
	vm->unplug_enabled = c->in.unplug_enabled;
	if (facts) {
		vm->unplug_enabled = facts->unplug_enabled;
		vm->unplugging = g_strdup(facts->unplugging);
		vm->unplugging_kib = facts->unplugging_kib;
		vm->unplugging_ms = facts->unplugging_ms;
		vm->unplugs = facts->unplugs;
		vm->unplug_refusals = facts->unplug_refusals;
		vm->unplug_failure = g_strdup(facts->unplug_failure);
		vm->unplug_retry_s = facts->unplug_retry_s;
	}
	dmem_explain_record(&c->in, &c->d, &vm->decision);
	data = dmem_state_to_data(&st, &len);
	dmem_state_init(&back);
	g_assert_true(dmem_state_from_data(&back, data, len, "state", &error));
	g_assert_no_error(error);
	text = dmem_explain_state(&back, back.vms->pdata[0]);
	g_test_message("\n%s", text);
	dmem_state_clear(&st);
	dmem_state_clear(&back);
	return text;
}

static guint count(const char *text, const char *what)
{
	guint n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* The decision's numbers and flags reach the state. */
static void test_explain_record_unplug(void)
{
	DmemStateDecision x;
	Case c;

	unplug_case(&c);
	c.d.unplug = TRUE;
	c.d.unplug_kib = MiB(256);
	c.d.unplug_target_kib = MiB(1536);
	dmem_explain_record(&c.in, &c.d, &x);
	g_assert_cmpuint(x.flags, ==, DMEM_DECISION_UNPLUG | DMEM_DECISION_KEEP_BALLOON_OFF);
	g_assert_cmpuint(x.unplug_dimms, ==, 3);
	g_assert_cmpuint(x.unplug_spare_kib, ==, MiB(768));
	g_assert_cmpint(x.unplug_wait_s, ==, 23);
	g_assert_cmpuint(x.unplug_kib, ==, MiB(256));
	g_assert_cmpuint(x.unplug_target_kib, ==, MiB(1536));
	g_assert_cmpstr(dmem_state_flag_name(15), ==, "unplug");
	g_assert_cmpstr(dmem_state_flag_name(16), ==, "keep-balloon-off");
	g_assert_null(dmem_state_flag_name(DMEM_DECISION_FLAGS));
	c.d.unplug_at_once = TRUE;
	dmem_explain_record(&c.in, &c.d, &x);
	g_assert_cmpuint(x.flags & DMEM_DECISION_UNPLUG_AT_ONCE, !=, 0);
	g_assert_cmpstr(dmem_state_flag_name(18), ==, "unplug-at-once");
}

static void set_one_dimm(Case *c)
{
	c->d.unplug_dimms = 1;
	c->d.unplug_spare_kib = MiB(256);
}

static void set_unplug_now(Case *c)
{
	c->d.unplug = TRUE;
	c->d.unplug_wait_s = 0;
	c->d.unplug_kib = MiB(256);
	c->d.unplug_target_kib = MiB(1536);
}

static void set_unplug_now_short(Case *c)
{
	set_unplug_now(c);
	c->d.keep_balloon_off = FALSE;
	c->d.unplug_at_once = TRUE;
	c->pool.contention = TRUE;
}

/* Another VM is short, but the delay had passed: "now", no more. */
static void set_unplug_now_short_late(Case *c)
{
	set_unplug_now(c);
	c->d.keep_balloon_off = FALSE;
	c->pool.contention = TRUE;
}

static void set_delay_longer(Case *c)
{
	c->p.unplug_delay_s = 120;
	c->d.unplug_wait_s = 83;
	c->d.keep_balloon_off = FALSE;
	c->d.shrink_delayed = TRUE;
	c->d.shrink_wait_s = 23;
}

static void set_probing(Case *c)
{
	c->d.keep_balloon_off = FALSE;
	c->d.probing = TRUE;
}

static void set_above_maximum(Case *c)
{
	c->in.maximum_kib = c->d.max_kib = MiB(1536);
	c->d.keep_balloon_off = FALSE;
	c->d.above_maximum = TRUE;
}

static const struct {
	const char *what;
	void (*change)(Case *c);
	const char *line;
} unplug_decisions[] = {
	{ "waiting, the balloon off them", NULL,
	  "  hot-remove: its allocation leaves 3 hot-added DIMMs (768 MiB) unused; "
	  "the newest goes in 23 s (unplug_delay_s=60), and the balloon stays off "
	  "them until they go\n" },
	{ "one DIMM", set_one_dimm,
	  "  hot-remove: its allocation leaves 1 hot-added DIMM (256 MiB) unused; "
	  "it goes in 23 s (unplug_delay_s=60), and the balloon stays off it until "
	  "then\n" },
	{ "now", set_unplug_now,
	  "  hot-remove: its allocation leaves 3 hot-added DIMMs (768 MiB) unused; "
	  "the newest (256 MiB) goes now; the balloon target is then 1536 MiB\n" },
	{ "now, another VM short", set_unplug_now_short,
	  "  hot-remove: its allocation leaves 3 hot-added DIMMs (768 MiB) unused; "
	  "the newest (256 MiB) goes now, without waiting: another VM is short; the "
	  "balloon target is then 1536 MiB\n" },
	{ "now, another VM short, after the delay", set_unplug_now_short_late,
	  "  hot-remove: its allocation leaves 3 hot-added DIMMs (768 MiB) unused; "
	  "the newest (256 MiB) goes now; the balloon target is then 1536 MiB\n" },
	{ "the longer delay", set_delay_longer,
	  "  hot-remove: its allocation leaves 3 hot-added DIMMs (768 MiB) unused; "
	  "the newest goes in 83 s (unplug_delay_s=120); the balloon takes the "
	  "surplus first (unplug_delay_s=120 is longer than shrink_delay_s=60)\n" },
	{ "a probe", set_probing,
	  "  hot-remove: its allocation leaves 3 hot-added DIMMs (768 MiB) unused; "
	  "the newest goes in 23 s (unplug_delay_s=60); the balloon takes the "
	  "surplus first (a cache probe runs)\n" },
	{ "above its maximum", set_above_maximum,
	  "  hot-remove: its allocation leaves 3 hot-added DIMMs (768 MiB) unused; "
	  "the newest goes in 23 s (unplug_delay_s=60); the balloon takes the "
	  "surplus first (it is above its maximum)\n" },
};

/*
 * What the decision does with DIMMs its allocation leaves unused, word for
 * word the policy's own explanation through the state.
 */
static void test_explain_unplug(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(unplug_decisions); i++) {
		g_autofree char *want = NULL;
		g_autofree char *got = NULL;
		Case c;

		g_test_message("%s", unplug_decisions[i].what);
		unplug_case(&c);
		if (unplug_decisions[i].change)
			unplug_decisions[i].change(&c);
		want = dmem_policy_explain(&c.p, &c.in, &c.d, &c.pool);
		g_assert_nonnull(strstr(want, unplug_decisions[i].line));
		g_assert_cmpuint(count(want, "hot-remove:"), ==, 1);
		/* After the hot-add, before the pool. */
		g_assert_true(strstr(want, "  hot-remove:") < strstr(want, "  pool:"));
		got = explain_published(&c, NULL);
		g_assert_cmpstr(got, ==, want);
	}
}

/* What only the state knows: the mechanism's unplugs. */
static void test_explain_unplug_facts(void)
{
	DmemStateVm facts = {
		.unplug_enabled = TRUE, .unplugging = (char *)"dimm3",
		.unplugging_kib = MiB(256), .unplugging_ms = 150, .unplugs = 2,
	};
	char *text;
	Case c;

	/* An unplug in flight: nothing new is decided meanwhile. */
	unplug_case(&c);
	c.d.unplug_dimms = 0;
	text = explain_published(&c, &facts);
	g_assert_nonnull(strstr(text, "\n  hot-remove: unplugging DIMM dimm3 (256 MiB) for "
				"150 ms\n  hot-remove: 2 DIMMs unplugged this boot\n"));
	g_assert_cmpuint(count(text, "hot-remove:"), ==, 2);
	g_free(text);
	facts.unplugging_kib = 0;
	facts.unplugging_ms = 42000;
	text = explain_published(&c, &facts);
	g_assert_nonnull(strstr(text, "\n  hot-remove: unplugging DIMM dimm3 for 42 s\n"));
	g_free(text);

	/* Refused: the balloon takes the surplus until the next try. */
	facts.unplugging = NULL;
	facts.unplugs = 1;
	facts.unplug_refusals = 1;
	facts.unplug_failure = (char *)"memory block 33 could not be offlined";
	facts.unplug_retry_s = 240;
	text = explain_published(&c, &facts);
	g_assert_nonnull(strstr(text, "\n  hot-remove: the last unplug failed: "
				"memory block 33 could not be offlined; next try in 240 s; the "
				"balloon keeps the surplus meanwhile\n  hot-remove: 1 DIMM "
				"unplugged this boot, 1 unplug refused or unanswered\n"));
	g_assert_cmpuint(count(text, "hot-remove:"), ==, 2);
	g_free(text);
	/* Its backoff over: the decision says what comes next. */
	facts.unplug_retry_s = 0;
	unplug_case(&c);
	text = explain_published(&c, &facts);
	g_assert_nonnull(strstr(text, "\n  hot-remove: the last unplug failed: "
				"memory block 33 could not be offlined; it may be tried again\n"
				"  hot-remove: its allocation leaves 3 hot-added DIMMs"));
	g_assert_cmpuint(count(text, "hot-remove:"), ==, 3);
	g_free(text);

	/* Off: said once, however it was before. */
	facts.unplug_enabled = FALSE;
	facts.unplugs = 0;
	facts.unplug_refusals = 0;
	c.d.unplug_dimms = 0;
	text = explain_published(&c, &facts);
	g_assert_nonnull(strstr(text, "\n  hot-remove: off (unplug=\"no\" in its metadata "
				"or [hotadd] unplug=no)\n"));
	g_assert_cmpuint(count(text, "hot-remove:"), ==, 1);
	g_free(text);

	/* Nothing hot-added, nothing unplugged: no word of it. */
	c.in.live_kib = c.in.startup_kib;
	c.in.removable_dimms = 0;
	text = explain_published(&c, &facts);
	g_assert_null(strstr(text, "hot-remove"));
	g_free(text);

	/* Unmanaged: dmemd does not change it, whatever it did before. */
	unplug_case(&c);
	c.d.managed = FALSE;
	c.d.status = DMEM_STATUS_UNMANAGED;
	facts.unplug_enabled = TRUE;
	facts.unplugs = 4;
	text = explain_published(&c, &facts);
	g_assert_null(strstr(text, "hot-remove"));
	g_free(text);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/state/roundtrip", test_roundtrip);
	g_test_add_func("/state/roundtrip-overcommit", test_roundtrip_overcommit);
	g_test_add_func("/state/roundtrip-unplug-idle", test_roundtrip_unplug_idle);
	g_test_add_func("/state/escape-like-gkeyfile", test_escape_like_gkeyfile);
	g_test_add_func("/state/roundtrip-strings", test_roundtrip_strings);
	g_test_add_func("/state/bad-data", test_bad_data);
	g_test_add_func("/state/file", test_file);
	g_test_add_func("/status/table", test_table);
	g_test_add_func("/status/table-unplugging", test_table_unplugging);
	g_test_add_func("/status/host-line", test_host_line);
	g_test_add_func("/status/json", test_json);
	g_test_add_func("/status/json-escape", test_json_escape);
	g_test_add_func("/status/disconnected", test_disconnected);
	g_test_add_func("/status/stale", test_stale);
	g_test_add_func("/state/invalid-utf8", test_invalid_utf8);
	g_test_add_func("/explain/record-unplug", test_explain_record_unplug);
	g_test_add_func("/explain/unplug", test_explain_unplug);
	g_test_add_func("/explain/unplug-facts", test_explain_unplug_facts);
	return g_test_run();
}
