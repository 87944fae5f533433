// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-cache.c - the hot cache estimate (cache.c) on simulated traces.
 *
 * A simulated guest uses some anonymous memory and reads from a disk: a hot
 * set it reads again every second, and sets it reads once. Its page cache
 * is LRU: the hot set stays while it fits, and what does not fit is read
 * from the disk again every second (the host counts it). The policy runs
 * on what such a guest reports and what its host counts, and the tests
 * check what a user would: how big the VM ends, how much it keeps cached,
 * and how much it still reads from its disk.
 */
#include "test-sim.h"

static dmem_kib_t sat_sub_kib(dmem_kib_t a, dmem_kib_t b)
{
	return a > b ? a - b : 0;
}

typedef struct {
	Sim s;
	/* per VM */
	dmem_kib_t hot[4];	/* read every second */
	dmem_kib_t cold[4];	/* cached once, never read again */
	dmem_kib_t stream[4];	/* new data read every second (cold) */
	dmem_kib_t cache[4];	/* what the guest has cached */
	guint64 read_kib[4];	/* this second */
	gboolean liar[4];	/* reports all free memory as cache */
} CacheSim;

static gsize csim_add(CacheSim *c, dmem_kib_t startup, dmem_kib_t used)
{
	gsize i = sim_add(&c->s, vm_new("v", startup, GiB(4), used));

	c->s.vm[i].minimum_kib = MiB(256);
	c->s.vm[i].has_disk_io = TRUE;
	c->s.vm[i].stats.has_disk_caches = TRUE;
	c->s.keeps_floor[i] = TRUE;
	return i;
}

/* One second of the guest's life, after the host applied its decision. */
static void csim_guest(CacheSim *c, gsize i)
{
	DmemVmInput *vm = &c->s.vm[i];
	DmemGuestStats *st = &vm->stats;
	/* The kernel reclaims cache in batches and keeps free memory above
	 * its watermarks: 46-67 MiB measured on 768 MiB guests re-reading
	 * their disks, about 7 %. */
	dmem_kib_t keep = MAX(MiB(8), st->total_kib * 7 / 100);
	dmem_kib_t room = sat_sub_kib(st->total_kib, c->s.used[i] + keep);
	dmem_kib_t want = c->hot[i] + c->cold[i];
	dmem_kib_t before = c->cache[i];

	/* LRU: the hot set first; what is missing of it is read again. */
	c->read_kib[i] = c->hot[i] > room ? c->hot[i] - room : 0;
	c->cold[i] += c->stream[i];
	want += c->stream[i];
	c->read_kib[i] += c->stream[i];
	c->cache[i] = MIN(want, room);
	/* What did not fit of the cold data was evicted. */
	c->cold[i] = MIN(c->cold[i], sat_sub_kib(c->cache[i], MIN(c->hot[i], c->cache[i])));
	/* What the cache gained since last second was read too (the hot
	 * set's re-reads are counted above). */
	if (c->cache[i] > before)
		c->read_kib[i] = MAX(c->read_kib[i], c->cache[i] - before);
	vm->disk_read_bytes += c->read_kib[i] * 1024;
	st->disk_caches_kib = c->liar[i] ? st->total_kib : c->cache[i];
	/* MemAvailable leaves out the free memory the kernel keeps. */
	st->available_kib = st->total_kib - MIN(c->s.used[i] + MiB(8), st->total_kib);
	st->free_kib = MAX(sat_sub_kib(st->available_kib, c->cache[i]) + MiB(8), keep);
}

static void csim_cycle(CacheSim *c)
{
	sim_decide(&c->s);
	sim_apply(&c->s);
	for (gsize i = 0; i < c->s.n; i++)
		csim_guest(c, i);
}

static void csim_init(CacheSim *c, dmem_kib_t pool)
{
	memset(c, 0, sizeof(*c));
	sim_init(&c->s, pool);
	c->s.p.shrink_delay_s = 30;
	c->s.p.cache_aware = TRUE;
	c->s.p.cache_probe_s = 10;
	c->s.p.cache_reprobe_s = 120;
}

