// SPDX-License-Identifier: GPL-2.0-or-later
/* test-targets.c - unit tests of targets.c: the shrink delay and rate,
 * contention, growth out of free room, changed bounds. */
#include <string.h>

#include <glib.h>

#include "test-sim.h"

/* ---- timing ------------------------------------------------------------- */

static void test_shrink_delay_and_rate(void)
{
	Sim s;
	gsize a;
	int cycles = 0;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(8), GiB(1)));
	s.vm[a].live_kib = s.vm[a].assigned_kib = s.vm[a].target_kib = GiB(8);
	s.vm[a].stats.total_kib = GiB(8);
	s.vm[a].stats.available_kib = GiB(7);

	for (; cycles < 60; cycles++) {
		sim_cycle(&s);
		g_assert_true(s.d[a].shrink_delayed);
		g_assert_cmpuint(s.vm[a].target_kib, ==, GiB(8));
	}
	/* Then down to the ideal, 256 MiB per second. */
	while (s.vm[a].target_kib > s.d[a].ideal_kib && cycles < 200) {
		dmem_kib_t before = s.vm[a].target_kib;

		sim_cycle(&s);
		cycles++;
		g_assert_false(s.d[a].shrink_delayed);
		g_assert_cmpuint(before - s.vm[a].target_kib, <=, MiB(256));
		g_assert_cmpuint(before, >, s.vm[a].target_kib);
	}
	/* The guest of 8 GiB keeps a floor of 744 MiB, more than the buffer. */
	g_assert_cmpuint(s.vm[a].target_kib, ==, GiB(1) + MiB(744));
	/* 8 GiB -> 1768 MiB at 256 MiB/s: 26 cycles after the delay. */
	g_assert_cmpint(cycles, ==, 60 + 26);

	/* Demand above the target ends the surplus; when it falls back,
	 * a new surplus waits the whole delay again. */
	sim_use(&s, a, MiB(1100));
	sim_cycle(&s);
	g_assert_false(s.d[a].shrink_delayed);
	sim_use(&s, a, MiB(500));
	sim_cycle(&s);
	g_assert_true(s.d[a].shrink_delayed);
	g_assert_cmpint(s.d[a].shrink_wait_s, ==, 60);
}

/* Seconds since @since_us in the simulation. */
static gint64 sim_since_s(const Sim *s, gint64 since_us)
{
	return (s->h.now_us - since_us) / SEC;
}

/*
 * The VM test's workload: demand rises 16 MiB every 500 ms cycle, DIMMs are
 * hot-added and filled. The fill is surplus at every moment, but not idle:
 * it is never shrunk while demand rises, only once demand has been flat for
 * shrink_delay_s.
 */
static void test_shrink_delay_rising_demand(void)
{
	Sim s;
	gsize a;
	gint64 rose_us;
	int cycles, fills = 0;

	sim_init(&s, GiB(64));
	s.p.interval_ms = 500;
	s.p.shrink_delay_s = 5;
	a = sim_add(&s, vm_new("grow", MiB(512), GiB(2), MiB(300)));
	rose_us = s.h.now_us;
	for (cycles = 0; s.used[a] < MiB(900); cycles++) {
		sim_use(&s, a, s.used[a] + MiB(16));
		rose_us = s.h.now_us;
		sim_decide(&s);
		g_assert_false(s.pool.contention);
		g_assert_false(s.d[a].shrink_delayed && s.d[a].shrink_rate_limited);
		g_assert_cmpuint(s.d[a].target_kib, >=, s.vm[a].target_kib);
		if (s.d[a].hotadd_fill_kib)
			fills++;
		sim_apply(&s);
	}
	g_assert_cmpuint(s.vm[a].live_kib, >, MiB(512));
	g_assert_cmpint(fills, >, 1);
	g_assert_cmpuint(s.vm[a].target_kib, >, s.d[a].allocation_kib + MiB(64));

	/* Flat: the surplus is kept until demand has not risen for 5 s. */
	for (;;) {
		dmem_kib_t before = s.vm[a].target_kib;

		sim_decide(&s);
		if (s.d[a].target_kib < before)
			break;
		g_assert_true(s.d[a].shrink_delayed);
		g_assert_cmpint(sim_since_s(&s, rose_us), <, 5);
		sim_apply(&s);
	}
	g_assert_cmpint(sim_since_s(&s, rose_us), ==, 5);
	g_assert_false(s.d[a].shrink_delayed);

	/* A slow creep (8 MiB a cycle, below the threshold each time) is a
	 * rise too: measured from the lowest demand since the surplus began. */
	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 5;
	a = sim_add(&s, vm_new("creep", MiB(512), GiB(4), 0));
	sim_resize(&s, a, GiB(2), MiB(400));
	for (cycles = 0; cycles < 60; cycles++) {
		sim_use(&s, a, s.used[a] + MiB(8));
		sim_decide(&s);
		g_assert_true(s.d[a].shrink_delayed);
		g_assert_cmpuint(s.d[a].target_kib, ==, GiB(2));
		g_assert_cmpint(s.d[a].shrink_wait_s, >=, 3);
		sim_apply(&s);
	}
}

