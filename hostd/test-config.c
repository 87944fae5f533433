// SPDX-License-Identifier: GPL-2.0-or-later
/* test-config.c - unit tests for config.c */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "error.h"

/* Load @text; on success return TRUE and fill @cfg. */
static gboolean load(const char *text, DmemConfig *cfg, GError **error)
{
	return dmem_config_load_data(cfg, text, strlen(text), "dmemd.conf", error);
}

static void assert_defaults(const DmemConfig *cfg)
{
	g_assert_cmpstr(cfg->uri, ==, "qemu:///system");
	g_assert_cmpstr(cfg->state_file, ==, "/run/dmemd/state");
	g_assert_null(cfg->metrics_file);
	g_assert_cmpuint(cfg->interval_ms, ==, 1000);
	g_assert_cmpuint(cfg->buffer_percent, ==, 20);
	g_assert_cmpuint(cfg->weight, ==, 5000);
	g_assert_cmpuint(cfg->host_reserve_kib, ==, 1024 * 1024);
	g_assert_cmpuint(cfg->host_pool_kib, ==, 0);
	g_assert_cmpuint(cfg->shrink_delay_s, ==, 60);
	g_assert_cmpuint(cfg->max_shrink_kib_per_s, ==, 256 * 1024);
	g_assert_cmpuint(cfg->reclaim_unresponsive_s, ==, 300);
	g_assert_true(cfg->cache_aware);
	g_assert_cmpuint(cfg->cache_probe_s, ==, 30);
	g_assert_cmpuint(cfg->cache_reprobe_s, ==, 600);
	g_assert_cmpuint(cfg->dimm_size_kib, ==, 256 * 1024);
	g_assert_true(cfg->unplug);
	g_assert_false(cfg->unplug_delay_set);
	g_assert_cmpuint(cfg->unplug_delay_s, ==, 0);
	g_assert_cmpuint(dmem_config_unplug_delay_s(cfg), ==, 60);
}

static void test_defaults(void)
{
	DmemConfig cfg;

	dmem_config_init(&cfg);
	assert_defaults(&cfg);
	dmem_config_clear(&cfg);
}

static void test_empty_and_comments(void)
{
	g_autoptr(GError) error = NULL;
	DmemConfig cfg;

	dmem_config_init(&cfg);
	g_assert_true(load("", &cfg, &error));
	assert_defaults(&cfg);
	g_assert_true(load("# all defaults\n[daemon]\n#uri=x\n[policy]\n[hotadd]\n",
			   &cfg, &error));
	g_assert_no_error(error);
	assert_defaults(&cfg);
	dmem_config_clear(&cfg);
}

