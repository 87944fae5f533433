// SPDX-License-Identifier: GPL-2.0-or-later
/* test-demand.c - unit tests of demand.c: demand, pressure, the guest's
 * floor and the ideal, and the statuses they lead to. */
#include <string.h>

#include <glib.h>

#include "test-sim.h"

/* ---- demand, ideal, status ---------------------------------------------- */

static void test_demand_and_ideal(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(8), GiB(3)));
	s.vm[a].stats.total_kib = GiB(4);	/* guest sees 4 GiB, uses 3 */
	s.vm[a].stats.available_kib = GiB(1);
	s.vm[a].live_kib = s.vm[a].assigned_kib = s.vm[a].target_kib = GiB(4);
	sim_decide(&s);
	g_assert_true(s.d[a].managed && s.d[a].demand_known);
	g_assert_cmpuint(s.d[a].used_kib, ==, GiB(3));
	g_assert_cmpuint(s.d[a].pressure_kib, ==, 0);
	g_assert_cmpuint(s.d[a].demand_kib, ==, GiB(3));
	/* The buffer (614 MiB) is more than the floor of 4 GiB (488 MiB). */
	g_assert_cmpuint(s.d[a].floor_kib, ==, MiB(488));
	g_assert_cmpuint(s.d[a].floor_target_kib, ==, GiB(3) + MiB(488));
	g_assert_false(s.d[a].ideal_at_floor);
	g_assert_cmpuint(s.d[a].ideal_kib, ==, GiB(3) + GiB(3) / 5);
	g_assert_cmpuint(s.d[a].allocation_kib, ==, s.d[a].ideal_kib);
	g_assert_cmpint(s.d[a].alloc_kind, ==, DMEM_ALLOC_IDEAL);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_OK);
	/* The surplus waits for the shrink delay. */
	g_assert_true(s.d[a].shrink_delayed);
	g_assert_cmpint(s.d[a].shrink_wait_s, ==, 60);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(4));
	g_assert_false(s.d[a].target_changed);
}

static void test_ideal_clamped(void)
{
	Sim s;
	gsize lo, hi, b0;

	sim_init(&s, GiB(64));
	lo = sim_add(&s, vm_new("lo", GiB(2), GiB(8), MiB(100)));
	hi = sim_add(&s, vm_new("hi", GiB(2), GiB(3), GiB(2)));
	s.vm[hi].buffer_percent = 100;	/* ideal 4 GiB > maximum 3 GiB */
	b0 = sim_add(&s, vm_new("b0", GiB(2), GiB(8), GiB(1)));
	s.vm[b0].buffer_percent = 0;
	s.vm[b0].minimum_kib = MiB(512);
	sim_decide(&s);
	g_assert_cmpuint(s.d[lo].ideal_kib, ==, GiB(2));	/* minimum */
	g_assert_false(s.d[lo].ideal_at_floor);	/* 460 MiB < the minimum */
	g_assert_cmpuint(s.d[hi].ideal_kib, ==, GiB(3));	/* maximum */
	/* No buffer: what the guest's floor (360 MiB at 2 GiB) keeps. */
	g_assert_cmpuint(s.d[b0].ideal_kib, ==, GiB(1) + MiB(360));
	g_assert_true(s.d[b0].ideal_at_floor);
}

static void test_status(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(8), GiB(1)));
	s.vm[a].live_kib = GiB(2);
	s.vm[a].stats.total_kib = GiB(2);
	s.vm[a].stats.available_kib = GiB(1);	/* demand 1 GiB, ideal 1.2 */

	s.vm[a].assigned_kib = GiB(2);
	sim_decide(&s);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_OK);
	s.vm[a].assigned_kib = MiB(1100);
	sim_decide(&s);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_LOW);
	s.vm[a].assigned_kib = MiB(1000);
	sim_decide(&s);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_WARNING);
	g_assert_cmpstr(dmem_status_name(s.d[a].status), ==, "Warning");
}

