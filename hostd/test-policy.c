// SPDX-License-Identifier: GPL-2.0-or-later
/* test-policy.c - unit tests of the policy cycle (policy.c): classes of
 * VMs, what they hold, explanations, and invariants over random, hostile,
 * lagging and lying input. */
#include <string.h>

#include <glib.h>

#include "explain.h"
#include "test-sim.h"

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

/*
 * A guest that asks for more than its maximum never gets more, and its
 * status says why: Warning, at maximum (the reachable one: slots run out).
 */
static void test_at_maximum(void)
{
	Sim s;
	gsize a, b;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("big", GiB(1), GiB(2), GiB(3)));
	b = sim_add(&s, vm_new("slots", GiB(1), GiB(4), GiB(3)));
	s.vm[b].free_slots = 2;		/* 1 GiB + two 256 MiB DIMMs */
	for (int i = 0; i <= 30; i++) {
		/* Full, and faulting its pages back in: short. */
		for (gsize v = 0; v < s.n; v++) {
			sim_use(&s, v, GiB(3));
			s.vm[v].stats.major_faults += 20000;
		}
		if (i < 30)
			sim_cycle(&s);
	}
	sim_decide(&s);
	/* Demand: all it has, plus the pressure of its faults (at most
	 * 15 % of its total: 311 MiB of 2 GiB). */
	g_assert_cmpuint(s.vm[a].target_kib, ==, GiB(2));
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_WARNING);
	g_assert_cmpstr(s.d[a].reason, ==, "at maximum 2048 MiB: demand 2359 MiB exceeds it");
	g_assert_cmpuint(s.vm[b].target_kib, ==, MiB(1536));
	g_assert_cmpint(s.d[b].status, ==, DMEM_STATUS_WARNING);
	g_assert_cmpstr(s.d[b].reason, ==, "at maximum 1536 MiB (what its live size and free "
			"DIMM slots allow): demand 1847 MiB exceeds it");
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
	g_assert_nonnull(strstr(held, "; holds 1024 MiB"));
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