static void test_all_keys(void)
{
	g_autoptr(GError) error = NULL;
	DmemConfig cfg;

	dmem_config_init(&cfg);
	g_assert_true(load("[daemon]\n"
			   "uri=qemu+ssh://root@h/system\n"
			   "interval_ms=500\n"
			   "metrics_file=/var/lib/prometheus/node-exporter/dmem.prom\n"
			   "[policy]\n"
			   "buffer_percent=35\n"
			   "weight=100\n"
			   "host_reserve_mib=2048\n"
			   "host_pool_mib=65536\n"
			   "shrink_delay_s=10\n"
			   "max_shrink_mib_per_s=64\n"
			   "reclaim_unresponsive_s=0\n"
			   "[hotadd]\n"
			   "dimm_size_mib=512\n"
			   "unplug=no\n"
			   "unplug_delay_s=300\n", &cfg, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(cfg.uri, ==, "qemu+ssh://root@h/system");
	g_assert_cmpuint(cfg.interval_ms, ==, 500);
	g_assert_cmpuint(cfg.buffer_percent, ==, 35);
	g_assert_cmpuint(cfg.weight, ==, 100);
	g_assert_cmpuint(cfg.host_reserve_kib, ==, 2048 * 1024);
	g_assert_cmpuint(cfg.host_pool_kib, ==, 65536ULL * 1024);
	g_assert_cmpuint(cfg.shrink_delay_s, ==, 10);
	g_assert_cmpuint(cfg.max_shrink_kib_per_s, ==, 64 * 1024);
	g_assert_cmpuint(cfg.reclaim_unresponsive_s, ==, 0);
	g_assert_cmpuint(cfg.dimm_size_kib, ==, 512 * 1024);
	g_assert_false(cfg.unplug);
	g_assert_true(cfg.unplug_delay_set);
	g_assert_cmpuint(cfg.unplug_delay_s, ==, 300);
	g_assert_cmpuint(dmem_config_unplug_delay_s(&cfg), ==, 300);
	g_assert_cmpstr(cfg.metrics_file, ==, "/var/lib/prometheus/node-exporter/dmem.prom");

	/* A later load starts again from the defaults. */
	g_assert_true(load("[policy]\nweight=7\n", &cfg, &error));
	g_assert_cmpuint(cfg.weight, ==, 7);
	g_assert_cmpuint(cfg.interval_ms, ==, 1000);
	g_assert_cmpstr(cfg.uri, ==, "qemu:///system");
	g_assert_null(cfg.metrics_file);
	g_assert_cmpuint(cfg.reclaim_unresponsive_s, ==, 300);
	g_assert_true(cfg.unplug);
	g_assert_false(cfg.unplug_delay_set);
	dmem_config_clear(&cfg);
}

/* Every key at both ends of its range, plus a value just outside. */
static void test_ranges(void)
{
	static const struct {
		const char *text;
		gboolean ok;
		const char *msg;
	} cases[] = {
		{ "[daemon]\ninterval_ms=100\n", TRUE, NULL },
		{ "[daemon]\ninterval_ms=60000\n", TRUE, NULL },
		{ "[daemon]\ninterval_ms=99\n", FALSE,
		  "dmemd.conf: [daemon] interval_ms=99: must be between 100 and 60000" },
		{ "[daemon]\ninterval_ms=60001\n", FALSE,
		  "dmemd.conf: [daemon] interval_ms=60001: must be between 100 and 60000" },
		{ "[daemon]\nuri=\n", FALSE,
		  "dmemd.conf: [daemon] uri: must not be empty" },
		{ "[policy]\nbuffer_percent=0\n", TRUE, NULL },
		{ "[policy]\nbuffer_percent=1000\n", TRUE, NULL },
		{ "[policy]\nbuffer_percent=1001\n", FALSE,
		  "dmemd.conf: [policy] buffer_percent=1001: must be between 0 and 1000" },
		{ "[policy]\nweight=0\n", TRUE, NULL },
		{ "[policy]\nweight=10000\n", TRUE, NULL },
		{ "[policy]\nweight=10001\n", FALSE,
		  "dmemd.conf: [policy] weight=10001: must be between 0 and 10000" },
		{ "[policy]\nhost_reserve_mib=0\n", TRUE, NULL },
		{ "[policy]\nhost_reserve_mib=4294967296\n", TRUE, NULL },
		{ "[policy]\nhost_reserve_mib=4294967297\n", FALSE,
		  "dmemd.conf: [policy] host_reserve_mib=4294967297: must be between 0 and 4294967296" },
		{ "[policy]\nhost_pool_mib=0\n", TRUE, NULL },
		{ "[policy]\nhost_pool_mib=4294967297\n", FALSE,
		  "[policy] host_pool_mib=4294967297: must be between" },
		{ "[policy]\nshrink_delay_s=0\n", TRUE, NULL },
		{ "[policy]\nshrink_delay_s=86400\n", TRUE, NULL },
		{ "[policy]\nshrink_delay_s=86401\n", FALSE,
		  "[policy] shrink_delay_s=86401: must be between 0 and 86400" },
		{ "[policy]\nmax_shrink_mib_per_s=1\n", TRUE, NULL },
		{ "[policy]\nmax_shrink_mib_per_s=1048576\n", TRUE, NULL },
		{ "[policy]\nmax_shrink_mib_per_s=0\n", FALSE,
		  "[policy] max_shrink_mib_per_s=0: must be between 1 and 1048576" },
		{ "[policy]\nreclaim_unresponsive_s=0\n", TRUE, NULL },
		{ "[policy]\nreclaim_unresponsive_s=86400\n", TRUE, NULL },
		{ "[policy]\ncache_aware=no\n", TRUE, NULL },
		{ "[policy]\ncache_aware=yes\n", TRUE, NULL },
		{ "[policy]\ncache_aware=False\n", TRUE, NULL },
		{ "[policy]\ncache_aware=maybe\n", FALSE,
		  "dmemd.conf: [policy] cache_aware=maybe: must be yes or no" },
		{ "[policy]\ncache_aware=\n", FALSE,
		  "dmemd.conf: [policy] cache_aware=: must be yes or no" },
		{ "[policy]\ncache_probe_s=0\n", FALSE,
		  "dmemd.conf: [policy] cache_probe_s=0: must be between 1 and 3600" },
		{ "[policy]\ncache_reprobe_s=0\n", TRUE, NULL },
		{ "[policy]\ncache_reprobe_s=86401\n", FALSE,
		  "dmemd.conf: [policy] cache_reprobe_s=86401: must be between 0 and 86400" },
		{ "[policy]\nreclaim_unresponsive_s=86401\n", FALSE,
		  "dmemd.conf: [policy] reclaim_unresponsive_s=86401: must be between 0 and 86400" },
		{ "[hotadd]\ndimm_size_mib=128\n", TRUE, NULL },
		{ "[hotadd]\ndimm_size_mib=1048576\n", TRUE, NULL },
		{ "[hotadd]\ndimm_size_mib=100\n", FALSE,
		  "dmemd.conf: [hotadd] dimm_size_mib=100: must be a multiple of 128 MiB (the guest memory block size)" },
		{ "[hotadd]\ndimm_size_mib=200\n", FALSE,
		  "dmemd.conf: [hotadd] dimm_size_mib=200: must be a multiple of 128 MiB (the guest memory block size)" },
		{ "[hotadd]\ndimm_size_mib=0\n", FALSE,
		  "[hotadd] dimm_size_mib=0: must be between 128" },
		{ "[hotadd]\ndimm_size_mib=1048704\n", FALSE,
		  "[hotadd] dimm_size_mib=1048704: must be between 128 and 1048576" },
		{ "[hotadd]\nunplug=no\n", TRUE, NULL },
		{ "[hotadd]\nunplug=yes\n", TRUE, NULL },
		{ "[hotadd]\nunplug=maybe\n", FALSE,
		  "dmemd.conf: [hotadd] unplug=maybe: must be yes or no" },
		{ "[hotadd]\nunplug=\n", FALSE,
		  "dmemd.conf: [hotadd] unplug=: must be yes or no" },
		{ "[hotadd]\nunplug_delay_s=\n", TRUE, NULL },
		{ "[hotadd]\nunplug_delay_s=0\n", TRUE, NULL },
		{ "[hotadd]\nunplug_delay_s=86400\n", TRUE, NULL },
		{ "[hotadd]\nunplug_delay_s=86401\n", FALSE,
		  "dmemd.conf: [hotadd] unplug_delay_s=86401: must be between 0 and 86400" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		DmemConfig cfg;

		g_test_message("%s", cases[i].text);
		dmem_config_init(&cfg);
		g_assert_cmpint(load(cases[i].text, &cfg, &error), ==, cases[i].ok);
		if (cases[i].ok) {
			g_assert_no_error(error);
		} else {
			g_assert_true(error->domain == DMEM_ERROR);
			g_test_message("-> %s", error->message);
			g_assert_nonnull(strstr(error->message, cases[i].msg));
		}
		dmem_config_clear(&cfg);
	}
}

/* Values that are not numbers at all: the message names key and value. */
static void test_bad_types(void)
{
	static const char *const keys[][2] = {
		{ "daemon", "interval_ms" },
		{ "policy", "buffer_percent" },
		{ "policy", "weight" },
		{ "policy", "host_reserve_mib" },
		{ "policy", "host_pool_mib" },
		{ "policy", "shrink_delay_s" },
		{ "policy", "max_shrink_mib_per_s" },
		{ "policy", "reclaim_unresponsive_s" },
		{ "policy", "cache_probe_s" },
		{ "policy", "cache_reprobe_s" },
		{ "hotadd", "dimm_size_mib" },
		{ "hotadd", "unplug_delay_s" },
	};
	static const char *const values[] = {
		"abc", "1.5", "12abc", "-5", "0x10", "1G", "256M", "", "1e3",
		"99999999999999999999999",
	};

	for (gsize k = 0; k < G_N_ELEMENTS(keys); k++) {
		for (gsize v = 0; v < G_N_ELEMENTS(values); v++) {
			g_autofree char *text = g_strdup_printf("[%s]\n%s=%s\n",
				keys[k][0], keys[k][1], values[v]);
			g_autofree char *want = g_strdup_printf(
				"dmemd.conf: [%s] %s=%s: ",
				keys[k][0], keys[k][1], values[v]);
			g_autoptr(GError) error = NULL;
			DmemConfig cfg;

			/* Empty is a value of its own there; see test_unplug_delay(). */
			if (*values[v] == '\0' && strcmp(keys[k][1], "unplug_delay_s") == 0)
				continue;
			dmem_config_init(&cfg);
			g_assert_false(load(text, &cfg, &error));
			g_assert_nonnull(error);
			g_test_message("-> %s", error->message);
			g_assert_true(g_str_has_prefix(error->message, want));
			/* and the valid range is part of the message */
			g_assert_true(strstr(error->message, "..") ||
				      strstr(error->message, "between"));
			assert_defaults(&cfg);	/* untouched on error */
			dmem_config_clear(&cfg);
		}
	}
}

/*
 * unplug_delay_s: empty (the default) follows shrink_delay_s, whatever that
 * is; a number, 0 included, stands on its own; anything else is an error
 * naming the key, the value and the range, and changes nothing.
 */
static void test_unplug_delay(void)
{
	static const struct {
		const char *text;
		gboolean set;
		guint delay_s;		/* dmem_config_unplug_delay_s() */
	} good[] = {
		{ "[hotadd]\nunplug_delay_s=\n", FALSE, 60 },
		{ "[hotadd]\nunplug_delay_s=   \n", FALSE, 60 },
		{ "[policy]\nshrink_delay_s=10\n", FALSE, 10 },
		{ "[policy]\nshrink_delay_s=10\n[hotadd]\nunplug_delay_s=\n", FALSE, 10 },
		{ "[hotadd]\nunplug_delay_s=0\n", TRUE, 0 },
		{ "[policy]\nshrink_delay_s=10\n[hotadd]\nunplug_delay_s=120\n", TRUE, 120 },
		{ "[hotadd]\nunplug_delay_s = 30  \n[policy]\nshrink_delay_s=5\n", TRUE, 30 },
		{ "[hotadd]\nunplug_delay_s=86400\n", TRUE, 86400 },
	};
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "[hotadd]\nunplug_delay_s=-1\n",
		  "dmemd.conf: [hotadd] unplug_delay_s=-1: must not be negative (valid: 0..86400)" },
		{ "[hotadd]\nunplug_delay_s=86401\n",
		  "dmemd.conf: [hotadd] unplug_delay_s=86401: must be between 0 and 86400" },
		{ "[hotadd]\nunplug_delay_s=99999999999999999999999\n",
		  "dmemd.conf: [hotadd] unplug_delay_s=99999999999999999999999: must be between 0 and 86400" },
		{ "[hotadd]\nunplug_delay_s=never\n",
		  "dmemd.conf: [hotadd] unplug_delay_s=never: not a whole number (valid: 0..86400)" },
		{ "[hotadd]\nunplug_delay_s=60s\n",
		  "dmemd.conf: [hotadd] unplug_delay_s=60s: not a whole number (valid: 0..86400)" },
		{ "[hotadd]\nunplug_delay_s=shrink_delay_s\n",
		  "dmemd.conf: [hotadd] unplug_delay_s=shrink_delay_s: not a whole number (valid: 0..86400)" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GError) error = NULL;
		DmemConfig cfg;

		g_test_message("%s", good[i].text);
		dmem_config_init(&cfg);
		g_assert_true(load(good[i].text, &cfg, &error));
		g_assert_no_error(error);
		g_assert_cmpint(cfg.unplug_delay_set, ==, good[i].set);
		if (good[i].set)
			g_assert_cmpuint(cfg.unplug_delay_s, ==, good[i].delay_s);
		g_assert_cmpuint(dmem_config_unplug_delay_s(&cfg), ==, good[i].delay_s);
		dmem_config_clear(&cfg);
	}
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		DmemConfig cfg;

		g_test_message("%s", bad[i].text);
		dmem_config_init(&cfg);
		g_assert_false(load(bad[i].text, &cfg, &error));
		g_assert_true(error->domain == DMEM_ERROR);
		g_test_message("-> %s", error->message);
		g_assert_cmpstr(error->message, ==, bad[i].msg);
		assert_defaults(&cfg);	/* untouched on error */
		dmem_config_clear(&cfg);
	}
}

