// SPDX-License-Identifier: GPL-2.0-or-later
/* test-hotadd.c - unit tests of hotadd.c: whole DIMMs within the pool,
 * the live ceiling and slots, the guest keeping whole DIMMs. */
#include <string.h>

#include <glib.h>

#include "test-sim.h"

/* ---- hot-add ------------------------------------------------------------ */

static void test_hotadd(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(2) + MiB(100), GiB(1)));
	s.vm[a].stats.available_kib = 0;
	s.vm[a].buffer_percent = 100;	/* ideal 2 GiB */
	s.vm[a].free_slots = 8;
	sim_decide(&s);
	/* 1 GiB more: four 256 MiB DIMMs; the last 100 MiB are not reachable. */
	g_assert_cmpuint(s.d[a].max_kib, ==, GiB(2));
	g_assert_cmpuint(s.d[a].dimms, ==, 4);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(2));

	/* Two slots only: 1.5 GiB. */
	s.vm[a].free_slots = 2;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].max_kib, ==, GiB(1) + MiB(512));
	g_assert_cmpuint(s.d[a].dimms, ==, 2);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) + MiB(512));

	/* Balloon-only VM: the live size is the ceiling. */
	s.vm[a].free_slots = 0;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 0);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1));
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_LOW);
	g_assert_nonnull(strstr(s.d[a].reason, "out of reach"));

	/* A partial DIMM is rounded up: 1 GiB + 1 MiB needs one, and the
	 * guest keeps all of it. */
	s.vm[a].free_slots = 8;
	s.vm[a].buffer_percent = 0;
	s.vm[a].minimum_kib = GiB(1) + MiB(1);
	s.vm[a].stats.available_kib = GiB(1) - MiB(100);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 1);
	g_assert_cmpuint(s.d[a].allocation_kib, ==, GiB(1) + MiB(1));
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) + MiB(256));
	g_assert_cmpuint(s.d[a].hotadd_fill_kib, ==, MiB(255));
}

/*
 * A DIMM is committed whole the moment it is attached (libvirt raises the
 * balloon by its size), so only whole DIMMs that fit in the pool are added,
 * whatever part of them the allocation asks for.
 */
static void test_hotadd_limited_by_pool(void)
{
	Sim s;
	gsize a;

	/* 300 MiB of room: one DIMM fits, the second would not. */
	sim_init(&s, GiB(1) + MiB(300));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(8), GiB(1)));
	s.vm[a].stats.available_kib = 0;
	s.vm[a].buffer_percent = 300;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].allocation_kib, ==, GiB(1) + MiB(300));
	g_assert_cmpuint(s.d[a].dimms, ==, 1);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) + MiB(256));
	g_assert_cmpuint(s.d[a].hotadd_fill_kib, ==, 0);
	g_assert_true(s.d[a].growth_limited);
	g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);

	/* Less than a DIMM of room: no DIMM at all, the VM waits. */
	s.h.pool_kib = GiB(1) + MiB(200);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 0);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1));
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_LOW);

	/* Room for the DIMM: the guest keeps all of it. */
	s.vm[a].buffer_percent = 20;	/* floor: allocation 1256 MiB */
	s.h.pool_kib = GiB(1) + MiB(400);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].allocation_kib, ==, GiB(1) + MiB(232));
	g_assert_cmpuint(s.d[a].dimms, ==, 1);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) + MiB(256));
	s.vm[a].buffer_percent = 40;	/* allocation 1400 MiB: one DIMM fits */
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 1);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) + MiB(256));
	g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);
}

/*
 * After a hot-add the guest keeps the whole new size: it is not asked to
 * balloon out part of the DIMM it was just given. The rounding surplus goes
 * back by the shrink path: after shrink_delay_s, rate-limited.
 */