/* What a VM's QEMU has resident of guest memory counts into the pool. */
static void test_guest_resident(void)
{
	DmemVmInput vm = vm_new("a", GiB(1), GiB(4), MiB(512));
	DmemVmState st;

	dmem_vm_state_init(&st);
	st.qemu_overhead_kib = MiB(100);
	vm.rss_kib = MiB(700);		/* half of it untouched */
	g_assert_cmpuint(dmem_policy_guest_resident_kib(&vm, &st), ==, MiB(600));
	vm.rss_kib = GiB(2);		/* never more than it holds */
	g_assert_cmpuint(dmem_policy_guest_resident_kib(&vm, &st), ==, GiB(1));
	vm.rss_kib = 0;			/* unknown: what it holds */
	g_assert_cmpuint(dmem_policy_guest_resident_kib(&vm, &st), ==, GiB(1));
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
	/* The host's count of disk reads: absent, or anything. */
	vm->has_disk_io = g_test_rand_bit();
	vm->disk_read_bytes = rand_garbage(G_MAXUINT64 / 2);
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
			.has_disk_caches = g_test_rand_bit(),
			.disk_caches_kib = rand_garbage(live),
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
	dmem_kib_t assigned = MIN(vm->assigned_kib, bnd);
	dmem_kib_t actual = assigned + dimms * dimm_kib;
	dmem_kib_t rss = MIN(vm->rss_kib, bnd);
	dmem_kib_t by_rss = rss > d->qemu_overhead_kib ? rss - d->qemu_overhead_kib : 0;
	dmem_kib_t now = MAX(MIN(vm->target_kib, bnd), assigned);
	/* Resident memory beyond the balloon's count stays on top. */
	dmem_kib_t excess = by_rss > now ? by_rss - now : 0;

	return MAX(target, actual) + excess;
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
		/* The cache is the guest's word, bounded by its total. */
		if (d[i].cache_known)
			g_assert_cmpuint(d[i].cache_kib, <=, vm->stats.total_kib);
		g_assert_cmpuint(d[i].disk_read_kib_per_s, <=, DMEM_SIZE_MAX_KIB);
		/* Accounting: what it holds, before and after; a decision
		 * on its way counts as done. */
		held_now = held_of(vm, &d[i], cur, 0, 0);
		held_after = held_of(vm, &d[i], d[i].target_kib, d[i].dimms, p->dimm_size_kib);
		if (vm->apply_pending) {
			dmem_kib_t pending = held_of(vm, &d[i], MIN(vm->pending_target_kib,
								   DMEM_SIZE_MAX_KIB),
						     vm->pending_dimms, p->dimm_size_kib);

			held_now = MAX(held_now, pending);
			held_after = MAX(held_after, pending);
			g_assert_cmpuint(d[i].dimms, ==, 0);
		}
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

/*
 * dmemctl explains from the published state: through the state file's text
 * and back, the explanation is word for word the policy's own.
 */
static void check_explain_through_state(const DmemPolicyParams *p, const DmemVmInput *vms,
					const DmemVmDecision *d, const DmemPoolDecision *pool,
					gsize n)
{
	DmemState st, back;
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	gsize len;

	dmem_state_init(&st);
	dmem_state_init(&back);
	st.version = g_strdup("test");
	st.uri = g_strdup("test:///");
	st.interval_ms = p->interval_ms;
	st.shrink_delay_s = p->shrink_delay_s;
	st.max_shrink_kib_per_s = p->max_shrink_kib_per_s;
	st.dimm_size_kib = p->dimm_size_kib;
	st.reclaim_unresponsive_s = p->reclaim_unresponsive_s;
	st.pool_kib = pool->pool_kib;
	st.committed_kib = pool->committed_kib;
	st.free_kib = pool->free_kib;
	st.overcommit_kib = pool->overcommit_kib;
	st.overcommit_reason = pool->overcommit_reason[0] ? g_strdup(pool->overcommit_reason) : NULL;
	st.minimums_kib = pool->minimums_kib;
	st.uncooperative_kib = pool->uncooperative_kib;
	st.minimums_exceed_pool = pool->minimums_exceed_pool;
	st.contention = pool->contention;
	for (gsize i = 0; i < n; i++) {
		DmemStateVm *s = dmem_state_add_vm(&st);

		s->name = g_strdup(vms[i].name);
		s->state = g_strdup("running");
		s->status = g_strdup(dmem_status_name(d[i].status));
		s->reason = g_strdup(d[i].reason);
		s->managed = d[i].managed;
		s->startup_kib = vms[i].startup_kib;
		s->minimum_kib = vms[i].minimum_kib;
		s->maximum_kib = vms[i].maximum_kib;
		s->assigned_kib = vms[i].assigned_kib;
		s->target_kib = d[i].managed ? d[i].target_kib : vms[i].target_kib;
		s->live_kib = vms[i].live_kib;
		s->rss_kib = vms[i].rss_kib;
		s->demand_known = d[i].demand_known;
		s->demand_kib = d[i].demand_kib;
		s->ideal_kib = d[i].ideal_kib;
		s->held_kib = d[i].held_kib;
		s->overhead_kib = d[i].qemu_overhead_kib;
		s->held_for_s = d[i].held_for_s;
		s->cache_known = d[i].cache_known;
		s->cache_kib = d[i].cache_kib;
		s->disk_io_known = d[i].disk_io_known;
		s->disk_read_kib_per_s = d[i].disk_read_kib_per_s;
		dmem_explain_record(&vms[i], &d[i], &s->decision);
	}
	data = dmem_state_to_data(&st, &len);
	g_assert_true(dmem_state_from_data(&back, data, len, "state", &error));
	g_assert_no_error(error);
	for (gsize i = 0; i < n; i++) {
		g_autofree char *want = dmem_policy_explain(p, &vms[i], &d[i], pool);
		g_autofree char *got = dmem_explain_state(&back, back.vms->pdata[i]);

		g_assert_cmpstr(got, ==, want);
	}
	dmem_state_clear(&st);
	dmem_state_clear(&back);
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
		if (iter % 10 == 0)
			check_explain_through_state(&p, vms, d, &pool, n);
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
					s.vm[i].apply_pending = FALSE;
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

			/*
			 * Carry the decisions out, at each guest's pace; one
			 * in five lands a cycle late (a libvirt call that was
			 * slow to return), counted by dmemd meanwhile.
			 */
			for (gsize i = 0; i < n; i++) {
				DmemVmInput *vm = &s.vm[i];
				const DmemVmDecision *d = &s.d[i];
				dmem_kib_t goal, target = d->target_kib;
				guint dimms = d->dimms;

				if (vm->apply_pending) {
					target = vm->pending_target_kib;
					dimms = vm->pending_dimms;
					vm->apply_pending = FALSE;
				} else if ((d->target_changed || d->dimms) &&
					   g_test_rand_int_range(0, 5) == 0) {
					vm->apply_pending = TRUE;
					vm->pending_target_kib = target;
					vm->pending_dimms = dimms;
					target = vm->target_kib;
					dimms = 0;
				}
				vm->live_kib += dimms * s.p.dimm_size_kib;
				vm->free_slots -= dimms;
				t[i].truth += dimms * s.p.dimm_size_kib;
				vm->target_kib = target;
				goal = MIN(target, vm->live_kib);
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

/*
 * A VM at its live size that needs less than a DIMM more still needs a
 * whole DIMM of room: when less than that is free, another VM's idle
 * surplus goes back at once, not after its shrink delay, and the DIMM
 * follows.
 */
static void test_short_of_a_whole_dimm(void)
{
	Sim s;
	gsize big, need;

	sim_init(&s, MiB(1152 + 640 + 100));
	s.p.dimm_size_kib = MiB(128);
	big = sim_add(&s, vm_new("big", MiB(512), MiB(1536), MiB(300)));
	need = sim_add(&s, vm_new("need", MiB(512), MiB(1536), MiB(300)));
	s.vm[big].minimum_kib = s.vm[need].minimum_kib = MiB(384);
	sim_resize(&s, big, MiB(1152), MiB(300));
	sim_resize(&s, need, MiB(640), MiB(480));
	sim_decide(&s);
	/* It wants some 24 MiB more (its floor), and 100 are free: but a
	 * DIMM is 128. */
	g_assert_cmpuint(s.d[need].allocation_kib, >, MiB(640));
	g_assert_cmpuint(s.d[need].allocation_kib - MiB(640), <, MiB(100));
	g_assert_true(s.pool.contention);
	g_assert_true(s.d[big].shrink_at_once);
	g_assert_cmpuint(s.d[big].target_kib, <, MiB(1152));
	for (int c = 0; c < 4 && s.vm[need].live_kib == MiB(640); c++) {
		sim_apply(&s);
		sim_decide(&s);
		g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);
	}
	g_assert_cmpuint(s.vm[need].live_kib + s.d[need].dimms * MiB(128), ==, MiB(768));
}

/*
 * Resident memory beyond the balloon that was never learned as QEMU's own
 * (under TCG it grows with the translation cache): under contention the VMs
 * settle with what they hold, that memory included, within the pool, not
 * overcommitted for good with growth stopped.
 */
static void test_unlearned_overhead_in_contention(void)
{
	Sim s;

	sim_init(&s, MiB(2048));
	s.p.shrink_delay_s = 5;
	for (int i = 0; i < 2; i++) {
		gsize k = sim_add(&s, vm_new("v", MiB(1536), GiB(2), MiB(1200)));

		s.vm[k].minimum_kib = MiB(512);
		s.vm[k].weight = i ? 2000 : 8000;
	}
	for (int c = 0; c < 120; c++) {
		/* QEMU's own: 10 MiB while the balloons are empty (learned),
		 * 90 MiB by the time they are not. */
		for (gsize i = 0; i < s.n; i++)
			s.vm[i].rss_kib = s.vm[i].assigned_kib + MiB(c < 2 ? 10 : 90);
		sim_cycle(&s);
	}
	g_test_message("held %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT " MiB, overcommit %"
		       G_GUINT64_FORMAT " MiB", s.d[0].held_kib / 1024, s.d[1].held_kib / 1024,
		       s.pool.overcommit_kib / 1024);
	g_assert_cmpuint(s.pool.overcommit_kib, ==, 0);
	g_assert_cmpuint(s.pool.committed_kib, <=, s.h.pool_kib);
	/* The heavy VM has its demand, its neighbour the rest. */
	g_assert_cmpuint(s.vm[0].assigned_kib, >=, MiB(1200));
}

/* A balloon that creeps toward a far target is stuck too. */
static void test_creeping_balloon(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	s.p.shrink_delay_s = 0;
	a = sim_add(&s, vm_new("creep", GiB(4), GiB(16), GiB(1)));
	s.vm[a].minimum_kib = GiB(1);
	s.frozen[a] = TRUE;
	sim_cycle(&s);		/* target: far below 4 GiB */
	g_assert_cmpuint(s.vm[a].target_kib, <, GiB(4));
	for (int i = 0; i < 2 * DMEM_BALLOON_TIMEOUT_S; i++) {
		/* 4 MiB every 29 s: progress by the old rule, not the new. */
		if (i % 29 == 28)
			s.vm[a].assigned_kib -= MiB(4);
		sim_cycle(&s);
	}
	sim_decide(&s);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_UNRESPONSIVE);
	g_assert_nonnull(strstr(s.d[a].reason, "balloon stuck"));
}

/* A guest that stops at its floor refuses, honestly: it is not stuck. */
static void test_refusal_at_floor_not_stuck(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("floor", GiB(2), GiB(4), GiB(1)));
	s.keeps_floor[a] = TRUE;
	sim_cycle(&s);
	/* The admin's minimum is below what the floor lets the guest reach
	 * and another VM is short: the balloon stops at the floor. */
	s.vm[a].target_kib = MiB(512);
	for (int i = 0; i < 2 * DMEM_BALLOON_TIMEOUT_S; i++) {
		sim_decide(&s);
		s.d[a].target_kib = MiB(512);
		sim_apply(&s);
	}
	sim_decide(&s);
	g_assert_false(s.d[a].held);
	g_assert_cmpint(s.d[a].status, !=, DMEM_STATUS_UNRESPONSIVE);
}

