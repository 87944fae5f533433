// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy-trace.c - dmem's policy against what users run today, on the same
 * demand traces (tests/bench/policy-trace.sh).
 *
 * A trace-driven simulation, one step per second: N VMs whose guests use
 * anonymous memory along a trace (and, in the cache trace, re-read a hot
 * set of their disk every HOT_PERIOD_S while reading new data slowly). The
 * guest model: the balloon moves toward its target at BALLOON_MIB_PER_S (the
 * inflate rate measured on these TCG guests, 2.3 s per GiB); a DIMM is
 * online DIMM_DELAY_S after it is asked for; the page cache takes what the
 * guest does not use, the hot set first; a guest with less memory than it
 * uses (no swap) would be OOM-killed: those seconds are counted.
 *
 * Policies, each on its own copy of the VMs:
 *   dmem     hostd's real policy (libdmem.a, not a copy): dmem_policy_decide()
 *            every second, with its default configuration; and again with
 *            host_pool_mib at 80 % of the host, the share MOM and Proxmox
 *            aim to use (they keep 20 % free), to compare at equal memory;
 *   MOM      oVirt MOM's balloon policy as vdsm ships it (02-balloon.policy,
 *            mom.conf: every 15 s, averages of the last 10 samples, host
 *            free thresholds 20 % and 5 %, guest free 20 % of its balloon,
 *            +-5 % of the balloon per tick, 0.25 % dead band; MOM's guest
 *            "unused" is MemFree, so cache counts as used);
 *   Proxmox  PVE::AutoBalloon::compute_alg1 as pvestatd runs it (every
 *            10 s, goal = 80 % of host memory minus what is used, shared by
 *            shares above each VM's balloon minimum, at most 100 MiB per VM
 *            per pass, 10 MiB dead band; "free" is the guest's MemFree);
 *   static   every VM at its maximum.
 * MOM and Proxmox VMs boot at their maximum (their <memory>) and balloon
 * down; dmem's boot at their startup size and grow by DIMMs. The host's
 * memory for VMs is the pool; MOM's and Proxmox's host measures are taken
 * on it.
 *
 * Printed per policy and trace: host memory used (GiB*h, the sum of what
 * the VMs have), VM-seconds short (a guest with less than it uses: Warning,
 * and an OOM kill without swap), the worst shortfall, the median time a
 * shortfall lasted (reaction lag), and the disk reads the policy caused
 * (cache trace: the hot set re-read from disk because it did not fit).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "policy.h"

#define N_VMS			8
#define POOL_MIB		20480.0
#define STARTUP_MIB		1024.0
#define MINIMUM_MIB		512.0
#define MAXIMUM_MIB		4096.0
#define DURATION_S		7200
/*
 * Before a trace starts, WARMUP_S seconds in which each guest's use ramps
 * from boot to the trace's first value and stays there, not counted: every
 * policy starts the trace settled, whatever it boots at.
 */
#define WARMUP_S		900
#define BALLOON_MIB_PER_S	445.0	/* 1 GiB in 2.3 s */
#define DIMM_DELAY_S		2
#define GUEST_RESERVE_MIB	16.0	/* the guest kernel's free floor */
#define HOT_PERIOD_S		10
#define COLD_READ_MIB_PER_S	4.0

typedef enum { P_DMEM, P_DMEM80, P_MOM, P_PVE, P_STATIC, P_COUNT } Policy;
static const char *const policy_names[] = {
	"dmem", "dmem, pool 80 %", "MOM", "Proxmox", "static",
};

typedef enum { T_IDLE, T_BURSTS, T_RAMPS, T_DAY, T_OVERCOMMIT, T_CACHE, T_COUNT } Trace;
static const char *const trace_names[] = {
	"idle", "bursts", "slow ramps", "day-shaped", "overcommitted (peaks 1.5x pool)",
	"cache-heavy (hot 1.2 GiB)",
};

typedef struct {
	/* guest */
	double anon, hot, cold, cache;
	double assigned, target, live;
	int dimm_ready_s;		/* when the pending DIMMs are online */
	guint pending_dimms;		/* 0: none */
	double read_mib;		/* disk reads, cumulative */
	/* MOM's 10-sample averages */
	double hist_cur[10], hist_unused[10];
	int nhist;
	/* results */
	double mib_s, short_s, worst_short, short_since;
	gboolean is_short;
	GArray *lags;
	/* dmem */
	DmemVmInput in;
	DmemVmState st;
} Vm;

/* ---- traces ------------------------------------------------------------- */

/* The anonymous memory VM @i uses at second @t. */
static double trace_anon(Trace tr, int i, int t)
{
	double phase = (double)i / N_VMS;

	switch (tr) {
	case T_IDLE:
	case T_CACHE:
		return 400;
	case T_BURSTS: {
		/* A 60 s burst to 2.5 GiB every 15 min, staggered. */
		int p = (t + i * 113) % 900;

		return p < 60 ? 2560 : 400;
	}
	case T_RAMPS: {
		/* 30 min up to 3 GiB, 10 min there, 30 min down, 50 min idle. */
		int p = (t + i * 900) % 7200;

		if (p < 1800)
			return 400 + 2672.0 * p / 1800;
		if (p < 2400)
			return 3072;
		if (p < 4200)
			return 3072 - 2672.0 * (p - 2400) / 1800;
		return 400;
	}
	case T_DAY:
		return 400 + 2000 * (1 - cos(2 * G_PI * ((double)t / DURATION_S + phase))) / 2;
	case T_OVERCOMMIT: {
		/* 10 min at 3.75 GiB each half hour: peaks sum to 1.5 x the
		 * pool, and half the VMs peak together. */
		int p = (t + (i % 2) * 900) % 1800;

		return p < 600 ? 3840 : 600;
	}
	case T_COUNT:
		break;
	}
	return 400;
}

/* ---- the guest ---------------------------------------------------------- */

static void guest_second(Vm *v, Trace tr, int i, int t)
{
	double room;

	if (t < 0)
		v->anon = 400 + (trace_anon(tr, i, 0) - 400) * MIN(1.0, (t + WARMUP_S) / 600.0);
	else
		v->anon = trace_anon(tr, i, t);
	if (v->pending_dimms && t >= v->dimm_ready_s) {
		v->live += v->pending_dimms * 256.0;
		v->assigned += v->pending_dimms * 256.0;
		v->pending_dimms = 0;
	}
	v->target = MIN(v->target, v->live);
	if (v->assigned < v->target)
		v->assigned = MIN(v->target, v->assigned + BALLOON_MIB_PER_S);
	else
		v->assigned = MAX(v->target, v->assigned - BALLOON_MIB_PER_S);

	/* The page cache: the hot set first, then cold data as it is read. */
	room = MAX(0, v->assigned - v->anon - GUEST_RESERVE_MIB);
	if (tr == T_CACHE) {
		v->hot = 1228;
		v->cold += COLD_READ_MIB_PER_S;
		v->read_mib += COLD_READ_MIB_PER_S;
		if (v->hot > room)
			v->read_mib += (v->hot - room) / HOT_PERIOD_S;
	}
	v->cache = MIN(room, v->hot + v->cold);
	v->cold = MAX(0, v->cache - v->hot);
}

/* What the guest reports as MemFree, MiB. */
static double guest_free(const Vm *v)
{
	return MAX(GUEST_RESERVE_MIB, v->assigned - v->anon - v->cache);
}

static void account(Vm *v, int t)
{
	double need = v->anon + GUEST_RESERVE_MIB;

	v->mib_s += v->assigned;
	if (v->assigned + 1 < need) {
		if (!v->is_short)
			v->short_since = t;
		v->is_short = TRUE;
		v->short_s += 1;
		v->worst_short = MAX(v->worst_short, need - v->assigned);
	} else if (v->is_short) {
		double lag = t - v->short_since;

		g_array_append_val(v->lags, lag);
		v->is_short = FALSE;
	}
}

/* ---- dmem ---------------------------------------------------------------- */

#define KIB(mib) ((dmem_kib_t)((mib) * 1024))

static void dmem_tick(Vm *vms, const DmemPolicyParams *p, double pool_mib, int t)
{
	DmemVmInput in[N_VMS];
	DmemVmState st[N_VMS];
	DmemVmDecision d[N_VMS];
	DmemHostInput h = {
		.pool_kib = KIB(pool_mib),
		.now_us = (gint64)(t + WARMUP_S + 1) * G_USEC_PER_SEC,
		.now_real_s = 1700000000 + t,
	};

	for (int i = 0; i < N_VMS; i++) {
		Vm *v = &vms[i];
		DmemVmInput *x = &v->in;

		x->assigned_kib = KIB(v->assigned);
		x->target_kib = KIB(v->target);
		x->live_kib = KIB(v->live);
		x->free_slots = (guint)((MAXIMUM_MIB - v->live) / 256);
		x->apply_pending = v->pending_dimms != 0;
		x->disk_read_bytes = (guint64)(v->read_mib * 1048576);
		x->stats = (DmemGuestStats) {
			.last_update_s = h.now_real_s,
			.has_total = TRUE, .has_available = TRUE, .has_free = TRUE,
			.has_disk_caches = TRUE, .has_swap_in = TRUE, .has_major_faults = TRUE,
			.total_kib = KIB(v->assigned),
			.available_kib = KIB(MAX(0, v->assigned - v->anon - GUEST_RESERVE_MIB)),
			.free_kib = KIB(guest_free(v)),
			.disk_caches_kib = KIB(v->cache),
		};
		in[i] = *x;
		st[i] = v->st;
	}
	dmem_policy_decide(p, &h, in, st, d, N_VMS, NULL);
	for (int i = 0; i < N_VMS; i++) {
		Vm *v = &vms[i];

		v->st = st[i];
		if (!d[i].managed || v->pending_dimms)
			continue;
		v->in.target_known = TRUE;
		if (d[i].dimms) {
			v->pending_dimms = d[i].dimms;
			v->dimm_ready_s = t + DIMM_DELAY_S;
			v->in.pending_target_kib = d[i].target_kib;
			v->in.pending_dimms = d[i].dimms;
		}
		v->target = d[i].target_kib / 1024.0;
	}
}

/* ---- oVirt MOM (vdsm's 02-balloon.policy) -------------------------------- */

static double avg(const double *x, int n)
{
	double s = 0;

	for (int k = 0; k < n; k++)
		s += x[k];
	return n ? s / n : 0;
}

static void mom_sample(Vm *v)
{
	memmove(v->hist_cur + 1, v->hist_cur, sizeof(v->hist_cur) - sizeof(double));
	memmove(v->hist_unused + 1, v->hist_unused, sizeof(v->hist_unused) - sizeof(double));
	v->hist_cur[0] = v->assigned;
	v->hist_unused[0] = guest_free(v);
	v->nhist = MIN(v->nhist + 1, 10);
}

static void mom_tick(Vm *vms, const double *host_free_hist, int nhost)
{
	double host_free = avg(host_free_hist, nhost) / POOL_MIB;
	double gfp = host_free <= 0.05 ? host_free - 0.05 : 0.20 * (host_free / 0.20);

	for (int i = 0; i < N_VMS; i++) {
		Vm *v = &vms[i];
		double cur = v->assigned;
		double used = avg(v->hist_cur, v->nhist) - avg(v->hist_unused, v->nhist);
		double floor = MAX(MINIMUM_MIB, used + gfp * cur);
		double size;

		if (host_free < 0.20) {
			size = MAX(cur * (1 - 0.05), floor);
			if (size <= cur && fabs(size - cur) > 0.0025 * cur)
				v->target = size;
		} else if (cur < MAXIMUM_MIB) {
			size = MIN(MAX(cur * (1 + 0.05), floor), MAXIMUM_MIB);
			if (fabs(size - cur) > 0.0025 * cur)
				v->target = size;
		}
		if (cur < MINIMUM_MIB)
			v->target = MINIMUM_MIB;
	}
}

/* ---- Proxmox (PVE::AutoBalloon::compute_alg1) ---------------------------- */

static double pve_change(Vm *vms, const int *ids, int n, double *res, double bytes)
{
	const double maxchange = 100;
	double rest = bytes;
	gboolean repeat = TRUE, progress = TRUE;
	gboolean done[N_VMS] = { FALSE };

	while (rest != 0 && repeat && progress) {
		double shares_total = 0, alloc_old = 0, alloc_new, changes = 0;

		repeat = FALSE;
		progress = FALSE;
		for (int k = 0; k < n; k++) {
			if (done[ids[k]])
				continue;
			alloc_old += res[ids[k]] - MINIMUM_MIB;
			shares_total += 1000;
		}
		if (shares_total == 0)
			break;
		alloc_new = alloc_old + rest;
		for (int k = 0; k < n; k++) {
			int i = ids[k];
			Vm *v = &vms[i];
			double desired, bal;

			if (done[i])
				continue;
			desired = MINIMUM_MIB + trunc(alloc_new / shares_total * 1000);
			if (desired > MAXIMUM_MIB) {
				desired = MAXIMUM_MIB;
				repeat = TRUE;
			} else if (desired < MINIMUM_MIB) {
				desired = MINIMUM_MIB;
				repeat = TRUE;
			}
			if (bytes > 0 && desired > v->assigned) {
				bal = MIN(v->assigned + maxchange, desired);
			} else if (desired < v->assigned) {
				bal = MAX(v->assigned - maxchange, desired);
			} else {
				done[i] = TRUE;
				continue;
			}
			if (bal != v->assigned) {
				double old = res[i];

				res[i] = bal;
				if (bal - old != 0) {
					changes += bal - old;
					progress = TRUE;
					repeat = TRUE;
				}
			}
		}
		rest -= changes;
	}
	return rest;
}

static void pve_tick(Vm *vms)
{
	double used = 0, goal, rest, res[N_VMS];
	int all[N_VMS], pressure[N_VMS], has_free[N_VMS], n1 = 0, n2 = 0;

	for (int i = 0; i < N_VMS; i++) {
		used += vms[i].assigned;
		res[i] = vms[i].assigned;
		all[i] = i;
		if (guest_free(&vms[i]) > MINIMUM_MIB * 0.25 && vms[i].assigned >= MINIMUM_MIB)
			has_free[n2++] = i;
		else
			pressure[n1++] = i;
	}
	goal = POOL_MIB * 0.80 - used;
	if (goal > 10) {
		rest = pve_change(vms, pressure, n1, res, goal);
		if (rest >= goal)
			pve_change(vms, all, N_VMS, res, rest);
	} else if (goal < -10) {
		rest = pve_change(vms, has_free, n2, res, goal);
		if (rest <= goal)
			pve_change(vms, all, N_VMS, res, rest);
	} else {
		return;
	}
	for (int i = 0; i < N_VMS; i++)
		vms[i].target = res[i];
}

/* ---- the run ------------------------------------------------------------- */

typedef struct {
	double gib_h, short_s, worst_short, lag_median, reads_gib;
	int lags;
} Result;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static Result run(Policy pol, Trace tr)
{
	DmemConfig cfg;
	DmemPolicyParams p;
	Vm vms[N_VMS];
	double host_free_hist[10] = { 0 };
	int nhost = 0;
	Result r = { 0 };
	GArray *lags = g_array_new(FALSE, FALSE, sizeof(double));

	dmem_config_init(&cfg);
	dmem_policy_params_from_config(&p, &cfg);
	memset(vms, 0, sizeof(vms));
	for (int i = 0; i < N_VMS; i++) {
		Vm *v = &vms[i];
		double boot = pol == P_DMEM || pol == P_DMEM80 ? STARTUP_MIB : MAXIMUM_MIB;

		v->assigned = v->target = v->live = boot;
		v->lags = lags;
		v->in = (DmemVmInput) {
			.name = "vm", .enabled = TRUE,
			.startup_kib = KIB(STARTUP_MIB), .minimum_kib = KIB(MINIMUM_MIB),
			.maximum_kib = KIB(MAXIMUM_MIB), .buffer_percent = cfg.buffer_percent,
			.weight = cfg.weight, .hotadd_max_kib = KIB(MAXIMUM_MIB),
			.has_disk_io = TRUE,
		};
		dmem_vm_state_init(&v->st);
	}
	for (int t = -WARMUP_S; t < DURATION_S; t++) {
		double sum = 0;

		for (int i = 0; i < N_VMS; i++)
			guest_second(&vms[i], tr, i, t);
		for (int i = 0; i < N_VMS; i++)
			sum += vms[i].assigned;
		memmove(host_free_hist + 1, host_free_hist, sizeof(host_free_hist) - sizeof(double));
		host_free_hist[0] = MAX(0, POOL_MIB - sum);
		nhost = MIN(nhost + 1, 10);
		switch (pol) {
		case P_DMEM:
			dmem_tick(vms, &p, POOL_MIB, t);
			break;
		case P_DMEM80:
			dmem_tick(vms, &p, POOL_MIB * 0.8, t);
			break;
		case P_MOM:
			/* vdsm samples every 15 s, MOM decides every 15 s. */
			if ((t + WARMUP_S) % 15 == 0) {
				for (int i = 0; i < N_VMS; i++)
					mom_sample(&vms[i]);
				mom_tick(vms, host_free_hist, nhost);
			}
			break;
		case P_PVE:
			if ((t + WARMUP_S) % 10 == 0)
				pve_tick(vms);
			break;
		case P_STATIC:
		case P_COUNT:
			break;
		}
		for (int i = 0; i < N_VMS; i++) {
			if (t >= 0)
				account(&vms[i], t);
			else if (t == -1)
				vms[i].read_mib = 0;
		}
	}
	for (int i = 0; i < N_VMS; i++) {
		r.gib_h += vms[i].mib_s / 1024 / 3600;
		r.short_s += vms[i].short_s;
		r.worst_short = MAX(r.worst_short, vms[i].worst_short);
		r.reads_gib += vms[i].read_mib / 1024;
	}
	r.lags = lags->len;
	if (lags->len) {
		qsort(lags->data, lags->len, sizeof(double), cmp_double);
		r.lag_median = g_array_index(lags, double, lags->len / 2);
	}
	g_array_free(lags, TRUE);
	dmem_config_clear(&cfg);
	return r;
}

int main(void)
{
	Result res[T_COUNT][P_COUNT];
	gboolean all_ok = TRUE;

	printf("%d VMs (startup %.0f MiB, minimum %.0f, maximum %.0f), pool %.0f GiB, "
	       "%d s per trace after %d s of warm-up\n\n", N_VMS, STARTUP_MIB, MINIMUM_MIB,
	       MAXIMUM_MIB, POOL_MIB / 1024, DURATION_S, WARMUP_S);
	printf("| trace | policy | memory (GiB*h) | vs static | VM-s short | worst short (MiB) "
	       "| shortfalls, median lag (s) | disk reads (GiB) |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (Trace tr = 0; tr < T_COUNT; tr++) {
		for (Policy pol = 0; pol < P_COUNT; pol++)
			res[tr][pol] = run(pol, tr);
		for (Policy pol = 0; pol < P_COUNT; pol++) {
			const Result *r = &res[tr][pol];

			printf("| %s | %s | %.1f | %+.0f%% | %.0f | %.0f | %d, %.0f | %.1f |\n",
			       trace_names[tr], policy_names[pol], r->gib_h,
			       100 * (r->gib_h / res[tr][P_STATIC].gib_h - 1), r->short_s,
			       r->worst_short, r->lags, r->lag_median, r->reads_gib);
		}
	}
	/* The targets: >= 30 % less memory than static; <= 1/10 of MOM's and
	 * Proxmox's time short at no more memory than they use. */
	printf("\n");
	for (Trace tr = 0; tr < T_COUNT; tr++) {
		const Result *d = &res[tr][P_DMEM];
		const Result *d80 = &res[tr][P_DMEM80];
		gboolean mem = d->gib_h <= 0.70 * res[tr][P_STATIC].gib_h;
		gboolean mom = d->short_s <= res[tr][P_MOM].short_s / 10 &&
			       d->gib_h <= res[tr][P_MOM].gib_h;
		gboolean pve = d->short_s <= res[tr][P_PVE].short_s / 10 &&
			       d->gib_h <= res[tr][P_PVE].gib_h;
		/* With the pool they use, for a trace where dmem's default
		 * pool (all of it) uses more. */
		gboolean mom80 = d80->short_s <= res[tr][P_MOM].short_s / 10 &&
				 d80->gib_h <= res[tr][P_MOM].gib_h;
		gboolean pve80 = d80->short_s <= res[tr][P_PVE].short_s / 10 &&
				 d80->gib_h <= res[tr][P_PVE].gib_h;

		printf("%-32s memory -30%% vs static: %s; short <= 1/10 of MOM's at <= its "
		       "memory: %s%s; of Proxmox's: %s%s\n", trace_names[tr],
		       mem ? "yes" : "NO", mom ? "yes" : "no",
		       mom ? "" : mom80 ? " (with the pool at 80 %: yes)" : " (with the pool at 80 %: NO)",
		       pve ? "yes" : "no",
		       pve ? "" : pve80 ? " (with the pool at 80 %: yes)" : " (with the pool at 80 %: NO)");
		all_ok &= mem && (mom || mom80) && (pve || pve80);
	}
	return all_ok ? 0 : 1;
}
