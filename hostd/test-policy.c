// SPDX-License-Identifier: GPL-2.0-or-later
/* test-policy.c - unit tests for policy.c: hand-written rules and
 * invariants over random (and hostile) input. */
#include <string.h>

#include <glib.h>

#include "dmem_floor.h"
#include "policy.h"

#define MiB(x) ((dmem_kib_t)(x) * 1024)
#define GiB(x) ((dmem_kib_t)(x) * 1024 * 1024)
/* The guest's floor at a live size of @live KiB, in KiB. */
#define FLOOR(live) MiB(dmem_floor_mib((unsigned long)((live) / 1024)))
#define T0_REAL_S 1700000000
#define SEC G_USEC_PER_SEC

static DmemPolicyParams params(void)
{
	return (DmemPolicyParams) {
		.interval_ms = 1000,
		.shrink_delay_s = 60,
		.max_shrink_kib_per_s = MiB(256),
		.dimm_size_kib = MiB(256),
	};
}

/* A running, cooperative VM whose guest uses @used of what it has. */
static DmemVmInput vm_new(const char *name, dmem_kib_t startup, dmem_kib_t maximum,
			  dmem_kib_t used)
{
	DmemVmInput vm = {
		.name = name,
		.enabled = TRUE,
		.startup_kib = startup,
		.minimum_kib = startup,
		.maximum_kib = maximum,
		.buffer_percent = 20,
		.weight = 5000,
		.assigned_kib = startup,
		.target_kib = startup,
		.target_known = TRUE,
		.live_kib = startup,
		.hotadd_max_kib = maximum,
		.free_slots = 8,
	};

	vm.stats = (DmemGuestStats) {
		.last_update_s = T0_REAL_S,
		.has_total = TRUE, .has_available = TRUE, .has_free = TRUE,
		.has_swap_in = TRUE, .has_major_faults = TRUE,
		.total_kib = startup,
		.available_kib = startup - MIN(used, startup),
		.free_kib = startup / 2,
	};
	return vm;
}

typedef struct {
	DmemPolicyParams p;
	DmemHostInput h;
	gsize n;
	DmemVmInput vm[16];
	DmemVmState st[16];
	DmemVmDecision d[16];
	DmemPoolDecision pool;
	dmem_kib_t used[16];	/* what each simulated guest uses */
	gboolean frozen[16];	/* balloon ignores its target */
	/* The guest's driver keeps its floor: inflation stops there. */
	gboolean keeps_floor[16];
} Sim;

static void sim_init(Sim *s, dmem_kib_t pool_kib)
{
	memset(s, 0, sizeof(*s));
	s->p = params();
	s->h = (DmemHostInput) {
		.pool_kib = pool_kib,
		.now_us = 1000 * SEC,
		.now_real_s = T0_REAL_S,
	};
}

static gsize sim_add(Sim *s, DmemVmInput vm)
{
	g_assert_cmpuint(s->n, <, G_N_ELEMENTS(s->vm));
	s->vm[s->n] = vm;
	s->used[s->n] = vm.stats.total_kib - vm.stats.available_kib;
	dmem_vm_state_init(&s->st[s->n]);
	return s->n++;
}

static void sim_decide(Sim *s)
{
	dmem_policy_decide(&s->p, &s->h, s->vm, s->st, s->d, s->n, &s->pool);
}

/* Apply the decisions like the mechanism and a cooperative guest would,
 * advance time by one interval and refresh the stats. */
static void sim_apply(Sim *s)
{
	for (gsize i = 0; i < s->n; i++) {
		DmemVmInput *vm = &s->vm[i];
		DmemVmDecision *d = &s->d[i];

		if (!d->managed)
			continue;
		vm->live_kib += d->dimms * s->p.dimm_size_kib;
		vm->free_slots -= d->dimms;
		vm->target_kib = d->target_kib;
		if (s->frozen[i])
			continue;
		if (s->keeps_floor[i] && vm->target_kib < vm->assigned_kib) {
			/* Like dmem_balloon: MemTotal is assigned, the guest's
			 * size live; inflate while available stays above the
			 * floor, never deflate for it. */
			dmem_kib_t lowest = s->used[i] + FLOOR(vm->live_kib);

			vm->assigned_kib = MAX(vm->target_kib,
					       MIN(vm->assigned_kib, lowest));
		} else {
			vm->assigned_kib = vm->target_kib;
		}
	}
	s->h.now_us += (gint64)s->p.interval_ms * 1000;
	s->h.now_real_s += s->p.interval_ms / 1000;
	for (gsize i = 0; i < s->n; i++) {
		DmemGuestStats *st = &s->vm[i].stats;

		if (st->last_update_s == 0)
			continue;
		st->last_update_s = s->h.now_real_s;
		st->total_kib = s->vm[i].assigned_kib;
		st->available_kib = st->total_kib - MIN(s->used[i], st->total_kib);
	}
}

/* The guest of VM @i now uses @used: its stats say so at once. */
static void sim_use(Sim *s, gsize i, dmem_kib_t used)
{
	DmemGuestStats *st = &s->vm[i].stats;

	s->used[i] = used;
	st->available_kib = st->total_kib - MIN(used, st->total_kib);
}

/* VM @i has @size (live, target and balloon), of which its guest uses @used. */
static void sim_resize(Sim *s, gsize i, dmem_kib_t size, dmem_kib_t used)
{
	DmemVmInput *vm = &s->vm[i];

	vm->live_kib = vm->assigned_kib = vm->target_kib = size;
	vm->stats.total_kib = size;
	sim_use(s, i, used);
}

static void sim_cycle(Sim *s)
{
	sim_decide(s);
	sim_apply(s);
}

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

