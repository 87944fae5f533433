// SPDX-License-Identifier: GPL-2.0-or-later
/* test-unplug.c - unit tests of unplug.c: hot-added DIMMs a surplus leaves
 * unused go back whole, after unplug_delay_s, newest first, one at a time,
 * with the balloon kept off them meanwhile. */
#include <string.h>

#include <glib.h>

#include "policy-priv.h"
#include "test-sim.h"

/* A 512 MiB VM (maximum 2 GiB) grown to 1536 MiB by four DIMMs for a
 * workload that has just ended: its guest now uses @used. */
static gsize grown_vm(Sim *s, dmem_kib_t used)
{
	gsize a = sim_add(s, vm_new("a", MiB(512), GiB(2), MiB(100)));

	s->vm[a].unplug_enabled = TRUE;
	sim_use(s, a, MiB(1100));
	for (int i = 0; i < 5; i++)
		sim_cycle(s);
	g_assert_cmpuint(s->vm[a].live_kib, ==, MiB(1536));
	g_assert_cmpuint(s->vm[a].removable_dimms, ==, 4);
	sim_use(s, a, used);
	return a;
}

/*
 * The workload ends: during the delay nothing moves (the balloon does not
 * take the DIMMs' memory), then the four DIMMs go one a cycle, and the
 * guest ends at its startup size without its balloon ever holding more
 * than the part of the surplus that is not whole DIMMs.
 */
static void test_unplug_after_delay(void)
{
	Sim s;
	gsize a;
	int cycles = 0;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 30;
	a = grown_vm(&s, MiB(100));

	for (; cycles < 30; cycles++) {
		sim_cycle(&s);
		g_assert_false(s.d[a].unplug);
		g_assert_true(s.d[a].keep_balloon_off);
		g_assert_cmpuint(s.d[a].unplug_dimms, ==, 4);
		g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(1536));
	}
	g_assert_cmpint(s.d[a].unplug_wait_s, >=, 1);
	while (s.vm[a].removable_dimms && cycles < 40) {
		dmem_kib_t live = s.vm[a].live_kib;

		sim_cycle(&s);
		cycles++;
		g_assert_true(s.d[a].unplug);
		g_assert_false(s.d[a].unplug_at_once);
		g_assert_cmpuint(s.d[a].unplug_kib, ==, MiB(256));
		/* The balloon holds what it held: no page of it moves. */
		g_assert_cmpuint(s.d[a].unplug_target_kib, ==, live - MiB(256));
		g_assert_cmpuint(s.vm[a].live_kib - s.vm[a].target_kib, ==, 0);
	}
	g_assert_cmpuint(s.unplugs[a], ==, 4);
	g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(512));
	g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(512));
	g_assert_cmpint(cycles, ==, 34);
	/* Nothing more to unplug; the startup memory is never unplugged. */
	sim_cycle(&s);
	g_assert_false(s.d[a].unplug);
	g_assert_cmpuint(s.d[a].unplug_dimms, ==, 0);
}

/*
 * A surplus that leaves only some DIMMs unused: those go, and the balloon
 * takes the rest of the surplus after the shrink delay, from what stays.
 */
static void test_unplug_partial(void)
{
	Sim s;
	gsize a;
	dmem_kib_t goal;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 10;
	a = grown_vm(&s, MiB(600));
	sim_decide(&s);
	goal = s.d[a].allocation_kib;
	/* Two DIMMs go with the margin to spare, the third would not. */
	g_assert_cmpuint(goal, >, MiB(768) - DMEM_UNPLUG_MARGIN_KIB);
	g_assert_cmpuint(goal + DMEM_UNPLUG_MARGIN_KIB, <=, MiB(1024));
	g_assert_cmpuint(s.d[a].unplug_dimms, ==, 2);
	for (int i = 0; i < 40; i++)
		sim_cycle(&s);
	g_assert_cmpuint(s.unplugs[a], ==, 2);
	g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(1024));
	g_assert_cmpuint(s.vm[a].target_kib, ==, s.d[a].allocation_kib);
}

/*
 * An allocation above the minimum must leave the DIMM unused with a margin:
 * one at the edge would be hot-added again when the ideal moves. At the
 * minimum (which does not move) no margin is needed.
 */
static void test_unplug_margin(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 5;
	a = grown_vm(&s, MiB(100));
	s.vm[a].minimum_kib = MiB(256);
	s.vm[a].buffer_percent = 0;
	/* In use + the guest's floor just below 512 MiB: not unplugged to 512. */
	sim_use(&s, a, MiB(512) - FLOOR(MiB(512)) - MiB(20));
	for (int i = 0; i < 30; i++)
		sim_cycle(&s);
	g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(768));
	g_assert_cmpuint(s.d[a].unplug_dimms, ==, 0);
}