/* A libvirt call that has not returned holds the VM, with the call named. */
static void test_call_pending(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(4), MiB(900)));
	s.vm[a].call_pending = "reading statistics";
	s.vm[a].call_pending_s = 1;
	sim_decide(&s);
	g_assert_false(s.d[a].held);		/* a slow call is not a stuck one */
	s.vm[a].call_pending_s = DMEM_CALL_STUCK_MIN_S;
	sim_decide(&s);
	g_assert_true(s.d[a].held);
	g_assert_cmpint(s.d[a].status, ==, DMEM_STATUS_UNRESPONSIVE);
	g_assert_nonnull(strstr(s.d[a].reason, "libvirt call (reading statistics) "
				"has not returned for 3 s"));
	g_assert_cmpuint(s.d[a].dimms, ==, 0);
	g_assert_false(s.d[a].target_changed);
}

/*
 * A lagging balloon: what a VM was asked to give back is not handed to
 * another before it is back.
 */
static void test_lagging_balloon(void)
{
	Sim s;
	gsize idle, busy;

	sim_init(&s, GiB(6));
	s.p.shrink_delay_s = 60;
	idle = sim_add(&s, vm_new("idle", GiB(4), GiB(8), MiB(512)));
	busy = sim_add(&s, vm_new("busy", GiB(2), GiB(8), GiB(2)));
	s.vm[idle].minimum_kib = GiB(1);
	s.frozen[idle] = TRUE;		/* its balloon does not move yet */
	sim_cycle(&s);
	sim_use(&s, busy, GiB(3));
	for (int c = 0; c < 5; c++) {
		sim_decide(&s);
		g_assert_true(s.pool.contention);
		/* idle is asked to shrink at once ... */
		g_assert_cmpuint(s.d[idle].target_kib, <, GiB(4));
		/* ... but still holds 4 GiB: busy gets nothing. */
		g_assert_cmpuint(s.d[idle].held_kib, ==, GiB(4));
		g_assert_cmpuint(s.d[busy].target_kib, ==, GiB(2));
		g_assert_cmpuint(s.d[busy].dimms, ==, 0);
		g_assert_cmpuint(s.pool.committed_after_kib, <=, GiB(6));
		sim_apply(&s);
	}
	/* The balloon moves: now busy grows by what came back. */
	s.frozen[idle] = FALSE;
	sim_cycle(&s);
	sim_decide(&s);
	g_assert_cmpuint(s.d[idle].held_kib, <, GiB(4));
	g_assert_cmpuint(s.d[busy].target_kib, >, GiB(2));
	g_assert_cmpuint(s.pool.committed_after_kib, <=, GiB(6));
}

