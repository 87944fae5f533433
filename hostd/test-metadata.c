// SPDX-License-Identifier: GPL-2.0-or-later
/* test-metadata.c - unit tests for metadata.c */
#include <string.h>

#include <glib.h>

#include "error.h"
#include "metadata.h"

static void test_full(void)
{
	g_autoptr(GError) error = NULL;
	DmemMetadata md;

	g_assert_true(dmem_metadata_parse(
		"<dmem minimum=\"1024\" buffer=\"20\" weight=\"5000\" enabled=\"yes\"/>",
		&md, &error));
	g_assert_no_error(error);
	g_assert_true(md.has_minimum && md.minimum_mib == 1024);
	g_assert_true(md.has_buffer && md.buffer_percent == 20);
	g_assert_true(md.has_weight && md.weight == 5000);
	g_assert_true(md.has_enabled && md.enabled);
	g_assert_false(md.has_cache || md.has_unplug);

	g_assert_true(dmem_metadata_parse(
		"<dmem cache=\"ignore\" unplug=\"no\"/>", &md, &error));
	g_assert_no_error(error);
	g_assert_true(md.has_cache && md.cache_ignore);
	g_assert_true(md.has_unplug && !md.unplug);
	g_assert_false(md.has_minimum || md.has_buffer || md.has_weight ||
		       md.has_enabled);
}

static void test_as_libvirt_returns_it(void)
{
	static const char *const forms[] = {
		/* virsh metadata ... --key dmem stores a prefixed element */
		"<dmem:dmem xmlns:dmem=\"urn:dmem:1\" minimum=\"2048\" enabled=\"no\"/>",
		"<dmem xmlns=\"urn:dmem:1\" minimum=\"2048\" enabled=\"no\"/>",
		"<dmem xmlns=\"urn:dmem:1\" minimum=\"2048\" enabled=\"no\"></dmem>",
		"\n  <dmem minimum='2048' enabled='no'>\n  </dmem>\n",
		"<?xml version=\"1.0\"?><dmem minimum=\"2G\" enabled=\"no\"/>",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(forms); i++) {
		g_autoptr(GError) error = NULL;
		DmemMetadata md;

		g_test_message("%s", forms[i]);
		g_assert_true(dmem_metadata_parse(forms[i], &md, &error));
		g_assert_no_error(error);
		g_assert_true(md.has_minimum && md.minimum_mib == 2048);
		g_assert_true(md.has_enabled && !md.enabled);
		g_assert_false(md.has_buffer || md.has_weight);
	}
}

static void test_empty_element(void)
{
	g_autoptr(GError) error = NULL;
	DmemMetadata md;

	g_assert_true(dmem_metadata_parse("<dmem/>", &md, &error));
	g_assert_false(md.has_minimum || md.has_buffer || md.has_weight ||
		       md.has_enabled || md.has_cache || md.has_unplug);
}