/* ---- uncooperative and hostile guests ----------------------------------- */

static void assert_held(const Sim *s, gsize i, DmemStatus status, const char *why)
{
	g_test_message("%s: %s", s->vm[i].name, s->d[i].reason);
	g_assert_cmpint(s->d[i].status, ==, status);
	g_assert_true(s->d[i].managed && s->d[i].held);
	g_assert_false(s->d[i].demand_known);
	g_assert_cmpuint(s->d[i].target_kib, ==, s->vm[i].target_kib);
	g_assert_cmpuint(s->d[i].dimms, ==, 0);
	g_assert_nonnull(strstr(s->d[i].reason, why));
}

/* assigned - MemTotal counts as demand once learned from steady samples. */
static void test_guest_overhead(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", MiB(512), GiB(2), MiB(300)));
	s.vm[a].stats.total_kib = MiB(464);	/* 48 MiB the guest never sees */
	s.vm[a].stats.available_kib = MiB(164);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].overhead_kib, ==, 0);	/* first sample: unknown */
	g_assert_cmpuint(s.d[a].demand_kib, ==, MiB(300));

	s.vm[a].stats.last_update_s++;
	s.h.now_real_s++;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].overhead_kib, ==, MiB(48));
	g_assert_cmpuint(s.d[a].demand_kib, ==, MiB(348));

	/* A sample taken as assigned moved (a DIMM) teaches nothing. */
	s.vm[a].assigned_kib = MiB(768);
	s.vm[a].stats.last_update_s++;
	s.h.now_real_s++;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].overhead_kib, ==, MiB(48));

	/* A guest that claims a tiny MemTotal gains at most the cap. */
	s.vm[a].stats.total_kib = MiB(64);
	s.vm[a].stats.available_kib = MiB(32);
	s.vm[a].stats.last_update_s++;
	s.h.now_real_s++;
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].overhead_kib, ==,
			 MiB(768) * DMEM_GUEST_OVERHEAD_MAX_PERCENT / 100);
}

static void test_no_driver(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(4), GiB(16), 0));
	s.vm[a].stats = (DmemGuestStats) { 0 };
	for (int i = 0; i < 200; i++) {
		sim_cycle(&s);
		g_assert_cmpuint(s.vm[a].target_kib, ==, GiB(4));
	}
	sim_decide(&s);
	assert_held(&s, a, DMEM_STATUS_NO_DRIVER, "no memory statistics");
}

static void test_stale_stats(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(4), GiB(16), MiB(100)));
	s.h.now_real_s += DMEM_STATS_STALE_MIN_S;
	sim_decide(&s);
	g_assert_true(s.d[a].demand_known);	/* 5 s: still fresh */
	s.h.now_real_s += 1;
	sim_decide(&s);
	assert_held(&s, a, DMEM_STATUS_UNRESPONSIVE, "stats are 6 s old");

	/* Long intervals stretch the limit to 3 intervals. */
	s.p.interval_ms = 10000;
	sim_decide(&s);
	g_assert_true(s.d[a].demand_known);
}

static void test_garbage_stats(void)
{
	static const struct {
		const char *why;
		gboolean has_total, has_available;
		dmem_kib_t total, available;
	} cases[] = {
		{ "zero total", TRUE, TRUE, 0, 0 },
		{ "more available", TRUE, TRUE, GiB(2), GiB(3) },
		{ "but has only 4096 MiB", TRUE, TRUE, GiB(5), GiB(1) },
		{ "but has only", TRUE, TRUE, G_MAXUINT64, 0 },
		{ "no available", TRUE, FALSE, GiB(4), 0 },
		{ "no total", FALSE, TRUE, 0, GiB(1) },
	};

	for (gsize c = 0; c < G_N_ELEMENTS(cases); c++) {
		Sim s;
		gsize a;

		sim_init(&s, GiB(64));
		a = sim_add(&s, vm_new("a", GiB(4), GiB(16), 0));
		s.vm[a].minimum_kib = GiB(1);
		s.vm[a].stats.has_total = cases[c].has_total;
		s.vm[a].stats.has_available = cases[c].has_available;
		s.vm[a].stats.total_kib = cases[c].total;
		s.vm[a].stats.available_kib = cases[c].available;
		sim_decide(&s);
		assert_held(&s, a, DMEM_STATUS_UNRESPONSIVE, cases[c].why);
	}
}

/* A guest that claims all its memory is in use gets at most its maximum. */
static void test_greedy_guest_bounded(void)
{
	Sim s;
	gsize a, b;

	sim_init(&s, GiB(12));
	a = sim_add(&s, vm_new("greedy", GiB(2), GiB(8), GiB(2)));
	b = sim_add(&s, vm_new("honest", GiB(2), GiB(8), GiB(2)));
	for (int i = 0; i < 50; i++) {
		s.used[a] = s.vm[a].assigned_kib;	/* always "full" */
		s.used[b] = GiB(3);
		sim_cycle(&s);
	}
	sim_decide(&s);
	g_assert_cmpuint(s.vm[a].target_kib, <=, GiB(8));
	/* The honest VM still gets its demand and its share. */
	g_assert_cmpuint(s.vm[b].target_kib, >=, GiB(3));
	g_assert_cmpuint(s.vm[a].target_kib + s.vm[b].target_kib, <=, GiB(12));
}

