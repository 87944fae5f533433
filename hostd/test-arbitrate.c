// SPDX-License-Identifier: GPL-2.0-or-later
/* test-arbitrate.c - unit tests of arbitrate.c: minimums, demand and
 * buffers shared by weight. */
#include <string.h>

#include <glib.h>

#include "test-sim.h"

/* ---- arbitration -------------------------------------------------------- */

static void test_buffers_go_first(void)
{
	Sim s;
	gsize a, b;

	/* Demands 4 + 2 GiB, ideals 4.8 + 2.4; the pool has 6.6 GiB. */
	sim_init(&s, GiB(6) + MiB(600));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(16), GiB(4)));
	b = sim_add(&s, vm_new("b", GiB(1), GiB(16), GiB(2)));
	s.vm[a].stats.total_kib = s.vm[a].live_kib = GiB(4);
	s.vm[a].stats.available_kib = 0;
	s.vm[b].stats.total_kib = s.vm[b].live_kib = GiB(2);
	s.vm[b].stats.available_kib = 0;
	s.vm[a].assigned_kib = s.vm[a].target_kib = GiB(1);
	s.vm[b].assigned_kib = s.vm[b].target_kib = GiB(1);
	s.vm[b].weight = 1000;	/* a: 5000 */
	sim_decide(&s);
	/* 600 MiB of buffer shared 5:1, neither above its ideal. */
	g_assert_cmpint(s.d[a].alloc_kind, ==, DMEM_ALLOC_BUFFER_SHARED);
	g_assert_cmpint(s.d[b].alloc_kind, ==, DMEM_ALLOC_BUFFER_SHARED);
	g_assert_cmpuint(s.d[a].allocation_kib, ==, GiB(4) + MiB(500));
	g_assert_cmpuint(s.d[b].allocation_kib, ==, GiB(2) + MiB(100));
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_WARNING);	/* not yet grown */
	/* Within the live sizes everyone grows; of the 600 MiB left, whole
	 * DIMMs go by weight: two to a, and b's 100 MiB wait for room. */
	g_assert_cmpuint(s.d[a].dimms, ==, 2);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(4) + MiB(512));
	g_assert_cmpuint(s.d[b].dimms, ==, 0);
	g_assert_cmpuint(s.d[b].target_kib, ==, GiB(2));
	g_assert_true(s.d[b].growth_limited);
	g_assert_cmpuint(s.pool.committed_after_kib, <=, s.pool.pool_kib);
}

static void test_demand_shared_by_weight(void)
{
	Sim s;
	gsize a, b;

	/* Minimums 1 + 1 GiB, demands 8 + 8 GiB, the pool 6 GiB. */
	sim_init(&s, GiB(6));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(16), 0));
	b = sim_add(&s, vm_new("b", GiB(1), GiB(16), 0));
	for (gsize i = 0; i < 2; i++) {
		s.vm[i].live_kib = s.vm[i].assigned_kib = s.vm[i].target_kib = GiB(8);
		s.vm[i].stats.total_kib = GiB(8);
		s.vm[i].stats.available_kib = 0;
	}
	s.vm[a].weight = 3000;
	s.vm[b].weight = 1000;
	sim_decide(&s);
	/* 4 GiB above the minimums, 3:1 */
	g_assert_cmpuint(s.d[a].allocation_kib, ==, GiB(1) + GiB(3));
	g_assert_cmpuint(s.d[b].allocation_kib, ==, GiB(1) + GiB(1));
	g_assert_cmpint(s.d[a].alloc_kind, ==, DMEM_ALLOC_DEMAND_SHARED);
	g_assert_true(s.pool.contention);	/* over the pool: shrink now */
	g_assert_false(s.d[a].shrink_delayed);
	g_assert_true(s.d[a].shrink_rate_limited);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(8) - MiB(256));
	g_assert_cmpuint(s.d[b].target_kib, ==, GiB(8) - MiB(256));
}