/*
 * A guest that says its balloon took the memory while its QEMU still has
 * it resident is counted at what is resident; the overcommit names it.
 */
static void test_lying_balloon(void)
{
	Sim s;
	gsize liar, other;

	sim_init(&s, GiB(4));
	liar = sim_add(&s, vm_new("liar", GiB(2), GiB(4), MiB(512)));
	other = sim_add(&s, vm_new("other", GiB(2), GiB(4), MiB(512)));
	s.vm[liar].minimum_kib = s.vm[other].minimum_kib = MiB(512);
	/* Both full and at rest: QEMU's own 100 MiB is learned. */
	s.vm[liar].rss_kib = GiB(2) + MiB(100);
	s.vm[other].rss_kib = GiB(2) + MiB(100);
	sim_decide(&s);
	g_assert_cmpuint(s.d[liar].qemu_overhead_kib, ==, MiB(100));
	g_assert_cmpuint(s.d[liar].held_kib, ==, GiB(2));
	g_assert_cmpuint(s.pool.overcommit_kib, ==, 0);

	/* The liar reports 1 GiB as ballooned; nothing left QEMU. */
	s.vm[liar].assigned_kib = s.vm[liar].target_kib = GiB(1);
	sim_decide(&s);
	g_assert_cmpuint(s.d[liar].held_kib, ==, GiB(2));
	g_assert_true(s.d[liar].held_by_rss);
	/* Steady now, balloon not empty: the lie is not learned as QEMU's. */
	sim_decide(&s);
	g_assert_cmpuint(s.d[liar].qemu_overhead_kib, ==, MiB(100));
	g_assert_cmpuint(s.d[liar].held_kib, ==, GiB(2));
	/* The other VM wants more: none of the "returned" memory is given. */
	sim_use(&s, other, GiB(2));
	sim_decide(&s);
	g_assert_cmpuint(s.d[other].target_kib, ==, GiB(2));
	g_assert_cmpuint(s.d[other].dimms, ==, 0);
	g_assert_cmpuint(s.pool.committed_after_kib, <=, GiB(4));

	/* A smaller pool: the overcommit says who holds too much, and why. */
	s.h.pool_kib = GiB(3);
	sim_decide(&s);
	g_assert_cmpuint(s.pool.overcommit_kib, ==, GiB(1));
	g_test_message("%s", s.pool.overcommit_reason);
	g_assert_true(g_str_has_prefix(s.pool.overcommit_reason, "liar holds "));
	/* The causes stay put while the numbers move: logged once. */
	{
		char causes[DMEM_OVERCOMMIT_REASON_MAX], reason[DMEM_OVERCOMMIT_REASON_MAX];

		g_strlcpy(causes, s.pool.overcommit_causes, sizeof(causes));
		g_strlcpy(reason, s.pool.overcommit_reason, sizeof(reason));
		s.h.pool_kib = GiB(3) - MiB(100);
		sim_decide(&s);
		g_assert_cmpstr(s.pool.overcommit_reason, !=, reason);
		g_assert_cmpstr(s.pool.overcommit_causes, ==, causes);
	}
	g_assert_nonnull(strstr(s.pool.overcommit_reason, "above its allocation (resident "
				"memory above its balloon)"));
}