static void test_hotadd_fill(void)
{
	Sim s;
	gsize a;
	dmem_kib_t ideal;
	int cycles;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 10;
	s.p.max_shrink_kib_per_s = MiB(64);
	a = sim_add(&s, vm_new("a", MiB(512), GiB(4), MiB(300)));
	sim_cycle(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 0);

	/* The guest fills its 512 MiB; with an 80% buffer its ideal is
	 * 922 MiB: two DIMMs make 1024 MiB. */
	s.used[a] = MiB(700);
	s.vm[a].buffer_percent = 80;
	sim_apply(&s);
	sim_decide(&s);
	ideal = s.d[a].ideal_kib;
	g_assert_cmpuint(ideal, ==, MiB(512) * 18 / 10);
	g_assert_cmpuint(s.d[a].dimms, ==, 2);
	g_assert_cmpuint(s.d[a].allocation_kib, ==, ideal);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1));
	g_assert_cmpuint(s.d[a].hotadd_fill_kib, ==, GiB(1) - ideal);
	g_assert_true(s.d[a].target_changed);
	/* Its use settles at 500 MiB: ideal 900 MiB, 124 MiB of surplus. */
	s.used[a] = MiB(500);
	sim_apply(&s);
	g_assert_cmpuint(s.vm[a].live_kib, ==, GiB(1));

	/* The surplus is kept for the delay: no DIMM, no balloon move. */
	for (cycles = 0; cycles < 10; cycles++) {
		sim_decide(&s);
		g_assert_cmpuint(s.d[a].dimms, ==, 0);
		g_assert_cmpuint(s.d[a].hotadd_fill_kib, ==, 0);
		g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1));
		g_assert_true(s.d[a].shrink_delayed);
		sim_apply(&s);
	}
	/* Then it goes back to the ideal at 64 MiB/s. */
	sim_decide(&s);
	ideal = s.d[a].ideal_kib;
	g_assert_false(s.d[a].shrink_delayed);
	g_assert_true(s.d[a].shrink_rate_limited);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) - MiB(64));
	for (cycles = 0; cycles < 10 && s.vm[a].target_kib > ideal; cycles++)
		sim_cycle(&s);
	g_assert_cmpuint(s.vm[a].target_kib, ==, ideal);
	g_assert_cmpuint(s.vm[a].live_kib, ==, GiB(1));
}

/* Only memory nobody else has a target on fills, shared by weight; held
 * VMs are never filled; a VM that is short takes the fill back at once. */
static void test_hotadd_fill_shared(void)
{
	Sim s;
	gsize a, b, c;

	/* a and b each need 1 DIMM for 100 MiB more: 312 MiB of room. */
	sim_init(&s, GiB(2) + MiB(512));
	s.p.shrink_delay_s = 60;
	a = sim_add(&s, vm_new("a", GiB(1), GiB(4), MiB(800)));
	b = sim_add(&s, vm_new("b", GiB(1), GiB(4), MiB(800)));
	for (gsize i = a; i <= b; i++) {	/* the minimum decides */
		s.vm[i].buffer_percent = 0;
		s.vm[i].minimum_kib = GiB(1) + MiB(100);
	}
	s.vm[a].weight = 3000;
	s.vm[b].weight = 1000;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 1);
	g_assert_cmpuint(s.d[b].dimms, ==, 1);
	/* 312 MiB shared 3:1; a's 156 MiB cap is hit, b gets the rest. */
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) + MiB(256));
	g_assert_cmpuint(s.d[b].target_kib, ==, GiB(1) + MiB(256));
	g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);
	/* 300 MiB of room: one whole DIMM, to the one with the most weight. */
	s.h.pool_kib = GiB(2) + MiB(300);
	s.vm[a].weight = 1000;
	s.vm[b].weight = 3000;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 0);
	g_assert_cmpuint(s.d[b].dimms, ==, 1);
	g_assert_true(s.d[a].growth_limited);
	g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);
	/* 100 MiB of room: no whole DIMM fits, nobody hot-adds. */
	s.h.pool_kib = GiB(2) + MiB(100);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms + s.d[b].dimms, ==, 0);

	/* An uncooperative VM is never given more, not even for a raised
	 * minimum: it is counted at what it holds. */
	sim_init(&s, GiB(64));
	c = sim_add(&s, vm_new("c", GiB(1), GiB(4), GiB(1)));
	s.vm[c].stats = (DmemGuestStats) { 0 };
	s.vm[c].minimum_kib = GiB(1) + MiB(100);
	sim_decide(&s);
	g_assert_true(s.d[c].held);
	g_assert_cmpuint(s.d[c].dimms, ==, 0);
	g_assert_cmpuint(s.d[c].target_kib, ==, GiB(1));
	g_assert_cmpuint(s.d[c].held_kib, ==, GiB(1));

	/* The fill is surplus like any other: another VM's need takes it
	 * without waiting for the delay. */
	sim_init(&s, GiB(3));
	s.p.shrink_delay_s = 60;
	/* ideal 1032 MiB, by its floor: 800 MiB in use + 232 MiB */
	a = sim_add(&s, vm_new("a", GiB(1), GiB(4), MiB(800)));
	s.vm[a].buffer_percent = 10;
	s.vm[a].minimum_kib = MiB(512);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 1);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) + MiB(256));
	sim_apply(&s);
	/* b comes and wants 2 GiB of the 3: a's fill is in the way. */
	b = sim_add(&s, vm_new("b", GiB(1), GiB(4), GiB(1)));
	s.vm[b].minimum_kib = MiB(512);
	s.vm[b].buffer_percent = 100;
	s.vm[b].stats.last_update_s = s.h.now_real_s;
	sim_decide(&s);
	g_assert_true(s.pool.contention);
	g_assert_false(s.d[a].shrink_delayed);
	g_assert_cmpuint(s.d[a].target_kib, <, GiB(1) + MiB(256));
	g_assert_cmpuint(s.pool.committed_after_kib, <=, GiB(3));
}