/* Demand that rises during the delay starts it again. */
static void test_unplug_demand_rises(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 20;
	a = grown_vm(&s, MiB(100));
	for (int i = 0; i < 15; i++)
		sim_cycle(&s);
	sim_use(&s, a, MiB(300));
	sim_cycle(&s);
	g_assert_false(s.d[a].unplug);
	g_assert_cmpint(s.d[a].unplug_wait_s, ==, 20);
	for (int i = 0; i < 18; i++) {
		sim_cycle(&s);
		g_assert_false(s.d[a].unplug);
	}
	for (int i = 0; i < 4; i++)
		sim_cycle(&s);
	g_assert_cmpuint(s.unplugs[a], >=, 1);
}

/*
 * unplug_delay_s longer than the shrink delay: the balloon takes the
 * surplus first, the DIMMs go later all the same (the guest gives up the
 * balloon pages in them in place), and the target stays at the goal.
 */
static void test_unplug_after_balloon(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 10;
	s.p.unplug_delay_s = 30;
	a = grown_vm(&s, MiB(100));
	for (int i = 0; i < 20; i++) {
		sim_cycle(&s);
		g_assert_false(s.d[a].keep_balloon_off);
		g_assert_false(s.d[a].unplug);
	}
	g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(512));
	g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(1536));
	for (int i = 0; i < 15; i++) {
		sim_cycle(&s);
		if (!s.d[a].unplug)
			continue;
		/* The guest gets room for what the DIMM holds first; after the
		 * unplug its target is the goal by itself. */
		g_assert_cmpuint(s.d[a].unplug_target_kib, ==, MiB(512));
		g_assert_cmpuint(s.d[a].unplug_raise_kib, ==, MiB(256));
		g_assert_cmpuint(s.d[a].held_after_kib, >=, MiB(768));
	}
	g_assert_cmpuint(s.unplugs[a], ==, 4);
	g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(512));
	g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(512));
}

/* No room in the pool to raise the target first: the unplug waits. */
static void test_unplug_needs_room(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 10;
	s.p.unplug_delay_s = 30;
	a = grown_vm(&s, MiB(100));
	for (int i = 0; i < 25; i++)
		sim_cycle(&s);
	g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(512));
	s.h.pool_kib = MiB(600);
	for (int i = 0; i < 10; i++) {
		sim_cycle(&s);
		g_assert_false(s.d[a].unplug);
	}
	g_assert_true(s.d[a].unplug_needs_room);
	s.h.pool_kib = GiB(64);
	sim_cycle(&s);
	g_assert_true(s.d[a].unplug);
}

/* Unplug off (config or metadata) or refused (backoff): the balloon keeps
 * the surplus as before, after the shrink delay. */
static void test_unplug_off(void)
{
	for (int c = 0; c < 2; c++) {
		Sim s;
		gsize a;

		sim_init(&s, GiB(64));
		s.p.shrink_delay_s = s.p.unplug_delay_s = 10;
		a = grown_vm(&s, MiB(100));
		if (c == 0)
			s.vm[a].unplug_enabled = FALSE;
		else
			s.vm[a].unplug_blocked = TRUE;
		for (int i = 0; i < 20; i++) {
			sim_cycle(&s);
			g_assert_false(s.d[a].unplug);
			g_assert_false(s.d[a].keep_balloon_off);
		}
		g_assert_cmpuint(s.unplugs[a], ==, 0);
		g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(1536));
		g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(512));
	}
}

/*
 * Refused after the delay (the mechanism's backoff starts): the balloon
 * takes the surplus at once, its delay having run all along.
 */
static void test_unplug_refused(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 10;
	s.p.unplug_delay_s = 10;
	a = grown_vm(&s, MiB(100));
	for (int i = 0; i < 10; i++)
		sim_cycle(&s);
	s.vm[a].unplug_blocked = TRUE;
	sim_cycle(&s);
	g_assert_false(s.d[a].unplug);
	g_assert_cmpuint(s.d[a].target_kib, <, MiB(1536));
	g_assert_cmpuint(s.d[a].target_kib, >=, MiB(512));
	for (int i = 0; i < 5; i++)
		sim_cycle(&s);
	g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(512));
	g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(1536));
}

/*
 * The balloon already took the surplus (a refusal's backoff ended, or
 * unplug was turned on later): the DIMMs still go, even while the ideal
 * moves by a MiB every sample (a grow decision too small to apply must not
 * restart the clock).
 */
static void test_unplug_balloon_at_goal_jitter(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 10;
	a = grown_vm(&s, MiB(100));
	s.vm[a].unplug_blocked = TRUE;
	for (int i = 0; i < 20; i++)
		sim_cycle(&s);
	g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(512));
	s.vm[a].unplug_blocked = FALSE;
	s.vm[a].minimum_kib = MiB(256);
	for (int i = 0; i < 60; i++) {
		sim_use(&s, a, MiB(200) + (i % 2 ? MiB(1) : 0));
		sim_cycle(&s);
	}
	g_assert_cmpuint(s.unplugs[a], ==, 4);
	g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(512));
}

/* An unplug in flight: nothing new is decided for the VM until it lands. */
static void test_unplug_in_flight(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 5;
	a = grown_vm(&s, MiB(100));
	for (int i = 0; i < 5; i++)
		sim_cycle(&s);
	s.vm[a].unplugging = TRUE;
	s.vm[a].apply_pending = TRUE;
	s.vm[a].pending_target_kib = s.vm[a].target_kib;
	sim_decide(&s);
	g_assert_false(s.d[a].unplug);
	g_assert_cmpuint(s.d[a].target_kib, ==, s.vm[a].target_kib);
	g_assert_false(s.d[a].target_changed);
}