/* A demand spike is answered on the next cycle, in full. */
static void test_grow_next_cycle(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(2), GiB(16), GiB(1)));
	sim_cycle(&s);
	s.used[a] = GiB(2);	/* the guest fills its memory */
	sim_apply(&s);		/* the next sample shows it */
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].demand_kib, ==, GiB(2));
	g_assert_cmpuint(s.d[a].allocation_kib, ==, GiB(2) + GiB(2) / 5);
	g_assert_false(s.d[a].shrink_delayed || s.d[a].growth_limited);
	/* 2.4 GiB on 2 GiB of live memory: two 256 MiB DIMMs, all of it. */
	g_assert_cmpuint(s.d[a].dimms, ==, 2);
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(2) + MiB(512));
	sim_apply(&s);
	g_assert_cmpuint(s.vm[a].live_kib, ==, GiB(2) + MiB(512));
}

/* ---- pressure ----------------------------------------------------------- */

static void test_pressure(void)
{
	Sim s;
	gsize a;
	DmemGuestStats *st;
	const dmem_kib_t total = GiB(4);

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(4), GiB(16), GiB(2)));
	st = &s.vm[a].stats;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].pressure_kib, ==, 0);	/* first sample */

	/* 10 MiB/s of swap-in over 2 s. */
	st->last_update_s += 2;
	st->swap_in_kib += MiB(20);
	s.h.now_real_s += 2;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].pressure_kib, ==, MiB(10) * DMEM_PRESSURE_WINDOW_S);
	g_assert_cmpuint(s.d[a].demand_kib, ==, GiB(2) + MiB(40));

	/* The same sample again: the same pressure, not a new rate. */
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].pressure_kib, ==, MiB(40));

	/* Major faults below the noise level do not count, above they do. */
	st->last_update_s += 1;
	s.h.now_real_s += 1;
	st->major_faults += DMEM_MAJOR_FAULT_NOISE_PER_S;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].pressure_kib, ==, 0);
	st->last_update_s += 1;
	s.h.now_real_s += 1;
	st->major_faults += DMEM_MAJOR_FAULT_NOISE_PER_S + 1000;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].pressure_kib, ==,
			 1000 * DMEM_PAGE_KIB * DMEM_PRESSURE_WINDOW_S);

	/* Allocation stalls, where reported. */
	st->last_update_s += 1;
	s.h.now_real_s += 1;
	st->has_alloc_stalls = TRUE;
	st->alloc_stalls = 0;
	sim_decide(&s);	/* first value of the counter: baseline */
	st->last_update_s += 1;
	s.h.now_real_s += 1;
	st->alloc_stalls = 3;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].pressure_kib, ==,
			 total * DMEM_ALLOC_STALL_PRESSURE_PERCENT / 100);

	/* Counters going back (reboot, or a lie) are no pressure. */
	st->last_update_s += 1;
	s.h.now_real_s += 1;
	st->swap_in_kib = 0;
	st->major_faults = 0;
	st->alloc_stalls = 0;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].pressure_kib, ==, 0);

	/* Absurd rates are capped at half the guest's memory. */
	st->last_update_s += 1;
	s.h.now_real_s += 1;
	st->swap_in_kib = G_MAXUINT64;
	st->major_faults = G_MAXUINT64;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].pressure_kib, ==,
			 total * DMEM_PRESSURE_MAX_PERCENT / 100);
	g_assert_cmpuint(s.d[a].target_kib, <=, s.d[a].max_kib);
}

/* ---- the guest's floor -------------------------------------------------- */

/*
 * The case that made the rule: a guest of 1.25 GiB uses 900 MiB. Demand +
 * 20% leaves it 200 MiB free, but its driver keeps 264 MiB (the floor at
 * 1280 MiB) and refuses the rest: asked for the buffer's ideal, the balloon
 * would stay 64 MiB short and the VM would end up Unresponsive. The ideal is
 * what the balloon can reach, and the guest gets there.
 */