/* QEMU's overhead is learned only from an empty, steady balloon. */
static void test_qemu_overhead(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(64));
	a = sim_add(&s, vm_new("a", GiB(1), GiB(4), MiB(512)));
	/* Guest memory not touched yet: resident below its size. */
	s.vm[a].rss_kib = MiB(600);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].qemu_overhead_kib, ==, 0);
	g_assert_cmpuint(s.d[a].held_kib, ==, GiB(1));
	/* Touched, plus 150 MiB of QEMU: learned. */
	s.vm[a].rss_kib = GiB(1) + MiB(150);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].qemu_overhead_kib, ==, MiB(150));
	g_assert_false(s.d[a].held_by_rss);
	/* Never more than the bound, whatever resident says. */
	s.vm[a].rss_kib = GiB(8);
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].qemu_overhead_kib, ==, DMEM_QEMU_OVERHEAD_MAX_KIB);
	g_assert_cmpuint(s.d[a].held_kib, ==, GiB(8) - DMEM_QEMU_OVERHEAD_MAX_KIB);
	g_assert_true(s.d[a].held_by_rss);
}

/*
 * An uncooperative VM gives memory back only while others are short, only
 * after reclaim_unresponsive_s, at the rate limit, and never below its
 * minimum nor what its guest last said it needs.
 */
