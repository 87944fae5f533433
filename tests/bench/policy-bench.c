// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy-bench: time dmemd's policy cycle for 10, 100 and 1000 synthetic VMs.
 *
 *   policy-bench [SECONDS_PER_SIZE]
 *
 * Each VM runs a random demand trace (grow, hold, fall) reported through
 * guest statistics; the bench applies every decision like a cooperative
 * guest would, so arbitration, delays and hot-add all run. Per size: the
 * whole per-cycle work dmemd does besides libvirt I/O: the policy, filling
 * the published state (every VM's row and the numbers behind its
 * explanation), writing the state file and the metrics file (to tmpfs, as
 * /run is on a host), each part as time per cycle and the whole as a share
 * of the 1 s interval. The target: under 5 ms for 1000 VMs. For scale, it
 * also times rendering every VM's explanation, which dmemctl does when
 * asked and dmemd never does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib.h>

#include "explain.h"
#include "metrics.h"
#include "policy.h"
#include "state.h"

#define MiB(x) ((dmem_kib_t)(x) * 1024)

typedef struct {
	gsize n;
	DmemPolicyParams p;
	DmemHostInput h;
	DmemVmInput *vm;
	DmemVmState *st;
	DmemVmDecision *d;
	dmem_kib_t *used;
	char **names;
	GRand *rand;
} Bench;

static void bench_init(Bench *b, gsize n)
{
	*b = (Bench) {
		.n = n,
		.p = { .interval_ms = 1000, .shrink_delay_s = 60,
		       .max_shrink_kib_per_s = MiB(256), .dimm_size_kib = MiB(256) },
		/* A pool a bit short of everyone's ideal: arbitration runs. */
		.h = { .pool_kib = MiB(1536) * n, .now_us = G_USEC_PER_SEC,
		       .now_real_s = 1700000000 },
		.vm = g_new0(DmemVmInput, n),
		.st = g_new0(DmemVmState, n),
		.d = g_new0(DmemVmDecision, n),
		.used = g_new0(dmem_kib_t, n),
		.names = g_new0(char *, n + 1),
		.rand = g_rand_new_with_seed(42),
	};
	for (gsize i = 0; i < n; i++) {
		dmem_kib_t startup = MiB(512) * g_rand_int_range(b->rand, 1, 5);

		b->names[i] = g_strdup_printf("vm%04zu", i);
		b->used[i] = startup / 2;
		b->vm[i] = (DmemVmInput) {
			.name = b->names[i], .enabled = TRUE,
			.startup_kib = startup, .minimum_kib = startup / 2,
			.maximum_kib = startup * 4, .buffer_percent = 20,
			.weight = g_rand_int_range(b->rand, 1000, 10000),
			.assigned_kib = startup, .target_kib = startup,
			.target_known = TRUE, .live_kib = startup,
			.hotadd_max_kib = startup * 4, .free_slots = 8,
		};
		dmem_vm_state_init(&b->st[i]);
	}
}

static void bench_free(Bench *b)
{
	g_free(b->vm);
	g_free(b->st);
	g_free(b->d);
	g_free(b->used);
	g_strfreev(b->names);
	g_rand_free(b->rand);
}

/* Apply the decisions, advance one interval, move every demand trace. */
static void bench_step(Bench *b)
{
	for (gsize i = 0; i < b->n; i++) {
		DmemVmInput *vm = &b->vm[i];
		DmemVmDecision *d = &b->d[i];
		DmemGuestStats *s = &vm->stats;
		gint64 used = (gint64)b->used[i] +
			      (gint64)g_rand_int_range(b->rand, -64, 65) * 1024;
		dmem_kib_t total;

		if (d->managed) {
			vm->live_kib += d->dimms * b->p.dimm_size_kib;
			vm->free_slots -= MIN(d->dimms, vm->free_slots);
			vm->target_kib = d->target_kib;
			vm->assigned_kib = d->target_kib;
		}
		b->used[i] = (dmem_kib_t)CLAMP(used, (gint64)MiB(64),
					       (gint64)vm->maximum_kib);
		/* The guest sees 40 MiB less than it holds (its kernel). */
		total = vm->assigned_kib - MiB(40);
		*s = (DmemGuestStats) {
			.last_update_s = b->h.now_real_s,
			.has_total = TRUE, .has_available = TRUE,
			.has_swap_in = TRUE, .has_major_faults = TRUE,
			.total_kib = total,
			.available_kib = total - MIN(b->used[i], total),
			.major_faults = s->major_faults + g_rand_int_range(b->rand, 0, 200),
		};
	}
	b->h.now_us += G_USEC_PER_SEC;
	b->h.now_real_s++;
}

/* Time spent in each part of a cycle, in seconds. */
typedef struct {
	double policy, record, state, metrics;
} Split;

/* Where the files go: /run is tmpfs, like dmemd's /run/dmemd. */
static char *state_path, *metrics_path;