/* Flat demand: the surplus goes after exactly shrink_delay_s. */
static void test_shrink_delay_flat_demand(void)
{
	Sim s;
	gsize a;
	gint64 t0;

	sim_init(&s, GiB(64));
	s.p.interval_ms = 500;
	s.p.shrink_delay_s = 5;
	a = sim_add(&s, vm_new("flat", MiB(512), GiB(4), 0));
	sim_resize(&s, a, GiB(2), MiB(600));
	t0 = s.h.now_us;
	for (int k = 0; k < 10; k++) {
		sim_decide(&s);
		g_assert_true(s.d[a].shrink_delayed);
		g_assert_false(s.d[a].demand_rising);
		g_assert_cmpint(s.d[a].shrink_wait_s, ==, 5 - k / 2);
		g_assert_cmpuint(s.d[a].target_kib, ==, GiB(2));
		sim_apply(&s);
	}
	sim_decide(&s);
	g_assert_cmpint(sim_since_s(&s, t0), ==, 5);
	g_assert_false(s.d[a].shrink_delayed);
	g_assert_true(s.d[a].shrink_rate_limited);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(2) - MiB(128));
}

/* Noise below the threshold, and falling demand, do not restart the delay;
 * a rise above it does. */
static void test_shrink_delay_noise(void)
{
	static const struct {
		dmem_kib_t used, noise;
	} cases[] = {
		{ MiB(500), MiB(16) },		/* the 16 MiB floor */
		{ GiB(4), MiB(39) },		/* 1% of 3996 MiB: 39.96 MiB */
	};

	for (gsize c = 0; c < G_N_ELEMENTS(cases); c++) {
		Sim s;
		gsize a;
		dmem_kib_t low = cases[c].used - MiB(100);
		char *text;

		sim_init(&s, GiB(64));
		s.p.shrink_delay_s = 5;
		a = sim_add(&s, vm_new("n", MiB(512), GiB(16), 0));
		sim_resize(&s, a, GiB(10), cases[c].used);
		for (int k = 0; k < 5; k++) {
			/* Up and down by the noise, then down by 100 MiB. */
			sim_use(&s, a, k == 4 ? low :
				       cases[c].used + (k % 2 ? cases[c].noise : 0));
			sim_decide(&s);
			g_assert_true(s.d[a].shrink_delayed);
			g_assert_false(s.d[a].demand_rising);
			g_assert_cmpint(s.d[a].shrink_wait_s, ==, 5 - k);
			sim_apply(&s);
		}
		/* Up by the noise from the new low: still noise, and the
		 * surplus goes after exactly the delay. */
		sim_use(&s, a, low + cases[c].noise);
		sim_decide(&s);
		g_assert_false(s.d[a].demand_rising);
		g_assert_false(s.d[a].shrink_delayed);
		g_assert_cmpuint(s.d[a].target_kib, ==, GiB(10) - MiB(256));
		sim_apply(&s);

		/* Just above the threshold over the low restarts the delay. */
		sim_use(&s, a, low + MAX(MiB(16), low / 100) + 1);
		sim_decide(&s);
		g_assert_true(s.d[a].demand_rising);
		g_assert_true(s.d[a].shrink_delayed);
		g_assert_cmpint(s.d[a].shrink_wait_s, ==, 5);
		g_assert_cmpuint(s.d[a].target_kib, ==, s.vm[a].target_kib);
		text = dmem_policy_explain(&s.p, &s.vm[a], &s.d[a], &s.pool);
		g_test_message("%s", text);
		g_assert_nonnull(strstr(text, "surplus kept for 5 s more (shrink_delay_s=5, "
					"counted while demand does not rise)"));
		g_assert_nonnull(strstr(text, "the shrink delay restarted"));
		g_free(text);
	}
}