/* Another VM is short: DIMMs go at once, not after the delay. */
static void test_unplug_contention(void)
{
	Sim s;
	gsize a, b;
	gint64 since;

	sim_init(&s, GiB(2));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 60;
	a = grown_vm(&s, MiB(100));
	b = sim_add(&s, vm_new("b", MiB(512), GiB(2), MiB(100)));
	sim_cycle(&s);
	sim_use(&s, b, MiB(1400));
	sim_cycle(&s);
	g_assert_true(s.pool.contention);
	g_assert_true(s.d[a].unplug);
	g_assert_true(s.d[a].unplug_at_once);
	g_assert_false(s.d[a].keep_balloon_off);
	/*
	 * The next one does not wait for statistics newer than the unplug
	 * while b is still short. b's guest cannot show more demand than its
	 * size, so b is kept short by taking what a gave back off the pool.
	 * The unplug clock does not move on those statistics.
	 */
	since = s.st[a].unplug_since_us;
	s.vm[a].unplugged_kib = MiB(256);
	s.h.pool_kib -= MiB(256);
	sim_cycle(&s);
	g_assert_true(s.pool.contention);
	g_assert_true(s.d[a].unplug);
	g_assert_true(s.d[a].unplug_at_once);
	g_assert_cmpint(s.st[a].unplug_since_us, ==, since);
}

/* A cache probe holds the VM below its allocation: the balloon takes it. */
static void test_unplug_probe(void)
{
	Sim s;
	gsize a;
	DmemTargetVm t = { .cur = MiB(1536), .live = MiB(1536) };
	DmemVmDecision d = { .allocation_kib = MiB(512), .min_kib = MiB(512),
			     .max_kib = GiB(2), .probing = TRUE };

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 60;
	a = grown_vm(&s, MiB(100));
	dmem_kib_t room = GiB(64);

	dmem_unplug_plan(&s.p, &s.h, &s.vm[a], &t, &s.st[a], &d, FALSE, &room);
	g_assert_cmpuint(d.unplug_dimms, ==, 4);
	g_assert_false(d.keep_balloon_off);
	g_assert_false(d.unplug);
}

/*
 * Statistics taken before an unplug still count the DIMM: not a guest that
 * lies about its size, for as long as they are the last ones.
 */
static void test_unplug_stats_before(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", MiB(512), GiB(2), MiB(100)));
	sim_resize(&s, a, MiB(1024), MiB(100));
	s.vm[a].stats.total_kib = MiB(1500);
	s.vm[a].stats.available_kib = MiB(1400);
	sim_decide(&s);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_UNRESPONSIVE);
	g_assert_nonnull(strstr(s.d[a].reason, "has only"));
	s.vm[a].unplugged_kib = MiB(512);
	sim_decide(&s);
	g_assert_cmpint(s.d[a].status, !=, DMEM_STATUS_UNRESPONSIVE);
}

/* Statistics from before the last unplug neither restart nor end the
 * clock: a blip in them is not the guest's. */
static void test_unplug_stale_stats_hold_clock(void)
{
	Sim s;
	gsize a;
	gint64 wait;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = s.p.unplug_delay_s = 20;
	a = grown_vm(&s, MiB(100));
	for (int i = 0; i < 5; i++)
		sim_cycle(&s);
	wait = s.d[a].unplug_wait_s;
	s.vm[a].unplugged_kib = MiB(256);
	sim_use(&s, a, MiB(400));
	sim_cycle(&s);
	g_assert_false(s.d[a].unplug);
	g_assert_true(s.d[a].keep_balloon_off);
	s.vm[a].unplugged_kib = 0;
	sim_use(&s, a, MiB(100));
	sim_cycle(&s);
	g_assert_cmpint(s.d[a].unplug_wait_s, <, wait);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/unplug/after-delay", test_unplug_after_delay);
	g_test_add_func("/unplug/partial", test_unplug_partial);
	g_test_add_func("/unplug/margin", test_unplug_margin);
	g_test_add_func("/unplug/demand-rises", test_unplug_demand_rises);
	g_test_add_func("/unplug/after-balloon", test_unplug_after_balloon);
	g_test_add_func("/unplug/needs-room", test_unplug_needs_room);
	g_test_add_func("/unplug/off", test_unplug_off);
	g_test_add_func("/unplug/refused", test_unplug_refused);
	g_test_add_func("/unplug/balloon-at-goal-jitter", test_unplug_balloon_at_goal_jitter);
	g_test_add_func("/unplug/in-flight", test_unplug_in_flight);
	g_test_add_func("/unplug/contention", test_unplug_contention);
	g_test_add_func("/unplug/probe", test_unplug_probe);
	g_test_add_func("/unplug/stats-before", test_unplug_stats_before);
	g_test_add_func("/unplug/stale-stats-hold-clock", test_unplug_stale_stats_hold_clock);
	return g_test_run();
}