static void test_values(void)
{
	static const struct {
		const char *xml;
		gboolean ok;
		const char *msg;
	} cases[] = {
		{ "<dmem minimum=\"1\"/>", TRUE, NULL },
		{ "<dmem minimum=\"1536MiB\"/>", TRUE, NULL },
		{ "<dmem buffer=\"0\"/>", TRUE, NULL },
		{ "<dmem buffer=\"1000\"/>", TRUE, NULL },
		{ "<dmem buffer=\"35%\"/>", TRUE, NULL },
		{ "<dmem weight=\"0\"/>", TRUE, NULL },
		{ "<dmem weight=\"10000\"/>", TRUE, NULL },
		{ "<dmem minimum=\"0\"/>", FALSE,
		  "invalid dmem metadata: minimum=0: the minimum must be at least 1 MiB" },
		{ "<dmem minimum=\"-1\"/>", FALSE, "minimum=-1: a size must not be negative" },
		{ "<dmem minimum=\"lots\"/>", FALSE, "minimum=lots: not a size" },
		{ "<dmem minimum=\"1000K\"/>", FALSE, "minimum=1000K: not a whole number of MiB" },
		{ "<dmem minimum=\"9999999999999\"/>", FALSE, "minimum=9999999999999: too large" },
		{ "<dmem minimum=\"\"/>", FALSE, "minimum=: empty size" },
		{ "<dmem buffer=\"1001\"/>", FALSE,
		  "buffer=1001: must be a percentage between 0 and 1000" },
		{ "<dmem buffer=\"-1\"/>", FALSE, "buffer=-1: must be a percentage" },
		{ "<dmem buffer=\"%\"/>", FALSE, "buffer=%: must be a percentage" },
		{ "<dmem weight=\"10001\"/>", FALSE,
		  "weight=10001: must be between 0 and 10000" },
		{ "<dmem weight=\"high\"/>", FALSE, "weight=high: not a whole number" },
		{ "<dmem weight=\"1.5\"/>", FALSE, "weight=1.5: not a whole number" },
		{ "<dmem enabled=\"true\"/>", FALSE, "enabled=true: must be 'yes' or 'no'" },
		{ "<dmem enabled=\"YES\"/>", FALSE, "enabled=YES: must be 'yes' or 'no'" },
		{ "<dmem minimun=\"1024\"/>", FALSE,
		  "unknown attribute 'minimun' (known: minimum, buffer, weight, enabled, cache, unplug)" },
		{ "<dmem unplugged=\"no\"/>", FALSE,
		  "unknown attribute 'unplugged' (known: minimum, buffer, weight, enabled, cache, unplug)" },
		{ "<dmem cache=\"protect\"/>", TRUE, NULL },
		{ "<dmem cache=\"ignore\"/>", TRUE, NULL },
		{ "<dmem cache=\"no\"/>", FALSE, "cache=no: must be 'protect' or 'ignore'" },
		{ "<dmem unplug=\"yes\"/>", TRUE, NULL },
		{ "<dmem unplug=\"no\"/>", TRUE, NULL },
		{ "<dmem unplug=\"false\"/>", FALSE, "unplug=false: must be 'yes' or 'no'" },
		{ "<dmem unplug=\"No\"/>", FALSE, "unplug=No: must be 'yes' or 'no'" },
		{ "<dmem unplug=\"0\"/>", FALSE, "unplug=0: must be 'yes' or 'no'" },
		{ "<dmem unplug=\"\"/>", FALSE, "unplug=: must be 'yes' or 'no'" },
		{ "<dmem unplug=\"no\" unplug=\"yes\"/>", FALSE,
		  "attribute 'unplug' given twice" },
		{ "<dmem><x/></dmem>", FALSE, "unexpected element <x> inside <dmem>" },
		{ "<dmem>text</dmem>", FALSE, "unexpected text inside <dmem>" },
		{ "<other weight=\"1\"/>", FALSE, "expected <dmem>, found <other>" },
		{ "", FALSE, "invalid dmem metadata: " },
		{ "   ", FALSE, "Document was empty" },
		{ "<!-- only a comment -->", FALSE, "invalid dmem metadata: " },
		{ "<dmem", FALSE, "invalid dmem metadata: " },
		{ "<dmem weight=\"1\" weight=\"2\"/>", FALSE, "attribute 'weight' given twice" },
		{ "<dmem weight=\"1\">", FALSE, "invalid dmem metadata: " },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		DmemMetadata md = { .has_weight = TRUE, .weight = 77 };

		g_test_message("%s", cases[i].xml);
		g_assert_cmpint(dmem_metadata_parse(cases[i].xml, &md, &error),
				==, cases[i].ok);
		if (cases[i].ok) {
			g_assert_no_error(error);
			continue;
		}
		g_assert_nonnull(error);
		g_test_message("-> %s", error->message);
		g_assert_true(g_str_has_prefix(error->message, "invalid dmem metadata: "));
		g_assert_nonnull(strstr(error->message, cases[i].msg));
		/* untouched on error */
		g_assert_true(md.has_weight && md.weight == 77);
	}
}

static void test_format(void)
{
	DmemMetadata md = { 0 };
	g_autofree char *empty = dmem_metadata_format(&md);
	g_autofree char *full = NULL;
	g_autofree char *some = NULL;

	g_assert_cmpstr(empty, ==, "<dmem/>");
	md = (DmemMetadata) {
		.has_minimum = TRUE, .minimum_mib = 1024,
		.has_buffer = TRUE, .buffer_percent = 20,
		.has_weight = TRUE, .weight = 5000,
		.has_enabled = TRUE, .enabled = TRUE,
	};
	full = dmem_metadata_format(&md);
	g_assert_cmpstr(full, ==,
			"<dmem minimum=\"1024\" buffer=\"20\" weight=\"5000\" enabled=\"yes\"/>");
	md.has_minimum = md.has_buffer = FALSE;
	md.enabled = FALSE;
	some = dmem_metadata_format(&md);
	g_assert_cmpstr(some, ==, "<dmem weight=\"5000\" enabled=\"no\"/>");
	g_free(some);

	md.has_weight = md.has_enabled = FALSE;
	md.has_unplug = TRUE;
	md.unplug = FALSE;
	some = dmem_metadata_format(&md);
	g_assert_cmpstr(some, ==, "<dmem unplug=\"no\"/>");
	g_free(some);
	md.unplug = TRUE;
	md.has_cache = TRUE;
	md.cache_ignore = TRUE;
	some = dmem_metadata_format(&md);
	g_assert_cmpstr(some, ==, "<dmem cache=\"ignore\" unplug=\"yes\"/>");
}