static void test_stuck_balloon(void)
{
	Sim s;
	gsize a, b;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 0;
	a = sim_add(&s, vm_new("stuck", GiB(4), GiB(16), GiB(1)));
	b = sim_add(&s, vm_new("fine", GiB(4), GiB(16), GiB(1)));
	s.vm[a].minimum_kib = s.vm[b].minimum_kib = GiB(1);
	s.frozen[a] = TRUE;

	for (int i = 0; i < DMEM_BALLOON_TIMEOUT_S + 1; i++)
		sim_cycle(&s);
	sim_decide(&s);
	g_test_message("%s", s.d[a].reason);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_UNRESPONSIVE);
	g_assert_nonnull(strstr(s.d[a].reason, "balloon stuck at 4096 MiB"));
	g_assert_true(s.d[a].held);
	/* Held where it is, and counted at what it really holds. */
	g_assert_cmpuint(s.d[a].target_kib, ==, s.vm[a].target_kib);
	g_assert_cmpuint(s.pool.uncooperative_kib, ==, GiB(4));
	g_assert_cmpint(s.d[b].status, ==, DMEM_STATUS_OK);

	/* It recovers as soon as the balloon moves. */
	s.frozen[a] = FALSE;
	s.vm[a].assigned_kib = s.vm[a].target_kib;
	sim_decide(&s);
	g_assert_false(s.d[a].held);
}

static void test_unmanaged(void)
{
	Sim s;
	gsize off, bad, nob, minmax, ok;

	sim_init(&s, GiB(2));
	off = sim_add(&s, vm_new("off", GiB(8), GiB(16), 0));
	s.vm[off].enabled = FALSE;
	nob = sim_add(&s, vm_new("nob", GiB(8), GiB(16), 0));
	s.vm[nob].unmanaged_reason = "no virtio memballoon device";
	minmax = sim_add(&s, vm_new("minmax", GiB(8), GiB(16), 0));
	s.vm[minmax].minimum_kib = GiB(32);
	bad = sim_add(&s, vm_new("bad", GiB(8), GiB(16), 0));
	s.vm[bad].maximum_kib = 0;
	ok = sim_add(&s, vm_new("ok", GiB(1), GiB(16), GiB(2)));
	sim_decide(&s);

	for (gsize i = 0; i < s.n; i++) {
		if (i == ok)
			continue;
		g_test_message("%s: %s", s.vm[i].name, s.d[i].reason);
		g_assert_cmpint(s.d[i].status, ==, DMEM_STATUS_UNMANAGED);
		g_assert_false(s.d[i].managed);
		g_assert_false(s.d[i].target_changed);
		g_assert_cmpuint(s.d[i].dimms, ==, 0);
	}
	g_assert_nonnull(strstr(s.d[off].reason, "enabled=\"no\""));
	g_assert_cmpstr(s.d[nob].reason, ==, "no virtio memballoon device");
	g_assert_cmpstr(s.d[minmax].reason, ==, "minimum 32768 MiB exceeds maximum 16384 MiB");
	/* Unmanaged VMs are outside the pool: "ok" gets its ideal (set by
	 * its floor, 232 MiB at 1 GiB). */
	g_assert_cmpuint(s.d[ok].allocation_kib, ==, GiB(1) + MiB(232));
	g_assert_cmpuint(s.d[ok].target_kib, ==, GiB(1) + MiB(256));
}

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

/* ---- explain ------------------------------------------------------------ */

static void test_explain(void)
{
	Sim s;
	gsize a, h;
	g_autofree char *text = NULL;
	g_autofree char *held = NULL;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("web", GiB(1), GiB(8), GiB(2)));
	s.vm[a].stats.total_kib = GiB(1);
	s.vm[a].stats.available_kib = 0;
	h = sim_add(&s, vm_new("quiet", GiB(1), GiB(8), 0));
	s.vm[h].stats = (DmemGuestStats) { 0 };
	sim_decide(&s);
	text = dmem_policy_explain(&s.p, &s.vm[a], &s.d[a], &s.pool);
	g_test_message("%s", text);
	g_assert_true(g_str_has_prefix(text, "web: Low: growing toward its ideal"));
	g_assert_nonnull(strstr(text, "ideal: 1256 MiB = raised to the guest's floor: "
				"in use 1024 MiB + guest kernel 0 MiB + floor 232 MiB"));
	g_assert_nonnull(strstr(text, "allocation: 1256 MiB"));
	g_assert_nonnull(strstr(text, "target: 1024 MiB -> 1280 MiB"));
	g_assert_nonnull(strstr(text, "hot-add: 1 DIMM of 256 MiB"));
	g_assert_nonnull(strstr(text, "keeps the whole new size: 24 MiB above the allocation"));
	g_clear_pointer(&text, g_free);
	s.vm[a].buffer_percent = 50;	/* now the buffer decides */
	sim_decide(&s);
	text = dmem_policy_explain(&s.p, &s.vm[a], &s.d[a], &s.pool);
	g_assert_nonnull(strstr(text, "ideal: 1536 MiB = demand + 50% buffer"));
	g_assert_null(strstr(text, "floor"));
	held = dmem_policy_explain(&s.p, &s.vm[h], &s.d[h], &s.pool);
	g_test_message("%s", held);
	g_assert_true(g_str_has_prefix(held, "quiet: NoDriver: "));
	g_assert_nonnull(strstr(held, "holds: 1024 MiB on the host"));
	g_assert_nonnull(strstr(held, "uncooperative for 0 s: never given more"));
	g_assert_nonnull(strstr(held, "holds 1024 MiB for 0 s"));
}

static void test_pool_helper(void)
{
	DmemConfig cfg;

	dmem_config_init(&cfg);
	/* MemAvailable 10 GiB, VMs hold 6 GiB, reserve 1 GiB. */
	g_assert_cmpuint(dmem_policy_pool_kib(&cfg, GiB(10), GiB(6)), ==, GiB(15));
	g_assert_cmpuint(dmem_policy_pool_kib(&cfg, MiB(100), 0), ==, 0);
	cfg.host_pool_kib = GiB(32);
	g_assert_cmpuint(dmem_policy_pool_kib(&cfg, GiB(10), GiB(6)), ==, GiB(32));
	dmem_config_clear(&cfg);
}