static void test_reclaim_unresponsive(void)
{
	Sim s;
	gsize quiet, busy;
	dmem_kib_t last_need;

	sim_init(&s, GiB(6));
	s.p.reclaim_unresponsive_s = 30;
	quiet = sim_add(&s, vm_new("quiet", GiB(4), GiB(8), GiB(1)));
	busy = sim_add(&s, vm_new("busy", GiB(2), GiB(8), GiB(1)));
	s.vm[quiet].minimum_kib = MiB(512);
	sim_cycle(&s);
	last_need = s.st[quiet].last_floor_target_kib;
	g_assert_cmpuint(last_need, >=, GiB(1));
	/* quiet stops answering; nobody is short: it keeps everything. */
	s.vm[quiet].stats.last_update_s = s.h.now_real_s - 100;
	for (int i = 0; i < 40; i++) {
		sim_decide(&s);
		g_assert_true(s.d[quiet].held);
		g_assert_false(s.d[quiet].reclaiming);
		g_assert_cmpuint(s.d[quiet].target_kib, ==, GiB(4));
		s.h.now_us += SEC;
	}
	/* busy is short now: after the grace period (over), quiet shrinks. */
	/* busy uses all it has and swaps: short of demand, not only of a
	 * buffer, whatever it gets. */
	sim_use(&s, busy, GiB(2));
	s.st[busy].sample_s = s.h.now_real_s - 1;
	s.vm[busy].stats.swap_in_kib += GiB(1);
	s.vm[busy].stats.last_update_s = s.h.now_real_s;
	sim_decide(&s);
	g_assert_true(s.pool.contention);
	g_assert_true(s.d[quiet].reclaiming);
	g_assert_cmpuint(s.d[quiet].target_kib, ==, GiB(4) - MiB(256));
	g_assert_nonnull(strstr(s.d[quiet].reason, "reclaiming"));
	for (int i = 0; i < 40; i++) {
		s.vm[quiet].target_kib = s.vm[quiet].assigned_kib = s.d[quiet].target_kib;
		s.vm[busy].live_kib += s.d[busy].dimms * s.p.dimm_size_kib;
		s.vm[busy].target_kib = s.vm[busy].assigned_kib = s.d[busy].target_kib;
		s.vm[busy].stats.total_kib = s.vm[busy].assigned_kib;
		s.vm[busy].stats.available_kib = 0;
		s.vm[busy].stats.swap_in_kib += MiB(512);
		s.h.now_us += SEC;
		s.vm[busy].stats.last_update_s = ++s.h.now_real_s;
		s.vm[quiet].stats.last_update_s = s.h.now_real_s - 100;
		sim_decide(&s);
		g_assert_cmpuint(s.pool.committed_after_kib, <=, GiB(6));
	}
	g_assert_cmpuint(s.d[quiet].target_kib, ==, last_need);
	g_assert_cmpuint(s.d[quiet].target_kib, >=, s.vm[quiet].minimum_kib);

	/* Off: never. */
	s.p.reclaim_unresponsive_s = 0;
	s.vm[quiet].target_kib = s.vm[quiet].assigned_kib = GiB(4);
	sim_decide(&s);
	g_assert_false(s.d[quiet].reclaiming);
	g_assert_cmpuint(s.d[quiet].target_kib, ==, GiB(4));
	/* And a guest that never told us anything keeps everything. */
	s.p.reclaim_unresponsive_s = 30;
	dmem_vm_state_init(&s.st[quiet]);
	s.vm[quiet].stats = (DmemGuestStats) { 0 };
	s.h.now_us += 1000 * SEC;
	sim_decide(&s);
	s.h.now_us += 1000 * SEC;
	sim_decide(&s);
	g_assert_cmpint(s.d[quiet].status, ==, DMEM_STATUS_NO_DRIVER);
	g_assert_false(s.d[quiet].reclaiming);
}

/*
 * Three VMs ramp the same workload at the same time on a pool that cannot
 * hold all of it, and their guests cannot give memory back once they use
 * it (no swap: the balloon stops at the floor). Memory is handed out as it
 * is asked for, so without reservations the first to ask keeps it; with
 * them, each growing VM keeps its weighted share free: the highest weight
 * gets what it needs, and what they hold is ordered by weight.
 */
static void test_simultaneous_ramps(void)
{
	static const guint weights[] = { 8000, 5000, 2000 };
	Sim s;

	sim_init(&s, MiB(2048));
	s.p.shrink_delay_s = 5;
	s.p.interval_ms = 500;
	s.p.dimm_size_kib = MiB(128);
	for (gsize i = 0; i < 3; i++) {
		gsize k = sim_add(&s, vm_new("v", MiB(512), MiB(1536), MiB(60)));

		s.vm[k].minimum_kib = MiB(384);
		s.vm[k].weight = weights[i];
		s.keeps_floor[k] = TRUE;
	}
	for (int c = 0; c < 120; c++) {
		for (gsize i = 0; i < 3; i++) {
			/* 16 MiB a cycle to 700 MiB; a guest whose workload
			 * does not fit stops there (it would be OOM-killed). */
			dmem_kib_t want = MIN(MiB(60) + (dmem_kib_t)c * MiB(16), MiB(700));

			s.used[i] = MIN(want, s.vm[i].assigned_kib - MiB(40));
		}
		sim_decide(&s);
		check_invariants(&s.p, &s.h, s.vm, s.d, &s.pool, s.n);
		g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);
		sim_apply(&s);
	}
	for (gsize i = 0; i < 3; i++)
		g_test_message("weight %u: holds %" G_GUINT64_FORMAT " MiB, uses %"
			       G_GUINT64_FORMAT " MiB, share %" G_GUINT64_FORMAT " MiB",
			       weights[i], s.d[i].held_kib / 1024, s.used[i] / 1024,
			       s.d[i].fair_share_kib / 1024);
	/* The highest weight's workload fits; the order follows the weights. */
	g_assert_cmpuint(s.used[0], ==, MiB(700));
	g_assert_cmpuint(s.d[0].held_kib, >, s.d[1].held_kib);
	g_assert_cmpuint(s.d[1].held_kib, >, s.d[2].held_kib);
	/* Nobody grew past its share by more than a DIMM's rounding. */
	for (gsize i = 0; i < 3; i++)
		g_assert_cmpuint(s.d[i].held_kib, <=,
				 MAX(s.d[i].fair_share_kib + s.p.dimm_size_kib,
				     s.vm[i].startup_kib));
}

