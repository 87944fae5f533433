// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * virt-job.c - run a VM's libvirt calls off the main loop.
 *
 * A call that reaches QEMU's monitor waits as long as QEMU does: forever
 * for a stopped process, minutes for a migrating or wedged one. Such calls
 * run in a GThreadPool, one job per VM in flight; the job's result comes
 * back to the main loop as an idle source (g_idle_add(): always dispatched
 * by the thread running the loop, unlike g_main_context_invoke(), which runs
 * the function in the worker when nobody owns the context), where it is
 * merged into the VM only if the VM is still the same boot (same uuid and
 * domain id) and the job is still the VM's. A VM whose job has not returned is decided on
 * the facts it last gave and held by the policy until the call returns.
 *
 * The pool has DMEM_WORKERS threads for healthy VMs and one more for every
 * VM whose call is overdue, so that stuck VMs never take the threads of the
 * others. Time spent waiting for a worker does not count as a call. libvirt's client is thread-safe; its errors are per thread, so a
 * job reads its error messages in the worker, right after the call.
 */
#include "virt.h"

typedef struct {
	DmemVirt *v;
	DmemJob *job;
} Finished;

static void job_free(DmemJob *job)
{
	if (job->free_data)
		job->free_data(job->data);
	if (job->dom)
		virDomainFree(job->dom);
	g_free(job->name);
	g_free(job);
}

/* On the main loop. */
static gboolean job_finished(gpointer data)
{
	Finished *f = data;
	DmemVirt *v = f->v;
	DmemJob *job = f->job;
	DmemVm *vm = g_hash_table_lookup(v->vms, job->uuid);

	v->jobs--;
	if (job->stuck) {
		v->stuck_jobs--;
		g_message("%s: libvirt call (%s) returned after %" G_GINT64_FORMAT " s",
			  job->name, job->what ? job->what : "?",
			  (g_get_monotonic_time() - job->run_start_us) / G_USEC_PER_SEC);
	}
	if (vm && vm->job == job) {
		vm->job = NULL;
		if (vm->id != job->id)
			vm = NULL;
	} else {
		vm = NULL;
	}
	job->done(v, vm, job);
	/* A decision made while this job was out: apply it now. */
	if (vm && vm->apply_deferred && !vm->job)
		dmem_virt_apply_deferred(v, vm);
	job_free(job);
	g_free(f);
	return G_SOURCE_REMOVE;
}

/*
 * In a worker. Nothing here touches the DmemVirt: after dmemd stopped, a
 * call that returns late only leaves an idle source nobody dispatches.
 */
static void job_run(gpointer data, gpointer user_data)
{
	Finished *f = g_new(Finished, 1);

	f->v = user_data;
	f->job = data;
	__atomic_store_n(&f->job->run_start_us, g_get_monotonic_time(), __ATOMIC_RELEASE);
	f->job->run(f->job);
	g_idle_add(job_finished, f);
}

/* A job the pool drops unstarted, at exit. */
static void job_drop(gpointer data)
{
	job_free(data);
}

void dmem_jobs_init(DmemVirt *v)
{
	/* Creating a pool with no thread started yet cannot fail. */
	v->workers = g_thread_pool_new_full(job_run, v, job_drop, DMEM_WORKERS, FALSE, NULL);
}

void dmem_jobs_shutdown(DmemVirt *v)
{
	gint64 deadline = g_get_monotonic_time() + DMEM_JOBS_EXIT_WAIT_MS * 1000;

	if (!v->workers)
		return;
	/* From here on no VM is changed: results are only taken in. */
	v->stopping = TRUE;
	/* Hand the jobs that return soon their results (and free them). */
	while (v->jobs && g_get_monotonic_time() < deadline)
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(10 * 1000);
	if (v->jobs)
		g_message("leaving %u libvirt call%s that %s not returned", v->jobs,
			  v->jobs == 1 ? "" : "s", v->jobs == 1 ? "has" : "have");
	/* Unstarted jobs are dropped; running ones end with the process. */
	g_thread_pool_free(v->workers, TRUE, FALSE);
	v->workers = NULL;
}

gboolean dmem_job_submit(DmemVirt *v, DmemVm *vm, DmemJobRun run, DmemJobDone done,
			 gpointer data, GDestroyNotify free_data)
{
	DmemJob *job;

	if (vm->job || !vm->dom || !v->workers || v->stopping) {
		if (free_data)
			free_data(data);
		return FALSE;
	}
	job = g_new0(DmemJob, 1);
	g_strlcpy(job->uuid, vm->uuid, sizeof(job->uuid));
	job->id = vm->id;
	job->name = g_strdup(vm->name);
	virDomainRef(vm->dom);
	job->dom = vm->dom;
	job->run = run;
	job->done = done;
	job->data = data;
	job->free_data = free_data;
	vm->job = job;
	v->jobs++;
	g_thread_pool_push(v->workers, job, NULL);
	return TRUE;
}

void dmem_job_calling(DmemJob *job, const char *what)
{
	g_atomic_pointer_set(&job->what, what);
}

const char *dmem_job_pending(DmemVm *vm, gint64 now_us, gint64 *for_s)
{
	const char *what;
	gint64 started;

	*for_s = 0;
	if (!vm->job)
		return NULL;
	/* Waiting for a worker is not a call that does not return. */
	started = __atomic_load_n(&vm->job->run_start_us, __ATOMIC_ACQUIRE);
	if (!started)
		return NULL;
	what = g_atomic_pointer_get(&vm->job->what);
	*for_s = MAX(now_us - started, 0) / G_USEC_PER_SEC;
	return what ? what : "starting";
}

void dmem_jobs_watch(DmemVirt *v, gint64 now_us)
{
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, v->vms);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		DmemVm *vm = value;
		gint64 for_s;
		const char *what = dmem_job_pending(vm, now_us, &for_s);

		if (!what || vm->job->stuck || for_s < DMEM_JOB_STUCK_S)
			continue;
		/* The policy holds the VM and its status change says why:
		 * one warning per stall. */
		vm->job->stuck = TRUE;
		v->stuck_jobs++;
		g_debug("%s: libvirt call (%s) has not returned for %" G_GINT64_FORMAT
			" s: one more worker for the others", vm->name, what, for_s);
	}
	if (v->workers)
		g_thread_pool_set_max_threads(v->workers, DMEM_WORKERS + (int)v->stuck_jobs,
					      NULL);
}

gboolean dmem_job_same_boot(DmemJob *job, gboolean *gone)
{
	unsigned char uuid[VIR_UUID_BUFLEN];
	virDomainPtr now;
	gboolean same;

	if (virDomainGetUUID(job->dom, uuid) < 0)
		return FALSE;
	now = virDomainLookupByUUID(virDomainGetConnect(job->dom), uuid);
	if (!now) {
		*gone = TRUE;
		return FALSE;
	}
	same = virDomainGetID(now) == job->id;
	virDomainFree(now);
	*gone = !same;
	return same;
}