static void test_roundtrip_random(void)
{
	for (int i = 0; i < 5000; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *xml = NULL;
		DmemMetadata in = {
			.has_minimum = g_test_rand_bit(),
			.minimum_mib = g_test_rand_int_range(1, G_MAXINT32),
			.has_buffer = g_test_rand_bit(),
			.buffer_percent = g_test_rand_int_range(0, 1001),
			.has_weight = g_test_rand_bit(),
			.weight = g_test_rand_int_range(0, 10001),
			.has_enabled = g_test_rand_bit(),
			.enabled = g_test_rand_bit(),
			.has_unplug = g_test_rand_bit(),
			.unplug = g_test_rand_bit(),
		}, out;

		xml = dmem_metadata_format(&in);
		g_assert_true(dmem_metadata_parse(xml, &out, &error));
		g_assert_no_error(error);
		g_assert_cmpint(in.has_minimum, ==, out.has_minimum);
		g_assert_cmpint(in.has_buffer, ==, out.has_buffer);
		g_assert_cmpint(in.has_weight, ==, out.has_weight);
		g_assert_cmpint(in.has_enabled, ==, out.has_enabled);
		g_assert_cmpint(in.has_unplug, ==, out.has_unplug);
		if (in.has_minimum)
			g_assert_cmpuint(in.minimum_mib, ==, out.minimum_mib);
		if (in.has_buffer)
			g_assert_cmpuint(in.buffer_percent, ==, out.buffer_percent);
		if (in.has_weight)
			g_assert_cmpuint(in.weight, ==, out.weight);
		if (in.has_enabled)
			g_assert_cmpint(in.enabled, ==, out.enabled);
		if (in.has_unplug)
			g_assert_cmpint(in.unplug, ==, out.unplug);
	}
}

/* Arbitrary bytes never crash the parser and never half-fill the result. */
static void test_garbage(void)
{
	static const char alphabet[] = "<>/=\"' dmeinubfrwghtyso0123456789:x&;%";

	for (int i = 0; i < 20000; i++) {
		char buf[48];
		gsize len = g_test_rand_int_range(0, sizeof(buf));
		DmemMetadata md = { 0 };

		for (gsize j = 0; j < len; j++)
			buf[j] = alphabet[g_test_rand_int_range(0, sizeof(alphabet) - 1)];
		buf[len] = '\0';
		if (!dmem_metadata_parse(buf, &md, NULL))
			g_assert_false(md.has_minimum || md.has_buffer ||
				       md.has_weight || md.has_enabled ||
				       md.has_cache || md.has_unplug);
	}
}

static void test_merge(void)
{
	DmemMetadata md = {
		.has_minimum = TRUE, .minimum_mib = 1024,
		.has_weight = TRUE, .weight = 10,
	};
	DmemMetadata update = {
		.has_weight = TRUE, .weight = 20,
		.has_enabled = TRUE, .enabled = FALSE,
		.has_unplug = TRUE, .unplug = FALSE,
	};

	dmem_metadata_merge(&md, &update);
	g_assert_true(md.has_minimum && md.minimum_mib == 1024);
	g_assert_false(md.has_buffer);
	g_assert_true(md.has_weight && md.weight == 20);
	g_assert_true(md.has_enabled && !md.enabled);
	g_assert_true(md.has_unplug && !md.unplug);

	/* An update without unplug keeps it; one with it replaces it. */
	update = (DmemMetadata) { .has_weight = TRUE, .weight = 30 };
	dmem_metadata_merge(&md, &update);
	g_assert_true(md.has_unplug && !md.unplug);
	update = (DmemMetadata) { .has_unplug = TRUE, .unplug = TRUE };
	dmem_metadata_merge(&md, &update);
	g_assert_true(md.has_unplug && md.unplug);
	g_assert_true(md.has_weight && md.weight == 30);
}

/* dmemctl's path: one attribute by name, validated like the element's. */
static void test_set(void)
{
	DmemMetadata md = { 0 };
	GError *error = NULL;

	g_assert_true(dmem_metadata_set(&md, "unplug", "no", &error));
	g_assert_no_error(error);
	g_assert_true(md.has_unplug && !md.unplug);
	g_assert_true(dmem_metadata_set(&md, "unplug", "yes", &error));
	g_assert_true(md.has_unplug && md.unplug);
	g_assert_false(md.has_minimum || md.has_buffer || md.has_weight ||
		       md.has_enabled || md.has_cache);

	g_assert_false(dmem_metadata_set(&md, "unplug", "off", &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_INVALID);
	g_assert_cmpstr(error->message, ==, "off: must be 'yes' or 'no'");
	g_clear_error(&error);

	g_assert_false(dmem_metadata_set(&md, "hotremove", "no", &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_UNKNOWN);
	g_assert_cmpstr(error->message, ==,
			"unknown attribute 'hotremove' (known: minimum, buffer, weight, enabled, cache, unplug)");
	g_clear_error(&error);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/metadata/full", test_full);
	g_test_add_func("/metadata/libvirt-forms", test_as_libvirt_returns_it);
	g_test_add_func("/metadata/empty", test_empty_element);
	g_test_add_func("/metadata/values", test_values);
	g_test_add_func("/metadata/format", test_format);
	g_test_add_func("/metadata/roundtrip", test_roundtrip_random);
	g_test_add_func("/metadata/garbage", test_garbage);
	g_test_add_func("/metadata/merge", test_merge);
	g_test_add_func("/metadata/set", test_set);
	return g_test_run();
}