/*
 * Reservations never starve a VM: one kept at its share because another VM
 * counts as growing makes the surplus of VMs that are not growing come back
 * at once, and then grows. (Seen on real guests: a VM at its share waited
 * for a neighbour's surplus that only went back after the shrink delay, and
 * its workload was OOM-killed meanwhile.)
 */
static void test_reservation_takes_surplus(void)
{
	Sim s;
	gsize hi, mid, lo;

	sim_init(&s, MiB(2304));	/* exactly what they hold */
	s.p.shrink_delay_s = 60;
	s.p.interval_ms = 500;
	s.p.dimm_size_kib = MiB(128);
	hi = sim_add(&s, vm_new("hi", MiB(512), MiB(1536), MiB(150)));
	mid = sim_add(&s, vm_new("mid", MiB(512), MiB(1536), MiB(400)));
	lo = sim_add(&s, vm_new("lo", MiB(512), MiB(1536), MiB(100)));
	s.vm[hi].weight = 8000;
	s.vm[mid].weight = 5000;
	s.vm[lo].weight = 2000;
	for (gsize i = 0; i < 3; i++) {
		s.vm[i].minimum_kib = MiB(384);
		s.keeps_floor[i] = TRUE;
	}
	/* hi's workload just ended: 1152 MiB of which it needs 400. */
	sim_resize(&s, hi, MiB(1152), MiB(150));
	sim_resize(&s, mid, MiB(768), MiB(600));
	sim_resize(&s, lo, MiB(384), MiB(100));
	sim_cycle(&s);
	/* lo counts as growing; mid needs more than its share. */
	for (int c = 0; c < 40; c++) {
		s.st[lo].growing_until_us = s.h.now_us + 10 * SEC;
		sim_use(&s, mid, MIN(MiB(600) + (dmem_kib_t)c * MiB(16), MiB(900)));
		sim_decide(&s);
		check_invariants(&s.p, &s.h, s.vm, s.d, &s.pool, s.n);
		g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);
		sim_apply(&s);
	}
	g_test_message("hi %" G_GUINT64_FORMAT ", mid %" G_GUINT64_FORMAT " (share %"
		       G_GUINT64_FORMAT "), lo %" G_GUINT64_FORMAT " MiB",
		       s.vm[hi].assigned_kib / 1024, s.vm[mid].assigned_kib / 1024,
		       s.d[mid].fair_share_kib / 1024, s.vm[lo].assigned_kib / 1024);
	g_assert_cmpuint(s.vm[mid].assigned_kib, >=, MiB(900) + MiB(40));
	g_assert_cmpuint(s.vm[hi].assigned_kib, <, MiB(1152));
}

/*
 * Resident memory beyond what the balloon accounts for (QEMU's own, not
 * learned yet) does not pay for a rise: with the pool exactly full, nothing
 * grows.
 */
static void test_rise_not_paid_by_qemu(void)
{
	Sim s;
	gsize a;

	sim_init(&s, GiB(1) + MiB(300));
	a = sim_add(&s, vm_new("a", GiB(4), GiB(4), GiB(1)));
	s.vm[a].minimum_kib = GiB(1);
	s.vm[a].assigned_kib = s.vm[a].target_kib = GiB(1);	/* booted ballooned */
	s.vm[a].stats.total_kib = GiB(1);
	s.vm[a].stats.available_kib = 0;			/* wants more */
	s.vm[a].rss_kib = GiB(1) + MiB(300);			/* 300 MiB of QEMU */
	sim_decide(&s);
	g_assert_cmpuint(s.d[a].qemu_overhead_kib, ==, 0);	/* not learned */
	g_assert_cmpuint(s.d[a].held_kib, ==, GiB(1) + MiB(300));
	g_assert_cmpuint(s.d[a].target_kib, ==, GiB(1));
	g_assert_cmpuint(s.pool.committed_after_kib, <=, s.h.pool_kib);
}