static void test_unknown(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "[daemon]\nurl=qemu:///system\n",
		  "dmemd.conf: [daemon] unknown key 'url' (known keys: uri, interval_ms, state_file, metrics_file)" },
		{ "[policy]\nweigth=5\n",
		  "dmemd.conf: [policy] unknown key 'weigth' (known keys: buffer_percent, weight, host_reserve_mib, host_pool_mib, shrink_delay_s, max_shrink_mib_per_s, reclaim_unresponsive_s, cache_aware, cache_probe_s, cache_reprobe_s)" },
		{ "[hotadd]\ndimm_size=256\n",
		  "dmemd.conf: [hotadd] unknown key 'dimm_size' (known keys: dimm_size_mib, unplug, unplug_delay_s)" },
		{ "[hotadd]\nunplug_delay=60\n",
		  "dmemd.conf: [hotadd] unknown key 'unplug_delay'" },
		/* a hot-remove key is [hotadd]'s, not [policy]'s */
		{ "[policy]\nunplug=no\n",
		  "dmemd.conf: [policy] unknown key 'unplug'" },
		/* a key in the wrong group is unknown there */
		{ "[daemon]\nweight=5\n",
		  "dmemd.conf: [daemon] unknown key 'weight'" },
		{ "[hotplug]\ndimm_size_mib=256\n",
		  "dmemd.conf: unknown group [hotplug] (known groups: [daemon], [policy], [hotadd])" },
		{ "[Daemon]\n", "unknown group [Daemon]" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		DmemConfig cfg;

		dmem_config_init(&cfg);
		g_assert_false(load(cases[i].text, &cfg, &error));
		g_assert_error(error, DMEM_ERROR, DMEM_ERROR_UNKNOWN);
		g_test_message("-> %s", error->message);
		g_assert_nonnull(strstr(error->message, cases[i].msg));
		dmem_config_clear(&cfg);
	}
}