/*
 * A surplus that appears while an older one waits out its delay (the
 * workload ends while a DIMM's rounding waits) does not ride on the older
 * clock: after the delay only the older surplus goes, the newer one waits a
 * delay of its own.
 */
static void test_newer_surplus_waits(void)
{
	Sim s;
	gsize a;
	dmem_kib_t old_goal, new_goal;
	gint64 t0, t_new, t_gone = 0;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 5;
	s.p.max_shrink_kib_per_s = GiB(64);	/* the rate hides nothing */
	a = sim_add(&s, vm_new("w", MiB(512), GiB(4), 0));
	sim_resize(&s, a, GiB(2), MiB(1200));
	t0 = s.h.now_us;
	for (int k = 0; k < 4; k++) {
		sim_cycle(&s);
		g_assert_true(s.d[a].shrink_delayed);
	}
	old_goal = s.d[a].allocation_kib;
	g_assert_cmpuint(old_goal, <, GiB(2) - DMEM_SHRINK_MIN_KIB);
	/* The workload ends a second before the delay is over. */
	sim_use(&s, a, MiB(200));
	t_new = s.h.now_us;
	sim_cycle(&s);
	g_assert_true(s.d[a].shrink_delayed);
	sim_cycle(&s);
	new_goal = s.d[a].allocation_kib;
	g_assert_cmpint(sim_since_s(&s, t0), ==, 6);
	g_assert_false(s.d[a].shrink_delayed);
	g_assert_cmpuint(new_goal, <, old_goal - DMEM_SHRINK_MIN_KIB);
	g_assert_cmpuint(s.vm[a].target_kib, ==, old_goal);
	/* The newer surplus goes a whole delay after it appeared. */
	for (int k = 0; k < 10 && !t_gone; k++) {
		gint64 at = s.h.now_us;

		sim_cycle(&s);
		if (s.vm[a].target_kib == new_goal)
			t_gone = at;
		else
			g_assert_cmpuint(s.vm[a].target_kib, ==, old_goal);
	}
	g_assert_cmpint((t_gone - t_new) / SEC, ==, 5);
}

/*
 * The shrink rate is per second, not per cycle: a cycle between cycles (a
 * guest's demand rose) takes only what its share of the interval allows.
 */
static void test_rate_per_time(void)
{
	Sim s;
	gsize a;
	dmem_kib_t before;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 0;
	a = sim_add(&s, vm_new("r", MiB(512), GiB(8), 0));
	sim_resize(&s, a, GiB(8), MiB(500));
	sim_cycle(&s);
	g_assert_cmpuint(s.vm[a].target_kib, ==, GiB(8) - MiB(256));
	/* 200 ms later: a fifth of a step. */
	s.h.now_us -= 800 * 1000;
	before = s.vm[a].target_kib;
	sim_decide(&s);
	g_assert_true(s.d[a].shrink_rate_limited);
	g_assert_cmpuint(before - s.d[a].target_kib, <=, MiB(52));
	g_assert_cmpuint(before - s.d[a].target_kib, >=, MiB(50));
}