/*
 * The ceiling of hot-add is the live <maxMemory>: a larger one written for
 * the next boot does not make DIMMs that libvirt would refuse.
 */
static void test_hotadd_live_ceiling(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(8), GiB(1)));
	s.vm[a].hotadd_max_kib = GiB(1) + MiB(512);	/* this boot's */
	s.vm[a].stats.available_kib = 0;
	s.vm[a].buffer_percent = 300;			/* wants 4 GiB */
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].max_kib, ==, GiB(1) + MiB(512));
	g_assert_cmpuint(s.d[a].dimms, ==, 2);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1) + MiB(512));
	sim_apply(&s);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].dimms, ==, 0);
	g_assert_nonnull(strstr(s.d[a].reason, "out of reach"));
	/* A balloon-only VM (no live <maxMemory>) never hot-adds. */
	s.vm[a].hotadd_max_kib = 0;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].max_kib, ==, s.vm[a].live_kib);
	g_assert_cmpuint(s.d[a].dimms, ==, 0);
}

/*
 * A demand step that rises fast gets its DIMM a stats period ahead of need
 * (while the pool has free room); a slow creep gets one only when needed.
 */
static void test_dimm_ahead(void)
{
	for (int fast = 0; fast < 2; fast++) {
		Sim s;
		gsize a;
		dmem_kib_t rate = fast ? MiB(150) : MiB(20);
		dmem_kib_t used = MiB(150);
		int first = -1;

		sim_init(&s, GiB(8));
		a = sim_add(&s, vm_new("step", MiB(512), GiB(2), used));
		for (int t = 0; t < 3; t++)
			sim_cycle(&s);
		g_assert_cmpuint(s.vm[a].live_kib, ==, MiB(512));
		for (int t = 0; t < 40 && first < 0; t++) {
			used += rate;
			sim_use(&s, a, used);
			sim_decide(&s);
			if (s.d[a].dimms) {
				first = t;
				g_test_message("%s: DIMM at %d s, in use %" G_GUINT64_FORMAT
					       " MiB, ideal %" G_GUINT64_FORMAT " MiB, ahead %s",
					       fast ? "fast" : "slow", t, used / 1024,
					       s.d[a].ideal_kib / 1024,
					       s.d[a].dimm_ahead ? "yes" : "no");
				/* Fast: before the ideal needs it; slow: when it does. */
				g_assert_cmpint(s.d[a].dimm_ahead, ==, fast);
				if (fast) {
					g_autofree char *why = dmem_policy_explain(&s.p, &s.vm[a],
										 &s.d[a], &s.pool);

					g_assert_cmpuint(s.d[a].ideal_kib, <=, MiB(512));
					g_assert_nonnull(strstr(why, "hot-add: 1 DIMM of 256 MiB, "
								"ahead of need"));
				} else {
					g_assert_cmpuint(s.d[a].ideal_kib, >, MiB(512));
				}
			}
			sim_apply(&s);
		}
		g_assert_cmpint(first, >=, 0);
	}
	/* No free room: nothing ahead. */
	{
		Sim s;
		gsize a;
		dmem_kib_t used = MiB(150);

		sim_init(&s, MiB(560));
		a = sim_add(&s, vm_new("full", MiB(512), GiB(2), used));
		for (int t = 0; t < 3; t++)
			sim_cycle(&s);
		used += MiB(150);
		sim_use(&s, a, used);
		sim_decide(&s);
		g_assert_cmpuint(s.d[a].ideal_kib, <=, MiB(512));
		g_assert_cmpuint(s.d[a].dimms, ==, 0);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/hotadd", test_hotadd);
	g_test_add_func("/policy/hotadd-pool", test_hotadd_limited_by_pool);
	g_test_add_func("/policy/hotadd-fill", test_hotadd_fill);
	g_test_add_func("/policy/hotadd-fill-shared", test_hotadd_fill_shared);
	g_test_add_func("/policy/hotadd-live-ceiling", test_hotadd_live_ceiling);
	g_test_add_func("/policy/hotadd-ahead", test_dimm_ahead);
	return g_test_run();
}