static void test_state_file(void)
{
	g_autoptr(GError) error = NULL;
	DmemConfig cfg;

	dmem_config_init(&cfg);
	g_assert_true(load("[daemon]\nstate_file=/tmp/dmemd/state\n", &cfg, &error));
	g_assert_cmpstr(cfg.state_file, ==, "/tmp/dmemd/state");
	g_assert_false(load("[daemon]\nstate_file=state\n", &cfg, &error));
	g_assert_nonnull(strstr(error->message,
				"[daemon] state_file=state: must be an absolute path"));
	g_assert_cmpstr(cfg.state_file, ==, "/tmp/dmemd/state");
	dmem_config_clear(&cfg);
}

/* Off unless set; an absolute path to a *.prom file, or a clear error. */
static void test_metrics_file(void)
{
	static const struct {
		const char *text;
		const char *want;	/* NULL: off */
		const char *msg;	/* an error */
	} cases[] = {
		{ "[daemon]\nmetrics_file=/var/lib/prometheus/node-exporter/dmem.prom\n",
		  "/var/lib/prometheus/node-exporter/dmem.prom", NULL },
		{ "[daemon]\nmetrics_file=\n", NULL, NULL },
		{ "[daemon]\nmetrics_file=   \n", NULL, NULL },
		{ "[daemon]\nmetrics_file = /tmp/x.prom  \n", "/tmp/x.prom", NULL },
		{ "[daemon]\nmetrics_file=dmem.prom\n", NULL,
		  "dmemd.conf: [daemon] metrics_file=dmem.prom: must be an absolute path" },
		{ "[daemon]\nmetrics_file=/var/lib/prometheus/node-exporter/dmem.txt\n", NULL,
		  "dmemd.conf: [daemon] metrics_file=/var/lib/prometheus/node-exporter/dmem.txt: "
		  "must end in .prom (node_exporter's textfile collector reads only *.prom files)" },
		{ "[daemon]\nmetrics_file=/var/lib/prometheus/node-exporter/\n", NULL,
		  "metrics_file=/var/lib/prometheus/node-exporter/: must end in .prom" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		DmemConfig cfg;

		dmem_config_init(&cfg);
		g_test_message("%s", cases[i].text);
		if (cases[i].msg) {
			g_assert_false(load(cases[i].text, &cfg, &error));
			g_assert_error(error, DMEM_ERROR, DMEM_ERROR_INVALID);
			g_test_message("-> %s", error->message);
			g_assert_nonnull(strstr(error->message, cases[i].msg));
			assert_defaults(&cfg);
		} else {
			g_assert_true(load(cases[i].text, &cfg, &error));
			g_assert_no_error(error);
			g_assert_cmpstr(cfg.metrics_file, ==, cases[i].want);
		}
		dmem_config_clear(&cfg);
	}
}

/* The shipped dmemd.conf loads to the defaults and shows every key's default. */
static void test_shipped_config(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_path_get_dirname(__FILE__);
	g_autofree char *path = g_build_filename(dir, "dist", "dmemd.conf", NULL);
	g_autofree char *text = NULL;
	g_autofree char *defaults = NULL;
	g_auto(GStrv) lines = NULL;
	DmemConfig cfg;

	dmem_config_init(&cfg);
	g_assert_true(dmem_config_load_file(&cfg, path, TRUE, &error));
	g_assert_no_error(error);
	assert_defaults(&cfg);
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	defaults = dmem_config_to_string(&cfg);
	lines = g_strsplit(defaults, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_autofree char *commented = g_strdup_printf("\n#%s\n", *l);

		if (**l == '\0' || **l == '[')
			continue;
		if (!strstr(text, commented))
			g_error("%s does not show the default '%s'", path, *l);
	}
	dmem_config_clear(&cfg);
}

static void test_malformed(void)
{
	static const char *const texts[] = {
		"weight=5\n",			/* key outside any group */
		"[policy\nweight=5\n",		/* unterminated group */
		"[policy]\nthis is not a key\n",
		"[policy]\n=5\n",
		"\xff\xfe[policy]\n",		/* not UTF-8 */
	};

	for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autoptr(GError) error = NULL;
		DmemConfig cfg;

		dmem_config_init(&cfg);
		g_assert_false(load(texts[i], &cfg, &error));
		g_assert_error(error, DMEM_ERROR, DMEM_ERROR_INVALID);
		g_test_message("-> %s", error->message);
		g_assert_true(g_str_has_prefix(error->message, "dmemd.conf: malformed: "));
		assert_defaults(&cfg);
		dmem_config_clear(&cfg);
	}
}