/* Fresh statistics between cycles call for a cycle when in use rose. */
static void test_needs_cycle(void)
{
	DmemVmDecision last = { .demand_known = TRUE, .used_kib = MiB(500) };
	DmemGuestStats now = {
		.has_total = TRUE, .total_kib = GiB(1),
		.has_available = TRUE, .available_kib = GiB(1) - MiB(500),
	};

	g_assert_false(dmem_policy_needs_cycle(&last, &now));
	/* Noise: the 16 MiB floor. */
	now.available_kib = GiB(1) - MiB(516);
	g_assert_false(dmem_policy_needs_cycle(&last, &now));
	now.available_kib = GiB(1) - MiB(517);
	g_assert_true(dmem_policy_needs_cycle(&last, &now));
	/* Falling demand waits for the cycle. */
	now.available_kib = GiB(1) - MiB(100);
	g_assert_false(dmem_policy_needs_cycle(&last, &now));
	/* Garbage and unknowns never wake anything. */
	now.available_kib = GiB(2);
	g_assert_false(dmem_policy_needs_cycle(&last, &now));
	now.available_kib = 0;
	now.has_available = FALSE;
	g_assert_false(dmem_policy_needs_cycle(&last, &now));
	now.has_available = TRUE;
	last.demand_known = FALSE;
	g_assert_false(dmem_policy_needs_cycle(&last, &now));
}

static void test_small_surplus_ignored(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 0;
	a = sim_add(&s, vm_new("a", MiB(512), GiB(8), 0));
	s.vm[a].live_kib = s.vm[a].assigned_kib = s.vm[a].target_kib = GiB(1);
	s.vm[a].stats.total_kib = GiB(1);
	s.vm[a].buffer_percent = 50;
	s.vm[a].stats.available_kib = GiB(1) - MiB(680);	/* ideal 1020 MiB */
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].ideal_kib, ==, MiB(1020));
	g_assert_false(s.d[a].target_changed);
}

static void test_contention_takes_surplus(void)
{
	Sim s;
	gsize idle, busy;
	int cycles;

	/* idle sits on 6 GiB it does not use; busy needs 6 GiB more. */
	sim_init(&s, GiB(10));
	idle = sim_add(&s, vm_new("idle", GiB(1), GiB(8), MiB(512)));
	s.vm[idle].live_kib = s.vm[idle].assigned_kib = s.vm[idle].target_kib = GiB(7);
	busy = sim_add(&s, vm_new("busy", GiB(2), GiB(8), GiB(2)));
	s.vm[busy].free_slots = 32;
	sim_apply(&s);
	s.used[busy] = GiB(7);	/* wants 7 GiB but has 2 (and the stats say so) */
	s.vm[busy].stats.total_kib = GiB(2);
	s.vm[busy].stats.available_kib = 0;
	s.st[busy].sample_s = s.h.now_real_s - 1;
	s.vm[busy].stats.swap_in_kib = GiB(1);	/* swapping hard: +1 GiB */

	sim_decide(&s);
	g_assert_true(s.pool.contention);
	g_assert_false(s.d[idle].shrink_delayed);
	g_assert_true(s.d[idle].shrink_at_once);
	g_assert_true(s.d[idle].shrink_rate_limited);
	g_assert_cmpuint(s.d[idle].target_kib, ==, GiB(7) - MiB(256));
	/* busy only grows into what is free (1 GiB): what idle was asked
	 * to give back is not given to busy before idle's balloon has. */
	g_assert_cmpuint(s.d[busy].target_kib, ==, GiB(3));
	g_assert_true(s.d[busy].growth_limited);
	g_assert_cmpuint(s.pool.committed_after_kib, <=, GiB(10));

	for (cycles = 0; cycles < 40; cycles++) {
		sim_apply(&s);
		s.used[busy] = GiB(7);
		sim_decide(&s);
		g_assert_cmpuint(s.pool.committed_after_kib, <=, GiB(10));
	}
	/* In the end busy has its demand and idle keeps its ideal. */
	g_assert_cmpuint(s.d[busy].target_kib, >=, GiB(7));
	g_assert_cmpuint(s.d[idle].target_kib, >=, s.d[idle].ideal_kib);
}