/* ---- invariants over random input --------------------------------------- */

static dmem_kib_t rand_kib(dmem_kib_t lo, dmem_kib_t hi)
{
	return lo + (dmem_kib_t)(g_test_rand_double() * (double)(hi - lo));
}

/* Sizes a hostile guest might send. */
static dmem_kib_t rand_garbage(dmem_kib_t sane)
{
	switch (g_test_rand_int_range(0, 8)) {
	case 0: return 0;
	case 1: return G_MAXUINT64;
	case 2: return G_MAXUINT64 / 3;
	case 3: return sane * 3;
	default: return rand_kib(0, sane + 1);
	}
}

static void random_vm(DmemVmInput *vm, const DmemPolicyParams *p, gint64 now_real_s)
{
	dmem_kib_t startup = rand_kib(MiB(128), GiB(16));
	dmem_kib_t live = startup + g_test_rand_int_range(0, 8) * p->dimm_size_kib;
	dmem_kib_t maximum = live + rand_kib(0, GiB(32));

	*vm = (DmemVmInput) {
		.name = "r",
		.enabled = g_test_rand_int_range(0, 20) != 0,
		.unmanaged_reason = g_test_rand_int_range(0, 30) ? NULL : "lacks a balloon",
		.startup_kib = startup,
		.minimum_kib = g_test_rand_int_range(0, 10) ? rand_kib(MiB(64), startup)
							     : rand_kib(0, maximum * 2),
		.maximum_kib = maximum,
		.buffer_percent = g_test_rand_int_range(0, 1200),
		.weight = g_test_rand_int_range(0, 4) ? g_test_rand_int_range(0, 10001)
						      : g_test_rand_int_range(0, 1 << 30),
		.live_kib = live,
		.free_slots = g_test_rand_int_range(0, 16),
	};
	vm->target_kib = rand_kib(0, maximum + GiB(1));
	vm->target_known = g_test_rand_int_range(0, 4) != 0;
	vm->assigned_kib = g_test_rand_int_range(0, 3) ? vm->target_kib
						       : rand_kib(0, live);
	/* The live <maxMemory>: usually the maximum, sometimes not. */
	switch (g_test_rand_int_range(0, 6)) {
	case 0: vm->hotadd_max_kib = 0; break;
	case 1: vm->hotadd_max_kib = rand_kib(live, maximum + 1); break;
	case 2: vm->hotadd_max_kib = maximum + rand_kib(0, GiB(8)); break;
	default: vm->hotadd_max_kib = maximum; break;
	}
	/* QEMU's resident memory: unknown, plausible, or anything. */
	switch (g_test_rand_int_range(0, 5)) {
	case 0: vm->rss_kib = 0; break;
	case 1: vm->rss_kib = rand_garbage(GiB(64)); break;
	default: vm->rss_kib = rand_kib(0, live + MiB(600)); break;
	}
	if (!g_test_rand_int_range(0, 12)) {
		vm->call_pending = "setting the balloon target";
		vm->call_pending_s = g_test_rand_int_range(0, 100);
	}
	switch (g_test_rand_int_range(0, 10)) {
	case 0:	/* no driver */
		break;
	case 1:	/* stale */
		vm->stats.last_update_s = now_real_s - g_test_rand_int_range(6, 1000);
		vm->stats.has_total = vm->stats.has_available = TRUE;
		vm->stats.total_kib = vm->assigned_kib;
		break;
	case 2:	/* garbage of every kind */
		vm->stats = (DmemGuestStats) {
			.last_update_s = now_real_s + g_test_rand_int_range(-3, 3),
			.has_total = g_test_rand_bit(),
			.has_available = g_test_rand_bit(),
			.has_swap_in = g_test_rand_bit(),
			.has_major_faults = g_test_rand_bit(),
			.has_alloc_stalls = g_test_rand_bit(),
			.total_kib = rand_garbage(live),
			.available_kib = rand_garbage(live),
			.swap_in_kib = rand_garbage(GiB(100)),
			.major_faults = rand_garbage(1 << 30),
			.alloc_stalls = rand_garbage(1000),
		};
		break;
	default: {	/* plausible */
		dmem_kib_t total = MIN(vm->assigned_kib, live);

		vm->stats = (DmemGuestStats) {
			.last_update_s = now_real_s - g_test_rand_int_range(0, 3),
			.has_total = TRUE, .has_available = TRUE,
			.has_swap_in = TRUE, .has_major_faults = TRUE,
			.total_kib = total,
			.available_kib = rand_kib(0, total + 1),
			.swap_in_kib = rand_kib(0, GiB(4)),
			.major_faults = g_test_rand_int_range(0, 100000),
		};
	}
	}
}

/* What a VM holds, from its input and the overhead the policy learned. */
static dmem_kib_t held_of(const DmemVmInput *vm, const DmemVmDecision *d,
			  dmem_kib_t target, guint dimms, dmem_kib_t dimm_kib)
{
	dmem_kib_t bnd = DMEM_SIZE_MAX_KIB;
	dmem_kib_t actual = MIN(vm->assigned_kib, bnd) + dimms * dimm_kib;
	dmem_kib_t rss = MIN(vm->rss_kib, bnd);
	dmem_kib_t by_rss = rss > d->qemu_overhead_kib ? rss - d->qemu_overhead_kib : 0;

	return MAX(MAX(target, actual), by_rss);
}