/* Run @secs cycles; the mean read rate of VM @i over them, KiB/s. */
static guint64 csim_run(CacheSim *c, int secs, gsize i)
{
	guint64 sum = 0;

	for (int t = 0; t < secs; t++) {
		csim_cycle(c);
		sum += c->read_kib[i];
	}
	return sum / (guint64)MAX(secs, 1);
}

static void report(const CacheSim *c, gsize i, const char *when, guint64 rate)
{
	g_test_message("%s: size %" G_GUINT64_FORMAT " MiB, cached %" G_GUINT64_FORMAT
		       " MiB, hot estimate %" G_GUINT64_FORMAT " MiB, reads %"
		       G_GUINT64_FORMAT " KiB/s", when, c->s.vm[i].assigned_kib / 1024,
		       c->cache[i] / 1024, c->s.d[i].hot_cache_kib / 1024, rate);
}

/*
 * A 1 GiB VM using 60 MiB re-reads a 400 MiB set every second: it is
 * shrunk (to about in use + the set + buffer), keeps the set cached and
 * reads next to nothing. Without the estimate (cache_aware=no) it is
 * shrunk below the set and reads from its disk all the time.
 */
static void run_hot_set(gboolean aware, dmem_kib_t *size, guint64 *rate, dmem_kib_t *cached)
{
	g_autofree char *why = NULL;
	CacheSim c;
	gsize v;

	csim_init(&c, GiB(8));
	c.s.p.cache_aware = aware;
	v = csim_add(&c, GiB(1), MiB(60));
	c.hot[v] = MiB(400);
	csim_run(&c, 600, v);
	*rate = csim_run(&c, 300, v);
	*size = c.s.vm[v].assigned_kib;
	*cached = c.cache[v];
	report(&c, v, aware ? "cache_aware=yes" : "cache_aware=no", *rate);
	/* dmemctl explain tells the estimate and its evidence. */
	why = dmem_policy_explain(&c.s.p, &c.s.vm[v], &c.s.d[v], &c.s.pool);
	g_test_message("%s", why);
	if (aware) {
		g_assert_nonnull(strstr(why, "hot cache: ~400 MiB of its page cache"));
		g_assert_nonnull(strstr(why, "reads rose from 0.0 MiB/s to "));
		g_assert_nonnull(strstr(why, " + hot cache 400 MiB\n"));
	} else {
		g_assert_nonnull(strstr(why, "hot cache: not estimated (cache_aware=no in "
					"dmemd.conf)"));
	}
}

static void test_hot_set_kept(void)
{
	dmem_kib_t size, cached, size_off, cached_off;
	guint64 rate, rate_off;

	run_hot_set(TRUE, &size, &rate, &cached);
	run_hot_set(FALSE, &size_off, &rate_off, &cached_off);
	/* Shrunk from 1 GiB, to about in use + the set + buffer. */
	g_assert_cmpuint(size, <, MiB(700));
	g_assert_cmpuint(size, >=, MiB(60 + 400));
	g_assert_cmpuint(cached, ==, MiB(400));
	/* Probes now and then cost a few re-reads: under 1 MiB/s on average,
	 * against the whole set every second without the estimate. */
	g_assert_cmpuint(rate, <, 1024);
	g_assert_cmpuint(size_off, <, size);
	g_assert_cmpuint(rate_off, >, 100 * 1024);
}