static void test_floor_raises_ideal(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 10;
	a = sim_add(&s, vm_new("a", MiB(1280), MiB(1280), MiB(900)));
	s.vm[a].minimum_kib = MiB(512);
	s.keeps_floor[a] = TRUE;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].demand_kib, ==, MiB(900));
	g_assert_cmpuint(s.d[a].floor_kib, ==, MiB(264));
	g_assert_cmpuint(s.d[a].floor_target_kib, ==, MiB(900 + 264));
	g_assert_true(s.d[a].ideal_at_floor);
	g_assert_cmpuint(s.d[a].ideal_kib, ==, MiB(1164));	/* not 1080 */

	for (int c = 0; c < 100; c++) {
		sim_cycle(&s);
		g_assert_false(s.d[a].held);
		g_assert_cmpuint(s.d[a].target_kib, >=, MiB(1164));
	}
	/* Shrunk after the delay, to where the guest's floor lets it go. */
	g_assert_cmpuint(s.vm[a].target_kib, ==, MiB(1164));
	g_assert_cmpuint(s.vm[a].assigned_kib, ==, s.vm[a].target_kib);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_OK);

	/* The guest kernel's share (assigned - MemTotal) is in use too. */
	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(2), GiB(2), GiB(1)));
	s.vm[a].minimum_kib = MiB(512);
	s.vm[a].stats.total_kib = GiB(2) - MiB(40);
	s.vm[a].stats.available_kib = GiB(1) - MiB(40);
	sim_decide(&s);
	s.h.now_real_s++;	/* a second sample, the balloon steady: */
	s.vm[a].stats.last_update_s++;
	sim_decide(&s);		/* the overhead is learned */
	g_assert_cmpuint(s.d[a].overhead_kib, ==, MiB(40));
	g_assert_cmpuint(s.d[a].floor_target_kib, ==, GiB(1) + MiB(40 + 360));
	g_assert_cmpuint(s.d[a].ideal_kib, ==, GiB(1) + MiB(400));
}

/* Small guests keep a large share, up to about half. */
static void test_floor_small_guest(void)
{
	Sim s;
	gsize a, b;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", MiB(128), MiB(128), MiB(40)));
	s.vm[a].minimum_kib = MiB(64);
	b = sim_add(&s, vm_new("b", MiB(64), MiB(64), MiB(20)));
	s.vm[b].minimum_kib = MiB(16);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].floor_kib, ==, MiB(72));	/* 8 + 128 / 2 */
	g_assert_cmpuint(s.d[a].ideal_kib, ==, MiB(40 + 72));
	g_assert_true(s.d[a].ideal_at_floor);
	g_assert_cmpuint(s.d[b].floor_kib, ==, MiB(40));	/* 8 + 64 / 2 */
	g_assert_cmpuint(s.d[b].ideal_kib, ==, MiB(20 + 40));
	/* More in use than leaves room for the floor: the maximum caps it. */
	sim_use(&s, a, MiB(100));
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].floor_target_kib, ==, MiB(172));
	g_assert_cmpuint(s.d[a].ideal_kib, ==, MiB(128));
	g_assert_false(s.d[a].ideal_at_floor);
	g_assert_false(s.d[a].target_changed);
}

/* Huge guests keep a small share: the buffer decides unless use is low. */
static void test_floor_huge_guest(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(256));
	a = sim_add(&s, vm_new("a", GiB(64), GiB(64), GiB(8)));
	s.vm[a].minimum_kib = GiB(1);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].floor_kib, ==, MiB(2024));	/* 1000 + 65536 / 64 */
	g_assert_true(s.d[a].ideal_at_floor);
	g_assert_cmpuint(s.d[a].ideal_kib, ==, GiB(8) + MiB(2024));
	sim_use(&s, a, GiB(32));
	sim_decide(&s);
	g_assert_false(s.d[a].ideal_at_floor);
	g_assert_cmpuint(s.d[a].ideal_kib, ==, GiB(32) + GiB(32) / 5);
}