/* Check one cycle's output against its input. */
static void check_invariants(const DmemPolicyParams *p, const DmemHostInput *h,
			     const DmemVmInput *vms, const DmemVmDecision *d,
			     const DmemPoolDecision *pool, gsize n)
{
	dmem_kib_t sum_after = 0, sum_now = 0, sum_min = 0;
	dmem_kib_t step = p->max_shrink_kib_per_s * p->interval_ms / 1000;
	dmem_kib_t pool_kib = MIN(h->pool_kib, DMEM_SIZE_MAX_KIB);

	for (gsize i = 0; i < n; i++) {
		const DmemVmInput *vm = &vms[i];
		dmem_kib_t cur, live, held_now, held_after;

		if (!d[i].managed) {
			g_assert_cmpint(d[i].status, ==, DMEM_STATUS_UNMANAGED);
			g_assert_cmpuint(d[i].target_kib, ==, vm->target_kib);
			g_assert_cmpuint(d[i].dimms, ==, 0);
			g_assert_false(d[i].target_changed);
			continue;
		}
		cur = MIN(vm->target_kib, DMEM_SIZE_MAX_KIB);
		/* Bounds: never moved outside [minimum, maximum]; a target
		 * already outside (a lowered maximum, a raised minimum)
		 * only moves toward them. */
		g_assert_cmpuint(d[i].max_kib, <=, vm->maximum_kib);
		g_assert_cmpuint(d[i].min_kib, <=, d[i].max_kib);
		if (d[i].target_kib != cur) {
			g_assert_cmpuint(d[i].target_kib, <=, MAX(d[i].max_kib, cur));
			g_assert_cmpuint(d[i].target_kib, >=, MIN(d[i].min_kib, cur));
			if (d[i].target_kib > d[i].max_kib)
				g_assert_cmpuint(d[i].target_kib, <, cur);
			if (d[i].target_kib < d[i].min_kib)
				g_assert_cmpuint(d[i].target_kib, >, cur);
		}
		if (d[i].min_kib < vm->minimum_kib)	/* only when unreachable */
			g_assert_cmpuint(d[i].min_kib, ==, d[i].max_kib);

		/* Hot-add: within slots, maximum and just enough. */
		g_assert_cmpuint(d[i].dimms, <=, vm->free_slots);
		g_assert_cmpuint(vm->live_kib + d[i].dimms * p->dimm_size_kib, <=,
				 MAX(vm->maximum_kib, vm->live_kib));
		if (d[i].dimms) {
			g_assert_false(d[i].held);
			g_assert_cmpuint(vm->live_kib + d[i].dimms * p->dimm_size_kib, <=,
					 vm->hotadd_max_kib);
			g_assert_cmpuint(d[i].target_kib, <=,
					 vm->live_kib + d[i].dimms * p->dimm_size_kib);
			g_assert_cmpuint(d[i].target_kib, >,
					 vm->live_kib + (d[i].dimms - 1) * p->dimm_size_kib);
		} else if (d[i].target_kib > cur) {
			g_assert_cmpuint(d[i].target_kib, <=, vm->live_kib);
		}
		/* The fill: only after a hot-add, only on top of the allocation. */
		if (d[i].hotadd_fill_kib) {
			g_assert_cmpuint(d[i].dimms, >, 0);
			g_assert_cmpuint(d[i].target_kib - d[i].hotadd_fill_kib, >=,
					 d[i].allocation_kib);
			g_assert_false(d[i].growth_limited);
		}
		/* Shrinking is rate-limited. */
		if (d[i].target_kib < cur)
			g_assert_cmpuint(cur - d[i].target_kib, <=, MAX(step, 1));

		if (d[i].held) {
			/* Uncooperative: never grown, shrunk only to reclaim. */
			g_assert_cmpint(d[i].status, >=, DMEM_STATUS_NO_DRIVER);
			if (d[i].reclaiming) {
				g_assert_true(pool->contention);
				g_assert_cmpuint(d[i].target_kib, <, cur);
				g_assert_cmpuint(d[i].target_kib, >=, d[i].min_kib);
			} else {
				g_assert_cmpuint(d[i].target_kib, ==, cur);
			}
		} else {
			g_assert_cmpint(d[i].status, <=, DMEM_STATUS_WARNING);
			g_assert_true(d[i].demand_known);
			g_assert_cmpuint(d[i].allocation_kib, <=, d[i].max_kib);
			g_assert_cmpuint(d[i].ideal_kib, <=, MAX(vm->maximum_kib, d[i].min_kib));
			g_assert_cmpuint(d[i].ideal_kib, >=, d[i].min_kib);
			/* The floor: bounded whatever the guest says, and
			 * the ideal never below what its balloon can reach. */
			live = MIN(vm->live_kib, DMEM_SIZE_MAX_KIB);
			g_assert_cmpuint(d[i].floor_kib, ==, FLOOR(live));
			g_assert_cmpuint(d[i].floor_kib, <=, MiB(8) + live / 2);
			g_assert_cmpuint(d[i].floor_target_kib, <=, live + d[i].floor_kib);
			g_assert_cmpuint(d[i].ideal_kib, >=,
					 MIN(d[i].floor_target_kib,
					     MAX(vm->maximum_kib, d[i].min_kib)));
			if (d[i].ideal_at_floor)
				g_assert_cmpuint(d[i].ideal_kib, ==, d[i].floor_target_kib);
			/* A shrink never goes below the minimum. */
			if (d[i].target_kib < cur)
				g_assert_cmpuint(d[i].target_kib, >=, d[i].min_kib);
		}
		/* Accounting: what it holds, before and after. */
		held_now = held_of(vm, &d[i], cur, 0, 0);
		held_after = held_of(vm, &d[i], d[i].target_kib, d[i].dimms, p->dimm_size_kib);
		g_assert_cmpuint(d[i].held_kib, ==, held_now);
		g_assert_cmpuint(d[i].held_after_kib, ==, held_after);
		g_assert_cmpuint(d[i].qemu_overhead_kib, <=, DMEM_QEMU_OVERHEAD_MAX_KIB);
		sum_now += held_now;
		sum_after += held_after;
		sum_min += d[i].min_kib;
	}
	g_assert_cmpuint(pool->committed_kib, ==, sum_now);
	g_assert_cmpuint(pool->committed_after_kib, ==, sum_after);
	g_assert_cmpuint(pool->minimums_kib, ==, sum_min);
	/* Never hand out memory the pool does not have ... */
	if (sum_now <= pool_kib)
		g_assert_cmpuint(sum_after, <=, pool_kib);
	/* ... and never make an overcommitted pool worse. */
	g_assert_cmpuint(sum_after, <=, MAX(pool_kib, sum_now));
	g_assert_cmpuint(pool->overcommit_kib, ==,
			 sum_now > pool_kib ? sum_now - pool_kib : 0);
	g_assert_cmpuint(pool->free_kib, ==, sum_now < pool_kib ? pool_kib - sum_now : 0);
	if (pool->overcommit_kib)
		g_assert_cmpuint(strlen(pool->overcommit_reason), >, 0);
}