/* The same VM once the loop stops: the set is cold and goes back. */
static void test_cold_set_returned(void)
{
	CacheSim c;
	gsize v;
	dmem_kib_t kept;

	csim_init(&c, GiB(8));
	v = csim_add(&c, GiB(1), MiB(60));
	c.hot[v] = MiB(400);
	csim_run(&c, 400, v);
	kept = c.s.vm[v].assigned_kib;
	c.cold[v] = c.hot[v];
	c.hot[v] = 0;
	/* The reprobe wait, then a few probes of cache_probe_s each. */
	csim_run(&c, (int)(c.s.p.cache_reprobe_s + 12 * c.s.p.cache_probe_s), v);
	report(&c, v, "cold", 0);
	/* Down to what its floor holds anyway (below that, a probe can
	 * take nothing, so none runs). */
	g_assert_cmpuint(c.s.d[v].demand_kib, <=, c.s.d[v].floor_target_kib);
	/* Back to what it uses plus its floor, as without the set. */
	g_assert_cmpuint(c.s.vm[v].assigned_kib, <=, MiB(60) + FLOOR(GiB(1)) + MiB(16));
	g_assert_cmpuint(kept, >, MiB(60 + 400));
	g_assert_cmpuint(c.s.d[v].cache_seen, ==, DMEM_CACHE_SEEN_COLD);
}

/*
 * A scan reads 2 GiB once: the cache fills what the VM has, the VM does not
 * grow for it beyond one DIMM (an up probe tries one, finds a stream), and
 * afterwards the cold cache goes back.
 */
static void test_scan_once(void)
{
	CacheSim c;
	gsize v;
	dmem_kib_t most = 0;

	csim_init(&c, GiB(8));
	v = csim_add(&c, GiB(1), MiB(100));
	/* 50 MiB/s of new data, each block read once, for 40 s. */
	c.stream[v] = MiB(50);
	for (int t = 0; t < 40; t++) {
		csim_cycle(&c);
		most = MAX(most, c.s.vm[v].live_kib);
	}
	c.stream[v] = 0;
	csim_run(&c, 400, v);
	report(&c, v, "after the scan", 0);
	g_assert_cmpuint(most, <=, GiB(1) + c.s.p.dimm_size_kib);
	g_assert_cmpuint(c.s.d[v].hot_cache_kib, <, MiB(32));
	g_assert_cmpuint(c.s.vm[v].assigned_kib, <, MiB(512));
}

/*
 * A guest that says all its free memory is cache, and reads nothing: its
 * demand is what it uses, not what it claims.
 */
static void test_lying_guest(void)
{
	CacheSim c;
	gsize v;

	csim_init(&c, GiB(8));
	v = csim_add(&c, GiB(1), MiB(100));
	c.liar[v] = TRUE;
	csim_run(&c, 200, v);
	report(&c, v, "liar", 0);
	g_assert_cmpuint(c.s.d[v].hot_cache_kib, ==, 0);
	g_assert_cmpuint(c.s.vm[v].assigned_kib, <, MiB(512));
}

/*
 * A hot set that grows from 200 to 600 MiB after the VM settled small:
 * the VM reads while its cache is squeezed, probes up, and ends holding
 * the bigger set with its reads gone.
 */
static void test_set_grows(void)
{
	CacheSim c;
	gsize v;
	guint64 rate;

	csim_init(&c, GiB(8));
	v = csim_add(&c, GiB(1), MiB(60));
	c.hot[v] = MiB(200);
	csim_run(&c, 300, v);
	g_assert_cmpuint(c.s.vm[v].assigned_kib, <, MiB(512));
	c.hot[v] = MiB(600);
	csim_run(&c, 600, v);
	rate = csim_run(&c, 100, v);
	report(&c, v, "grown", rate);
	/* The estimate plus the buffer hold the whole set. */
	g_assert_cmpuint(c.s.d[v].hot_cache_kib, >=, MiB(500));
	g_assert_cmpuint(c.cache[v], ==, MiB(600));
	g_assert_cmpuint(rate, <, 4 * 1024);
}

/*
 * Two such VMs on a pool too small for both sets, weights 8000 / 2000:
 * the heavy one keeps its set, the light one loses cache first.
 */