static void test_waterfill_caps(void)
{
	Sim s;
	gsize a, b, c;

	/* c needs little; what it does not take goes to a and b by weight. */
	sim_init(&s, GiB(10));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(16), 0));
	b = sim_add(&s, vm_new("b", GiB(1), GiB(16), 0));
	c = sim_add(&s, vm_new("c", GiB(1), GiB(16), 0));
	for (gsize i = 0; i < 3; i++) {
		s.vm[i].live_kib = s.vm[i].assigned_kib = s.vm[i].target_kib = GiB(1);
		s.vm[i].stats.total_kib = GiB(1);
		s.vm[i].stats.available_kib = 0;
		s.vm[i].buffer_percent = 0;
	}
	s.used[a] = s.used[b] = GiB(16);
	s.used[c] = GiB(2);
	s.vm[c].weight = 10000;
	sim_apply(&s);	/* guests report their use (clamped to what they have) */
	for (gsize i = 0; i < 3; i++) {	/* and say they need more */
		s.vm[i].stats.total_kib = GiB(1);
		s.vm[i].stats.available_kib = 0;
		s.vm[i].stats.swap_in_kib += 0;
	}
	/* Demand = used = total; fake bigger demands through pressure. */
	s.st[a].sample_s = s.st[b].sample_s = s.st[c].sample_s = s.h.now_real_s - 1;
	s.st[a].swap_in_kib = s.st[b].swap_in_kib = s.st[c].swap_in_kib = 0;
	s.vm[a].stats.swap_in_kib = s.vm[b].stats.swap_in_kib = GiB(1);
	s.vm[c].stats.swap_in_kib = MiB(16);
	sim_decide(&s);
	/* a, b: demand 1.5 GiB (pressure capped at 50%), c: 1 GiB + 64 MiB */
	g_assert_cmpuint(s.d[c].demand_kib, ==, GiB(1) + MiB(64));
	g_assert_cmpuint(s.d[a].demand_kib, ==, GiB(1) + MiB(512));
	/* c's floor (232 MiB at 1 GiB) sets its ideal above its demand. */
	g_assert_true(s.d[c].ideal_at_floor);
	g_assert_cmpuint(s.d[c].allocation_kib, ==, GiB(1) + MiB(232));
	g_assert_cmpuint(s.d[a].allocation_kib, ==, s.d[a].demand_kib);
	g_assert_cmpuint(s.d[b].allocation_kib, ==, s.d[b].demand_kib);
}

static void test_weight_zero(void)
{
	Sim s;
	gsize a, z;

	sim_init(&s, GiB(6));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(16), 0));
	z = sim_add(&s, vm_new("z", GiB(1), GiB(16), 0));
	for (gsize i = 0; i < 2; i++) {
		s.vm[i].live_kib = s.vm[i].assigned_kib = s.vm[i].target_kib = GiB(4);
		s.vm[i].stats.total_kib = GiB(4);
		s.vm[i].stats.available_kib = 0;
		s.vm[i].buffer_percent = 0;
	}
	s.vm[z].weight = 0;
	sim_decide(&s);
	/* a takes its 4 GiB demand first; z gets its minimum and the rest. */
	g_assert_cmpuint(s.d[a].allocation_kib, ==, GiB(4));
	g_assert_cmpuint(s.d[z].allocation_kib, ==, GiB(2));

	/* Only weight-0 VMs: they share equally. */
	s.vm[a].weight = 0;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].allocation_kib, ==, GiB(3));
	g_assert_cmpuint(s.d[z].allocation_kib, ==, GiB(3));
}

static void test_minimums_beyond_pool(void)
{
	Sim s;

	sim_init(&s, GiB(3));
	for (int i = 0; i < 3; i++) {
		gsize k = sim_add(&s, vm_new("m", GiB(2), GiB(8), GiB(2)));

		s.vm[k].live_kib = s.vm[k].assigned_kib = s.vm[k].target_kib = GiB(4);
		s.vm[k].stats.total_kib = GiB(4);
		s.vm[k].stats.available_kib = GiB(1);
	}
	for (int c = 0; c < 30; c++)
		sim_cycle(&s);
	sim_decide(&s);
	for (gsize i = 0; i < s.n; i++) {
		g_assert_cmpuint(s.d[i].target_kib, ==, GiB(2));
		g_assert_cmpint(s.d[i].alloc_kind, ==, DMEM_ALLOC_MINIMUM);
		g_assert_cmpint(s.d[i].status, ==, DMEM_STATUS_LOW);
	}
	g_assert_cmpuint(s.pool.overcommit_kib, ==, GiB(3));
	g_assert_cmpuint(s.pool.minimums_kib, ==, GiB(6));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/arbitration/buffers-first", test_buffers_go_first);
	g_test_add_func("/policy/arbitration/demand-by-weight", test_demand_shared_by_weight);
	g_test_add_func("/policy/arbitration/waterfill-caps", test_waterfill_caps);
	g_test_add_func("/policy/arbitration/weight-zero", test_weight_zero);
	g_test_add_func("/policy/arbitration/minimums-beyond-pool", test_minimums_beyond_pool);
	return g_test_run();
}