static void test_random_invariants(void)
{
	DmemPolicyParams p = params();

	for (int iter = 0; iter < 20000; iter++) {
		DmemVmInput vms[12];
		DmemVmState st[12];
		DmemVmDecision d[12];
		DmemPoolDecision pool;
		gsize n = g_test_rand_int_range(1, 13);
		DmemHostInput h = {
			.pool_kib = g_test_rand_int_range(0, 8) ? rand_kib(0, GiB(200))
							       : rand_garbage(GiB(64)),
			.now_us = g_test_rand_int_range(1, 1 << 30) * (gint64)SEC,
			.now_real_s = T0_REAL_S,
		};

		p.interval_ms = g_test_rand_int_range(100, 60001);
		p.shrink_delay_s = g_test_rand_int_range(0, 120);
		p.max_shrink_kib_per_s = MiB(g_test_rand_int_range(1, 2048));
		p.dimm_size_kib = MiB(128 * g_test_rand_int_range(1, 9));
		p.reclaim_unresponsive_s = g_test_rand_int_range(0, 3) ?
					   g_test_rand_int_range(0, 600) : 0;
		for (gsize i = 0; i < n; i++) {
			random_vm(&vms[i], &p, h.now_real_s);
			dmem_vm_state_init(&st[i]);
			/* Some VMs come with history. */
			if (g_test_rand_bit()) {
				st[i].sample_s = h.now_real_s - g_test_rand_int_range(-2, 5);
				st[i].swap_in_kib = rand_garbage(GiB(8));
				st[i].major_faults = rand_garbage(1 << 20);
				st[i].surplus_since_us = h.now_us - g_test_rand_int_range(0, 200) * SEC;
				st[i].surplus_demand_kib = rand_garbage(GiB(16));
				st[i].stuck_since_us = g_test_rand_bit() ? 0 :
					h.now_us - g_test_rand_int_range(0, 100) * SEC;
				st[i].stuck_ref_kib = rand_garbage(GiB(8));
				st[i].qemu_overhead_kib = rand_kib(0, DMEM_QEMU_OVERHEAD_MAX_KIB + 1);
				st[i].qemu_ref_actual_kib = g_test_rand_bit() ? vms[i].assigned_kib :
							   rand_garbage(GiB(8));
				st[i].uncoop_since_us = g_test_rand_bit() ? 0 :
					h.now_us - g_test_rand_int_range(0, 1000) * SEC;
				st[i].last_floor_target_kib = rand_garbage(GiB(8));
			}
		}
		dmem_policy_decide(&p, &h, vms, st, d, n, &pool);
		check_invariants(&p, &h, vms, d, &pool, n);
	}
}

/* Many cycles of random workloads: invariants hold every cycle, and
 * cooperative VMs end up with their ideal when the pool allows it. */
static void test_random_simulation(void)
{
	for (int run = 0; run < 300; run++) {
		Sim s;
		int cycles = g_test_rand_int_range(10, 150);

		sim_init(&s, rand_kib(GiB(4), GiB(64)));
		s.p.shrink_delay_s = g_test_rand_int_range(0, 30);
		s.p.max_shrink_kib_per_s = MiB(g_test_rand_int_range(16, 1024));
		for (gsize i = 0, n = g_test_rand_int_range(1, 9); i < n; i++) {
			dmem_kib_t startup = MiB(256 * g_test_rand_int_range(2, 16));
			gsize k = sim_add(&s, vm_new("v", startup,
						     startup + GiB(g_test_rand_int_range(0, 16)),
						     rand_kib(0, startup)));

			s.vm[k].minimum_kib = rand_kib(MiB(128), startup);
			s.vm[k].weight = g_test_rand_int_range(0, 10001);
			s.vm[k].buffer_percent = g_test_rand_int_range(0, 100);
			s.frozen[k] = g_test_rand_int_range(0, 10) == 0;
			s.keeps_floor[k] = g_test_rand_bit();
			if (g_test_rand_int_range(0, 10) == 0)
				s.vm[k].stats = (DmemGuestStats) { 0 };
		}
		for (int c = 0; c < cycles; c++) {
			dmem_kib_t cur[16];

			for (gsize i = 0; i < s.n; i++) {
				if (g_test_rand_int_range(0, 10) == 0)
					s.used[i] = rand_kib(0, s.vm[i].maximum_kib);
				cur[i] = s.vm[i].target_kib;
			}
			if (g_test_rand_int_range(0, 20) == 0)
				s.h.pool_kib = rand_kib(GiB(2), GiB(64));
			sim_decide(&s);
			check_invariants(&s.p, &s.h, s.vm, s.d, &s.pool, s.n);
			for (gsize i = 0; i < s.n; i++)
				if (s.d[i].held)
					g_assert_cmpuint(s.d[i].target_kib, >=,
							 MIN(cur[i], s.d[i].max_kib));
			sim_apply(&s);
		}
	}
}