/*
 * What dmemd does after deciding, short of libvirt and the file system:
 * explain every VM, serialise the state file and the metrics file.
 */
static gsize publish(Bench *b, DmemPoolDecision *pool, Split *t, GTimer *timer)
{
	DmemState st;
	gsize len;
	char *data;

	dmem_state_init(&st);
	st.version = g_strdup("bench");
	st.uri = g_strdup("qemu:///system");
	st.connected = TRUE;
	st.pool_kib = pool->pool_kib;
	st.committed_kib = pool->committed_kib;
	st.free_kib = pool->free_kib;
	st.overcommit_kib = pool->overcommit_kib;
	g_timer_start(timer);
	for (gsize i = 0; i < b->n; i++) {
		DmemStateVm *vm = dmem_state_add_vm(&st);

		vm->name = g_strdup(b->vm[i].name);
		vm->state = g_strdup("running");
		vm->status = g_strdup(dmem_status_name(b->d[i].status));
		vm->reason = g_strdup(b->d[i].reason);
		dmem_explain_record(&b->vm[i], &b->d[i], &vm->decision);
		vm->managed = b->d[i].managed;
		vm->startup_kib = b->vm[i].startup_kib;
		vm->minimum_kib = b->vm[i].minimum_kib;
		vm->maximum_kib = b->vm[i].maximum_kib;
		vm->assigned_kib = b->vm[i].assigned_kib;
		vm->target_kib = b->d[i].target_kib;
		vm->live_kib = b->vm[i].live_kib;
		vm->held_kib = b->d[i].held_kib;
		vm->demand_known = b->d[i].demand_known;
		vm->demand_kib = b->d[i].demand_kib;
		vm->ideal_kib = b->d[i].ideal_kib;
	}
	t->record += g_timer_elapsed(timer, NULL);
	g_timer_start(timer);
	if (!dmem_state_write(&st, state_path, NULL))
		g_error("cannot write %s", state_path);
	t->state += g_timer_elapsed(timer, NULL);
	g_timer_start(timer);
	if (!dmem_metrics_write(&st, metrics_path, NULL))
		g_error("cannot write %s", metrics_path);
	t->metrics += g_timer_elapsed(timer, NULL);
	data = dmem_state_to_data(&st, &len);
	g_free(data);
	dmem_state_clear(&st);
	return len;
}

static void run(gsize n, double seconds)
{
	Bench b;
	DmemPoolDecision pool;
	Split t = { 0 };
	guint cycles = 0;
	gsize bytes = 0;
	double total, explain_s;
	g_autoptr(GTimer) wall = g_timer_new();
	g_autoptr(GTimer) timer = g_timer_new();

	bench_init(&b, n);
	/* Warm up: past the first samples, into a steady state. */
	for (int i = 0; i < 5; i++) {
		dmem_policy_decide(&b.p, &b.h, b.vm, b.st, b.d, n, &pool);
		bench_step(&b);
	}
	g_timer_start(wall);
	while (g_timer_elapsed(wall, NULL) < seconds) {
		g_timer_start(timer);
		dmem_policy_decide(&b.p, &b.h, b.vm, b.st, b.d, n, &pool);
		t.policy += g_timer_elapsed(timer, NULL);
		bytes = publish(&b, &pool, &t, timer);
		bench_step(&b);
		cycles++;
	}
	total = t.policy + t.record + t.state + t.metrics;
	/* What dmemd no longer does every cycle: render every explanation. */
	g_timer_start(timer);
	for (gsize i = 0; i < n; i++)
		g_free(dmem_policy_explain(&b.p, &b.vm[i], &b.d[i], &pool));
	explain_s = g_timer_elapsed(timer, NULL);
	printf("%5zu VMs: whole cycle %7.0f us (%.2f%% of a 1 s interval) = policy %6.0f + "
	       "publish %6.0f + state file %6.0f (%zu bytes) + metrics file %6.0f us; %u cycles\n",
	       n, total / cycles * 1e6, total / cycles * 100, t.policy / cycles * 1e6,
	       t.record / cycles * 1e6, t.state / cycles * 1e6, bytes,
	       t.metrics / cycles * 1e6, cycles);
	printf("%5zu VMs: (rendering every explanation, which dmemctl does on demand: %.0f us)\n",
	       n, explain_s * 1e6);
	bench_free(&b);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	g_autofree char *dir = g_dir_make_tmp("dmem-bench-XXXXXX", NULL);

	if (!dir)
		g_error("cannot make a temporary directory");
	state_path = g_build_filename(dir, "state", NULL);
	metrics_path = g_build_filename(dir, "dmem.prom", NULL);
	static const gsize sizes[] = { 10, 100, 1000 };

	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++)
		run(sizes[i], seconds);
	unlink(state_path);
	unlink(metrics_path);
	rmdir(dir);
	g_free(state_path);
	g_free(metrics_path);
	return 0;
}