/* The first problem in file order is the one reported. */
static void test_first_error_wins(void)
{
	g_autoptr(GError) error = NULL;
	DmemConfig cfg;

	dmem_config_init(&cfg);
	g_assert_false(load("[policy]\nweight=abc\nbuffer_percent=-1\n[nope]\n",
			    &cfg, &error));
	g_assert_true(g_str_has_prefix(error->message,
				       "dmemd.conf: [policy] weight=abc: "));
	dmem_config_clear(&cfg);
}

static void test_whitespace_tolerated(void)
{
	g_autoptr(GError) error = NULL;
	DmemConfig cfg;

	dmem_config_init(&cfg);
	g_assert_true(load("[policy]\nweight = 42   \n", &cfg, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(cfg.weight, ==, 42);
	dmem_config_clear(&cfg);
}

static void test_files(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("test-config-XXXXXX", NULL);
	g_autofree char *missing = g_build_filename(dir, "missing.conf", NULL);
	g_autofree char *good = g_build_filename(dir, "good.conf", NULL);
	g_autofree char *bad = g_build_filename(dir, "bad.conf", NULL);
	DmemConfig cfg;

	g_assert_nonnull(dir);
	g_assert_true(g_file_set_contents(good, "[policy]\nweight=9\n", -1, NULL));
	g_assert_true(g_file_set_contents(bad, "[hotadd]\ndimm_size_mib=100\n", -1, NULL));

	dmem_config_init(&cfg);
	cfg.weight = 1;	/* an optional, absent file resets to defaults */
	g_assert_true(dmem_config_load_file(&cfg, missing, FALSE, &error));
	g_assert_no_error(error);
	assert_defaults(&cfg);

	/* A file named explicitly must exist. */
	g_assert_false(dmem_config_load_file(&cfg, missing, TRUE, &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, missing));
	g_clear_error(&error);

	g_assert_true(dmem_config_load_file(&cfg, good, TRUE, &error));
	g_assert_cmpuint(cfg.weight, ==, 9);

	/* Errors name the file by its path. */
	g_assert_false(dmem_config_load_file(&cfg, bad, FALSE, &error));
	g_assert_true(g_str_has_prefix(error->message, bad));
	g_assert_nonnull(strstr(error->message, "dimm_size_mib=100: must be a multiple of 128 MiB"));
	g_assert_cmpuint(cfg.weight, ==, 9);	/* kept on error */
	g_clear_error(&error);

	/* A directory is not a config file, even an optional one. */
	g_assert_false(dmem_config_load_file(&cfg, dir, FALSE, &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_FAILED);
	g_clear_error(&error);

	dmem_config_clear(&cfg);
	g_unlink(good);
	g_unlink(bad);
	g_rmdir(dir);
}

static void test_to_string_roundtrip(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;
	DmemConfig a, b;

	dmem_config_init(&a);
	g_assert_true(load("[daemon]\nuri=test:///default\ninterval_ms=250\n"
			   "metrics_file=/tmp/m.prom\n"
			   "[policy]\nhost_pool_mib=4096\nreclaim_unresponsive_s=17\n"
			   "[hotadd]\ndimm_size_mib=384\nunplug=no\nunplug_delay_s=90\n",
			   &a, &error));
	text = dmem_config_to_string(&a);
	dmem_config_init(&b);
	g_assert_true(load(text, &b, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(a.uri, ==, b.uri);
	g_assert_cmpuint(a.interval_ms, ==, b.interval_ms);
	g_assert_cmpuint(a.host_pool_kib, ==, b.host_pool_kib);
	g_assert_cmpuint(a.dimm_size_kib, ==, b.dimm_size_kib);
	g_assert_cmpuint(a.weight, ==, b.weight);
	g_assert_cmpstr(b.metrics_file, ==, "/tmp/m.prom");
	g_assert_cmpuint(b.reclaim_unresponsive_s, ==, 17);
	g_assert_false(b.unplug);
	g_assert_true(b.unplug_delay_set);
	g_assert_cmpuint(b.unplug_delay_s, ==, 90);
	g_free(text);

	/* A delay of 0 is a value, not "empty". */
	a.unplug_delay_s = 0;
	text = dmem_config_to_string(&a);
	g_assert_nonnull(strstr(text, "\nunplug_delay_s=0\n"));
	g_assert_true(load(text, &b, &error));
	g_assert_true(b.unplug_delay_set);
	g_assert_cmpuint(dmem_config_unplug_delay_s(&b), ==, 0);
	g_free(text);

	/* Unset: written as an empty value, read back as following shrink_delay_s. */
	a.unplug = TRUE;
	a.unplug_delay_set = FALSE;
	a.shrink_delay_s = 45;
	text = dmem_config_to_string(&a);
	g_assert_nonnull(strstr(text, "\nunplug=yes\n"));
	g_assert_nonnull(strstr(text, "\nunplug_delay_s=\n"));
	g_assert_true(load(text, &b, &error));
	g_assert_true(b.unplug);
	g_assert_false(b.unplug_delay_set);
	g_assert_cmpuint(dmem_config_unplug_delay_s(&b), ==, 45);
	g_free(text);

	/* Metrics off: written as an empty value, read back as off. */
	g_clear_pointer(&a.metrics_file, g_free);
	text = dmem_config_to_string(&a);
	g_assert_nonnull(strstr(text, "\nmetrics_file=\n"));
	g_assert_true(load(text, &b, &error));
	g_assert_null(b.metrics_file);
	dmem_config_clear(&a);
	dmem_config_clear(&b);
}

static void test_copy(void)
{
	DmemConfig a, b;

	dmem_config_init(&a);
	a.metrics_file = g_strdup("/tmp/m.prom");
	a.unplug = FALSE;
	a.unplug_delay_set = TRUE;
	a.unplug_delay_s = 7;
	dmem_config_copy(&b, &a);
	g_assert_false(b.unplug);
	g_assert_true(b.unplug_delay_set);
	g_assert_cmpuint(b.unplug_delay_s, ==, 7);
	g_assert_true(a.uri != b.uri);
	g_assert_cmpstr(a.uri, ==, b.uri);
	g_assert_true(a.metrics_file != b.metrics_file);
	g_assert_cmpstr(a.metrics_file, ==, b.metrics_file);
	dmem_config_clear(&a);
	dmem_config_clear(&b);
	g_assert_null(b.uri);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/defaults", test_defaults);
	g_test_add_func("/config/state-file", test_state_file);
	g_test_add_func("/config/metrics-file", test_metrics_file);
	g_test_add_func("/config/shipped", test_shipped_config);
	g_test_add_func("/config/empty-and-comments", test_empty_and_comments);
	g_test_add_func("/config/all-keys", test_all_keys);
	g_test_add_func("/config/ranges", test_ranges);
	g_test_add_func("/config/bad-types", test_bad_types);
	g_test_add_func("/config/unplug-delay", test_unplug_delay);
	g_test_add_func("/config/unknown", test_unknown);
	g_test_add_func("/config/malformed", test_malformed);
	g_test_add_func("/config/first-error-wins", test_first_error_wins);
	g_test_add_func("/config/whitespace", test_whitespace_tolerated);
	g_test_add_func("/config/files", test_files);
	g_test_add_func("/config/to-string", test_to_string_roundtrip);
	g_test_add_func("/config/copy", test_copy);
	return g_test_run();
}