/*
 * The pool holds against what guests really hold. Each simulated VM has a
 * true footprint (the guest memory QEMU has resident) that follows the
 * balloon at its own speed (lagging balloons); some guests lie, reporting
 * their balloon at the target while nothing moved; QEMU's resident memory
 * is the true footprint plus QEMU's own; VMs restart now and then (a new
 * boot at the startup size, fresh policy state). Whenever the VMs hold no
 * more than the pool by dmemd's count, the true footprints after the
 * cycle's actions fit in the pool too.
 */
typedef struct {
	dmem_kib_t truth;	/* guest memory really resident */
	dmem_kib_t speed;	/* how far the balloon moves per cycle */
	dmem_kib_t own;		/* QEMU's own resident memory */
	gboolean liar;		/* reports its balloon at the target */
} Truth;

static void truth_report(Sim *s, gsize i, const Truth *t)
{
	DmemVmInput *vm = &s->vm[i];
	DmemGuestStats *st = &vm->stats;

	vm->assigned_kib = t->liar ? MIN(vm->target_kib, vm->live_kib) : t->truth;
	vm->rss_kib = t->truth + t->own;
	st->last_update_s = s->h.now_real_s;
	st->total_kib = vm->assigned_kib;
	st->available_kib = st->total_kib - MIN(s->used[i], st->total_kib);
}

static void test_random_truth(void)
{
	for (int run = 0; run < 400; run++) {
		Sim s;
		Truth t[16];
		dmem_kib_t startups = 0;
		gsize n = g_test_rand_int_range(2, 7);

		sim_init(&s, 0);
		s.p.shrink_delay_s = g_test_rand_int_range(0, 20);
		s.p.reclaim_unresponsive_s = g_test_rand_int_range(0, 30);
		for (gsize i = 0; i < n; i++) {
			dmem_kib_t startup = MiB(256 * g_test_rand_int_range(2, 9));
			gsize k = sim_add(&s, vm_new("v", startup,
						     startup + GiB(g_test_rand_int_range(0, 5)),
						     rand_kib(0, startup)));

			s.vm[k].minimum_kib = rand_kib(MiB(256), startup);
			s.vm[k].weight = g_test_rand_int_range(0, 10001);
			s.vm[k].buffer_percent = g_test_rand_int_range(0, 60);
			s.keeps_floor[k] = g_test_rand_bit();
			t[k] = (Truth) {
				.truth = startup,
				.speed = MiB(g_test_rand_int_range(4, 1024)),
				.own = MiB(g_test_rand_int_range(20, 300)),
				.liar = g_test_rand_int_range(0, 6) == 0,
			};
			startups += startup;
		}
		/* The VMs start within the pool. */
		s.h.pool_kib = startups + rand_kib(0, GiB(4));
		for (gsize i = 0; i < n; i++)
			truth_report(&s, i, &t[i]);

		for (int c = 0; c < 120; c++) {
			dmem_kib_t before = 0, after = 0;

			for (gsize i = 0; i < n; i++) {
				if (g_test_rand_int_range(0, 8) == 0)
					s.used[i] = rand_kib(0, s.vm[i].maximum_kib);
				if (g_test_rand_int_range(0, 200) == 0) {
					/* A restart: a new boot at its startup size. */
					s.vm[i].live_kib = s.vm[i].target_kib = s.vm[i].startup_kib;
					s.vm[i].free_slots = 8;
					s.used[i] = MIN(s.used[i], s.vm[i].startup_kib / 2);
					t[i].truth = s.vm[i].startup_kib;
					dmem_vm_state_init(&s.st[i]);
					truth_report(&s, i, &t[i]);
				}
				before += t[i].truth;
			}
			sim_decide(&s);
			check_invariants(&s.p, &s.h, s.vm, s.d, &s.pool, s.n);
			/* dmemd never counts less than the guest holds. */
			for (gsize i = 0; i < n; i++)
				g_assert_cmpuint(s.d[i].held_kib, >=, t[i].truth);

			/* Carry the decisions out, at each guest's pace. */
			for (gsize i = 0; i < n; i++) {
				DmemVmInput *vm = &s.vm[i];
				const DmemVmDecision *d = &s.d[i];
				dmem_kib_t goal;

				vm->live_kib += d->dimms * s.p.dimm_size_kib;
				vm->free_slots -= d->dimms;
				t[i].truth += d->dimms * s.p.dimm_size_kib;
				vm->target_kib = d->target_kib;
				goal = MIN(d->target_kib, vm->live_kib);
				if (s.keeps_floor[i])
					goal = MAX(goal, MIN(t[i].truth, s.used[i] +
							     FLOOR(vm->live_kib)));
				if (goal < t[i].truth)
					t[i].truth -= MIN(t[i].speed, t[i].truth - goal);
				else
					t[i].truth += MIN(t[i].speed, goal - t[i].truth);
				after += t[i].truth;
			}
			if (s.pool.committed_kib <= s.h.pool_kib)
				g_assert_cmpuint(after, <=, s.h.pool_kib);
			(void)before;
			s.h.now_us += (gint64)s.p.interval_ms * 1000;
			s.h.now_real_s += s.p.interval_ms / 1000;
			for (gsize i = 0; i < n; i++)
				truth_report(&s, i, &t[i]);
		}
	}
}