/* Another VM's need takes surplus at once even while demand rises. */
static void test_contention_rising_demand(void)
{
	Sim s;
	gsize grow, busy;

	sim_init(&s, GiB(10));
	grow = sim_add(&s, vm_new("grow", GiB(1), GiB(8), 0));
	sim_resize(&s, grow, GiB(7), MiB(512));
	/* busy uses all it has and swaps: it wants more than is free. */
	busy = sim_add(&s, vm_new("busy", GiB(2), GiB(8), GiB(2)));
	s.vm[busy].free_slots = 32;
	sim_apply(&s);
	sim_use(&s, busy, GiB(7));
	s.st[busy].sample_s = s.h.now_real_s - 1;
	s.vm[busy].stats.swap_in_kib = GiB(1);
	for (int k = 0; k < 4; k++) {
		dmem_kib_t before = s.vm[grow].target_kib;

		sim_use(&s, grow, s.used[grow] + MiB(64));
		sim_decide(&s);
		g_assert_true(s.pool.contention);
		g_assert_cmpint(s.d[grow].demand_rising, ==, k > 0);
		g_assert_false(s.d[grow].shrink_delayed);
		g_assert_true(s.d[grow].shrink_rate_limited);
		g_assert_cmpuint(s.d[grow].target_kib, ==, before - MiB(256));
		g_assert_cmpuint(s.pool.committed_after_kib, <=, GiB(10));
		sim_apply(&s);
	}
}

static void test_maximum_lowered(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(8), MiB(512)));
	s.vm[a].live_kib = s.vm[a].assigned_kib = s.vm[a].target_kib = GiB(8);
	s.vm[a].stats.total_kib = GiB(8);
	s.vm[a].stats.available_kib = GiB(8) - MiB(512);
	s.vm[a].maximum_kib = GiB(4);	/* the admin lowered it */
	/* At once, without the shrink delay, but at the rate limit. */
	sim_decide(&s);
	g_assert_true(s.d[a].above_maximum);
	g_assert_false(s.d[a].shrink_delayed);
	g_assert_true(s.d[a].shrink_rate_limited);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(8) - MiB(256));
	for (int i = 0; i < 15; i++) {
		sim_apply(&s);
		sim_decide(&s);
		g_assert_cmpuint(s.d[a].target_kib, ==, GiB(8) - MiB(256) * (i + 2));
	}
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(4));
	/* And a raised minimum applies at once: it only takes back what
	 * the balloon has not returned yet. */
	s.vm[a].maximum_kib = GiB(8);
	s.vm[a].minimum_kib = GiB(6);
	s.vm[a].target_kib = GiB(2);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(6));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/timing/shrink-delay-and-rate", test_shrink_delay_and_rate);
	g_test_add_func("/policy/timing/rising-demand", test_shrink_delay_rising_demand);
	g_test_add_func("/policy/timing/flat-demand", test_shrink_delay_flat_demand);
	g_test_add_func("/policy/timing/noise", test_shrink_delay_noise);
	g_test_add_func("/policy/timing/newer-surplus-waits", test_newer_surplus_waits);
	g_test_add_func("/policy/timing/small-surplus", test_small_surplus_ignored);
	g_test_add_func("/policy/timing/needs-cycle", test_needs_cycle);
	g_test_add_func("/policy/timing/rate-per-time", test_rate_per_time);
	g_test_add_func("/policy/timing/contention", test_contention_takes_surplus);
	g_test_add_func("/policy/timing/contention-rising", test_contention_rising_demand);
	g_test_add_func("/policy/bounds-changed", test_maximum_lowered);
	return g_test_run();
}