/*
 * A VM whose demand blips now and then reserves nothing it does not ask for:
 * its neighbour grows past its share while the pool has room.
 */
static void test_blip_reserves_nothing(void)
{
	Sim s;
	gsize flat, big;

	sim_init(&s, GiB(4));
	s.p.interval_ms = 500;
	flat = sim_add(&s, vm_new("flat", GiB(1), GiB(4), MiB(300)));
	big = sim_add(&s, vm_new("big", GiB(1), GiB(4), GiB(1)));
	s.vm[flat].minimum_kib = s.vm[big].minimum_kib = MiB(256);
	for (int c = 0; c < 120; c++) {
		/* A 40 MiB blip every 8 s, like a cron job. */
		sim_use(&s, flat, c % 16 == 0 ? MiB(340) : MiB(300));
		sim_use(&s, big, MIN(GiB(1) + (dmem_kib_t)c * MiB(32), GiB(2) + MiB(512)));
		sim_decide(&s);
		check_invariants(&s.p, &s.h, s.vm, s.d, &s.pool, s.n);
		sim_apply(&s);
	}
	g_test_message("big holds %" G_GUINT64_FORMAT " MiB (share %" G_GUINT64_FORMAT
		       " MiB), flat %" G_GUINT64_FORMAT " MiB", s.d[big].held_kib / 1024,
		       s.d[big].fair_share_kib / 1024, s.d[flat].held_kib / 1024);
	g_assert_cmpuint(s.d[big].held_kib, >, s.d[big].fair_share_kib);
	g_assert_cmpuint(s.vm[big].assigned_kib, >=, GiB(2) + MiB(512));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/guest-overhead", test_guest_overhead);
	g_test_add_func("/policy/at-maximum", test_at_maximum);
	g_test_add_func("/policy/held/no-driver", test_no_driver);
	g_test_add_func("/policy/held/stale-stats", test_stale_stats);
	g_test_add_func("/policy/held/garbage-stats", test_garbage_stats);
	g_test_add_func("/policy/held/stuck-balloon", test_stuck_balloon);
	g_test_add_func("/policy/greedy-guest", test_greedy_guest_bounded);
	g_test_add_func("/policy/unmanaged", test_unmanaged);
	g_test_add_func("/policy/explain", test_explain);
	g_test_add_func("/policy/pool", test_pool_helper);
	g_test_add_func("/policy/pool/guest-resident", test_guest_resident);
	g_test_add_func("/policy/random/invariants", test_random_invariants);
	g_test_add_func("/policy/random/simulation", test_random_simulation);
	g_test_add_func("/policy/random/truth", test_random_truth);
	g_test_add_func("/policy/contention/weights", test_contention_weights);
	g_test_add_func("/policy/contention/short-of-a-whole-dimm", test_short_of_a_whole_dimm);
	g_test_add_func("/policy/contention/unlearned-overhead", test_unlearned_overhead_in_contention);
	g_test_add_func("/policy/contention/simultaneous-ramps", test_simultaneous_ramps);
	g_test_add_func("/policy/contention/reservation-takes-surplus",
			test_reservation_takes_surplus);
	g_test_add_func("/policy/held/creeping-balloon", test_creeping_balloon);
	g_test_add_func("/policy/held/refusal-at-floor", test_refusal_at_floor_not_stuck);
	g_test_add_func("/policy/held/call-pending", test_call_pending);
	g_test_add_func("/policy/held/reclaim", test_reclaim_unresponsive);
	g_test_add_func("/policy/accounting/lagging-balloon", test_lagging_balloon);
	g_test_add_func("/policy/accounting/lying-balloon", test_lying_balloon);
	g_test_add_func("/policy/accounting/qemu-overhead", test_qemu_overhead);
	g_test_add_func("/policy/accounting/rise-not-paid-by-qemu", test_rise_not_paid_by_qemu);
	g_test_add_func("/policy/contention/blip-reserves-nothing", test_blip_reserves_nothing);
	return g_test_run();
}