/*
 * Three VMs whose demand exceeds the pool, weights 8000 / 5000 / 2000:
 * once settled, what they hold is ordered by weight, nobody is below its
 * minimum and the pool is not overcommitted.
 */
static void test_contention_weights(void)
{
	static const guint weights[] = { 8000, 5000, 2000 };
	Sim s;

	sim_init(&s, MiB(2560));
	s.p.shrink_delay_s = 5;
	for (gsize i = 0; i < 3; i++) {
		gsize k = sim_add(&s, vm_new("v", MiB(512), GiB(2), MiB(200)));

		s.vm[k].minimum_kib = MiB(384);
		s.vm[k].weight = weights[i];
		/* Guests that can swap: the balloon gets what it asks. */
		s.keeps_floor[k] = FALSE;
	}
	for (int c = 0; c < 200; c++) {
		for (gsize i = 0; i < 3; i++)	/* everyone ramps to 1.5 GiB */
			s.used[i] = MIN(MiB(200) + (dmem_kib_t)c * MiB(20), MiB(1536));
		sim_decide(&s);
		check_invariants(&s.p, &s.h, s.vm, s.d, &s.pool, s.n);
		g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);
		sim_apply(&s);
		/* A guest that needs more than it has swaps: pressure. */
		for (gsize i = 0; i < 3; i++) {
			DmemGuestStats *st = &s.vm[i].stats;

			if (s.used[i] > st->total_kib)
				st->swap_in_kib += MIN(s.used[i] - st->total_kib, MiB(64));
		}
	}
	for (gsize i = 0; i < 3; i++) {
		g_test_message("weight %u: holds %" G_GUINT64_FORMAT " MiB, demand %"
			       G_GUINT64_FORMAT " MiB", weights[i], s.d[i].held_kib / 1024,
			       s.d[i].demand_kib / 1024);
		g_assert_cmpuint(s.d[i].held_kib, >=, MiB(384));
	}
	g_assert_cmpuint(s.d[0].held_kib, >, s.d[1].held_kib);
	g_assert_cmpuint(s.d[1].held_kib, >, s.d[2].held_kib);
	g_assert_cmpuint(s.pool.overcommit_kib, ==, 0);
	g_assert_true(s.pool.contention);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/demand-and-ideal", test_demand_and_ideal);
	g_test_add_func("/policy/ideal-clamped", test_ideal_clamped);
	g_test_add_func("/policy/status", test_status);
	g_test_add_func("/policy/grow-next-cycle", test_grow_next_cycle);
	g_test_add_func("/policy/pressure", test_pressure);
	g_test_add_func("/policy/guest-overhead", test_guest_overhead);
	g_test_add_func("/policy/held/no-driver", test_no_driver);
	g_test_add_func("/policy/held/stale-stats", test_stale_stats);
	g_test_add_func("/policy/held/garbage-stats", test_garbage_stats);
	g_test_add_func("/policy/held/stuck-balloon", test_stuck_balloon);
	g_test_add_func("/policy/greedy-guest", test_greedy_guest_bounded);
	g_test_add_func("/policy/unmanaged", test_unmanaged);
	g_test_add_func("/policy/arbitration/buffers-first", test_buffers_go_first);
	g_test_add_func("/policy/arbitration/demand-by-weight", test_demand_shared_by_weight);
	g_test_add_func("/policy/arbitration/waterfill-caps", test_waterfill_caps);
	g_test_add_func("/policy/arbitration/weight-zero", test_weight_zero);
	g_test_add_func("/policy/arbitration/minimums-beyond-pool", test_minimums_beyond_pool);
	g_test_add_func("/policy/timing/shrink-delay-and-rate", test_shrink_delay_and_rate);
	g_test_add_func("/policy/timing/rising-demand", test_shrink_delay_rising_demand);
	g_test_add_func("/policy/timing/flat-demand", test_shrink_delay_flat_demand);
	g_test_add_func("/policy/timing/noise", test_shrink_delay_noise);
	g_test_add_func("/policy/timing/small-surplus", test_small_surplus_ignored);
	g_test_add_func("/policy/timing/contention", test_contention_takes_surplus);
	g_test_add_func("/policy/timing/contention-rising", test_contention_rising_demand);
	g_test_add_func("/policy/bounds-changed", test_maximum_lowered);
	g_test_add_func("/policy/hotadd", test_hotadd);
	g_test_add_func("/policy/hotadd-pool", test_hotadd_limited_by_pool);
	g_test_add_func("/policy/hotadd-fill", test_hotadd_fill);
	g_test_add_func("/policy/hotadd-fill-shared", test_hotadd_fill_shared);
	g_test_add_func("/policy/floor/raises-ideal", test_floor_raises_ideal);
	g_test_add_func("/policy/floor/small-guest", test_floor_small_guest);
	g_test_add_func("/policy/floor/huge-guest", test_floor_huge_guest);
	g_test_add_func("/policy/floor/garbage", test_floor_garbage);
	g_test_add_func("/policy/explain", test_explain);
	g_test_add_func("/policy/pool", test_pool_helper);
	g_test_add_func("/policy/random/invariants", test_random_invariants);
	g_test_add_func("/policy/random/simulation", test_random_simulation);
	g_test_add_func("/policy/random/truth", test_random_truth);
	g_test_add_func("/policy/contention/weights", test_contention_weights);
	return g_test_run();
}