static void test_contention(void)
{
	CacheSim c;
	gsize hi, lo;
	guint64 rate_hi = 0, rate_lo = 0;

	/* Demand about 530 MiB each (in use, the free memory the kernel
	 * keeps, the set): the pool covers the minimums (256 each) and the
	 * heavy one's demand at its weight, not both. */
	csim_init(&c, MiB(900));
	hi = csim_add(&c, GiB(1), MiB(60));
	lo = csim_add(&c, GiB(1), MiB(60));
	c.s.vm[hi].weight = 8000;
	c.s.vm[lo].weight = 2000;
	c.hot[hi] = c.hot[lo] = MiB(400);
	csim_run(&c, 600, hi);
	for (int t = 0; t < 200; t++) {
		csim_cycle(&c);
		rate_hi += c.read_kib[hi];
		rate_lo += c.read_kib[lo];
		g_assert_cmpuint(c.s.pool.committed_after_kib, <=, c.s.h.pool_kib);
	}
	report(&c, hi, "weight 8000", rate_hi / 200);
	report(&c, lo, "weight 2000", rate_lo / 200);
	g_assert_cmpuint(c.cache[hi], ==, MiB(400));
	g_assert_cmpuint(rate_hi / 200, <, 1024);
	g_assert_cmpuint(c.cache[lo], <, MiB(400));
	g_assert_cmpuint(c.s.vm[hi].assigned_kib, >, c.s.vm[lo].assigned_kib);
}

/*
 * The pool shrinks before any probe ran: the estimates are what fitted
 * (the buffer held the rest of each set). The heavy VM, short of its set and
 * reading, probes up within its weighted share and ends up holding it; the
 * light one cannot get more and stays where the weights put it.
 */
static void test_contention_before_probes(void)
{
	CacheSim c;
	gsize hi, lo;
	guint64 rate_hi;

	csim_init(&c, GiB(8));
	hi = csim_add(&c, MiB(768), MiB(60));
	lo = csim_add(&c, MiB(768), MiB(60));
	c.s.vm[hi].weight = 8000;
	c.s.vm[lo].weight = 2000;
	c.hot[hi] = c.hot[lo] = MiB(400);
	/* Built, no probe yet; an estimate that fell short of the set (a
	 * guest whose in use counts part of its cache, as MemAvailable's
	 * watermarks do: the buffer held the rest). */
	csim_run(&c, 8, hi);
	c.s.st[hi].cache.hot_kib = c.s.st[lo].cache.hot_kib = MiB(330);
	g_assert_cmpuint(c.s.d[hi].cache_seen, ==, DMEM_CACHE_SEEN_BUILT);
	c.s.h.pool_kib = MiB(900);
	csim_run(&c, 300, hi);
	rate_hi = csim_run(&c, 60, hi);
	report(&c, hi, "weight 8000", rate_hi);
	report(&c, lo, "weight 2000", 0);
	g_assert_cmpuint(c.cache[hi], ==, MiB(400));
	g_assert_cmpuint(rate_hi, <, 1024);
	g_assert_cmpuint(c.cache[lo], <, MiB(400));
}

/* cache="ignore": the VM's cache is never protected. */
static void test_ignore(void)
{
	CacheSim c;
	gsize v;

	csim_init(&c, GiB(8));
	v = csim_add(&c, GiB(1), MiB(60));
	c.s.vm[v].cache_ignore = TRUE;
	c.hot[v] = MiB(400);
	csim_run(&c, 300, v);
	g_assert_cmpuint(c.s.d[v].cache_off, ==, DMEM_CACHE_OFF_METADATA);
	g_assert_cmpuint(c.s.d[v].hot_cache_kib, ==, 0);
	g_assert_cmpuint(c.s.vm[v].assigned_kib, <, MiB(400));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cache/hot-set-kept", test_hot_set_kept);
	g_test_add_func("/cache/cold-set-returned", test_cold_set_returned);
	g_test_add_func("/cache/scan-once", test_scan_once);
	g_test_add_func("/cache/lying-guest", test_lying_guest);
	g_test_add_func("/cache/set-grows", test_set_grows);
	g_test_add_func("/cache/contention", test_contention);
	g_test_add_func("/cache/contention-before-probes", test_contention_before_probes);
	g_test_add_func("/cache/ignore", test_ignore);
	return g_test_run();
}
