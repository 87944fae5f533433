/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test-sim.h - what the policy's unit tests share: VMs built from a few
 * numbers, and a simulated host that applies decisions the way the
 * mechanism and a cooperative guest would (test-policy.c, test-demand.c,
 * test-arbitrate.c, test-targets.c, test-hotadd.c, test-unplug.c).
 */
#ifndef DMEM_TEST_SIM_H
#define DMEM_TEST_SIM_H
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

static inline DmemPolicyParams params(void)
{
	return (DmemPolicyParams) {
		.interval_ms = 1000,
		.shrink_delay_s = 60,
		.max_shrink_kib_per_s = MiB(256),
		.dimm_size_kib = MiB(256),
	};
}

/* A running, cooperative VM whose guest uses @used of what it has. */
static inline DmemVmInput vm_new(const char *name, dmem_kib_t startup, dmem_kib_t maximum,
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
	guint unplugs[16];	/* DIMMs unplugged */
} Sim;

static inline void sim_init(Sim *s, dmem_kib_t pool_kib)
{
	memset(s, 0, sizeof(*s));
	s->p = params();
	s->h = (DmemHostInput) {
		.pool_kib = pool_kib,
		.now_us = 1000 * SEC,
		.now_real_s = T0_REAL_S,
	};
}

static inline gsize sim_add(Sim *s, DmemVmInput vm)
{
	g_assert_cmpuint(s->n, <, G_N_ELEMENTS(s->vm));
	s->vm[s->n] = vm;
	s->used[s->n] = vm.stats.total_kib - vm.stats.available_kib;
	dmem_vm_state_init(&s->st[s->n]);
	return s->n++;
}

static inline void sim_decide(Sim *s)
{
	dmem_policy_decide(&s->p, &s->h, s->vm, s->st, s->d, s->n, &s->pool);
}

/* Apply the decisions like the mechanism and a cooperative guest would,
 * advance time by one interval and refresh the stats. */
static inline void sim_apply(Sim *s)
{
	for (gsize i = 0; i < s->n; i++) {
		DmemVmInput *vm = &s->vm[i];
		DmemVmDecision *d = &s->d[i];

		if (!d->managed)
			continue;
		vm->live_kib += d->dimms * s->p.dimm_size_kib;
		vm->free_slots -= d->dimms;
		vm->target_kib = d->target_kib;
		/* The DIMMs it may unplug, newest first. */
		for (guint k = 0; k < d->dimms; k++) {
			guint n = MIN(vm->removable_dimms, DMEM_UNPLUG_DIMMS_MAX - 1);

			memmove(&vm->removable_kib[1], &vm->removable_kib[0],
				n * sizeof(vm->removable_kib[0]));
			vm->removable_kib[0] = s->p.dimm_size_kib;
			vm->removable_dimms++;
		}
		/* An unplug lands at once; the target is set again after it. */
		if (d->unplug) {
			vm->live_kib -= d->unplug_kib;
			vm->free_slots++;
			vm->removable_dimms--;
			memmove(&vm->removable_kib[0], &vm->removable_kib[1],
				MIN(vm->removable_dimms, DMEM_UNPLUG_DIMMS_MAX - 1) *
				sizeof(vm->removable_kib[0]));
			vm->target_kib = d->unplug_target_kib;
			s->unplugs[i]++;
			/* QEMU keeps the balloon's page count. */
			vm->assigned_kib = vm->assigned_kib > d->unplug_kib ?
					   vm->assigned_kib - d->unplug_kib : 0;
		}
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
static inline void sim_use(Sim *s, gsize i, dmem_kib_t used)
{
	DmemGuestStats *st = &s->vm[i].stats;

	s->used[i] = used;
	st->available_kib = st->total_kib - MIN(used, st->total_kib);
}

/* VM @i has @size (live, target and balloon), of which its guest uses @used. */
static inline void sim_resize(Sim *s, gsize i, dmem_kib_t size, dmem_kib_t used)
{
	DmemVmInput *vm = &s->vm[i];

	vm->live_kib = vm->assigned_kib = vm->target_kib = size;
	vm->stats.total_kib = size;
	sim_use(s, i, used);
}

static inline void sim_cycle(Sim *s)
{
	sim_decide(s);
	sim_apply(s);
}

#endif /* DMEM_TEST_SIM_H */