/* The guest is untrusted and libvirt's size bounded: no explosion. */
static void test_floor_garbage(void)
{
	Sim s;
	gsize a, b;

	sim_init(&s, GiB(64));
	/* Claims 10% more than it has (the slack accepted), all in use. */
	a = sim_add(&s, vm_new("a", GiB(4), GiB(1024), 0));
	s.vm[a].minimum_kib = GiB(1);
	s.vm[a].stats.total_kib = GiB(4) + GiB(4) / 10;
	s.vm[a].stats.available_kib = 0;
	/* A size no VM has: bounded like every size. */
	b = sim_add(&s, vm_new("b", GiB(1), G_MAXUINT64, 0));
	s.vm[b].live_kib = G_MAXUINT64 - 1;
	sim_decide(&s);
	g_assert_false(s.d[a].held);
	g_assert_cmpuint(s.d[a].used_kib, >, GiB(4));
	g_assert_cmpuint(s.d[a].floor_target_kib, ==, GiB(4) + MiB(488));
	g_assert_cmpuint(s.d[a].ideal_kib, ==, s.d[a].demand_kib + s.d[a].demand_kib / 5);
	g_assert_false(s.d[b].held);
	g_assert_cmpuint(s.d[b].floor_kib, ==, MiB(1000 + (1ULL << 32) / 64));
	g_assert_cmpuint(s.d[b].floor_target_kib, <=, DMEM_SIZE_MAX_KIB + s.d[b].floor_kib);
	g_assert_cmpuint(s.d[b].ideal_kib, ==, s.d[b].floor_kib);	/* nothing in use */
	g_assert_cmpuint(s.d[b].target_kib, <=, s.d[b].max_kib);
}

/* The disks' read rate, as the host counts it, and the guest's cache. */
static void test_disk_io(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(4), MiB(300)));
	s.vm[a].stats.has_disk_caches = TRUE;
	s.vm[a].stats.disk_caches_kib = MiB(400);
	s.vm[a].has_disk_io = TRUE;
	s.vm[a].disk_read_bytes = 1000;
	sim_decide(&s);
	g_assert_true(s.d[a].cache_known);
	g_assert_cmpuint(s.d[a].cache_kib, ==, MiB(400));
	g_assert_false(s.d[a].disk_io_known);		/* one sample: no rate */
	/* 100 MiB in 2 s. */
	s.h.now_us += 2 * SEC;
	s.vm[a].disk_read_bytes += 100ULL << 20;
	sim_decide(&s);
	g_assert_true(s.d[a].disk_io_known);
	g_assert_cmpuint(s.d[a].disk_read_kib_per_s, ==, MiB(50));
	/* A counter that went back (a disk unplugged) starts again. */
	s.h.now_us += SEC;
	s.vm[a].disk_read_bytes = 0;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].disk_read_kib_per_s, ==, 0);
	/* Absurd counts never overflow; a cache above total is cut to it. */
	s.h.now_us += 1;
	s.vm[a].disk_read_bytes = G_MAXUINT64;
	s.vm[a].stats.disk_caches_kib = GiB(1000);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].disk_read_kib_per_s, ==, DMEM_SIZE_MAX_KIB);
	g_assert_cmpuint(s.d[a].cache_kib, ==, s.vm[a].stats.total_kib);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/demand-and-ideal", test_demand_and_ideal);
	g_test_add_func("/policy/ideal-clamped", test_ideal_clamped);
	g_test_add_func("/policy/status", test_status);
	g_test_add_func("/policy/grow-next-cycle", test_grow_next_cycle);
	g_test_add_func("/policy/pressure", test_pressure);
	g_test_add_func("/policy/floor/raises-ideal", test_floor_raises_ideal);
	g_test_add_func("/policy/floor/small-guest", test_floor_small_guest);
	g_test_add_func("/policy/floor/huge-guest", test_floor_huge_guest);
	g_test_add_func("/policy/floor/garbage", test_floor_garbage);
	g_test_add_func("/policy/demand/disk-io", test_disk_io);
	return g_test_run();
}
