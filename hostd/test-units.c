// SPDX-License-Identifier: GPL-2.0-or-later
/* test-units.c - unit tests for units.c */
#include <string.h>

#include <glib.h>

#include "error.h"
#include "units.h"

static void test_size_valid(void)
{
	static const struct {
		const char *text;
		dmem_kib_t kib;
	} cases[] = {
		{ "1024", 1024 * 1024 },	/* bare number: MiB */
		{ "0", 0 },
		{ "512M", 512 * 1024 },
		{ "512m", 512 * 1024 },
		{ "1536MiB", 1536 * 1024 },
		{ "1536mib", 1536 * 1024 },
		{ "2G", 2 * 1024 * 1024 },
		{ "2GiB", 2 * 1024 * 1024 },
		{ "1.5G", 1536 * 1024 },
		{ "0.5M", 512 },
		{ "1.5", 1536 },		/* 1.5 MiB */
		{ "4096K", 4096 },
		{ "4096KiB", 4096 },
		{ "1T", 1024ULL * 1024 * 1024 },
		{ "1.3G", 1363149 },		/* rounded to the nearest KiB */
		{ "007M", 7 * 1024 },
		{ "4194304G", 4194304ULL * 1024 * 1024 },	/* the limit */
		{ "1.0000000000001G", 1024 * 1024 },	/* extra digits ignored */
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		dmem_kib_t kib = 1;

		g_test_message("%s", cases[i].text);
		g_assert_true(dmem_size_parse(cases[i].text, &kib, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(kib, ==, cases[i].kib);
	}
}

static void test_size_invalid(void)
{
	static const struct {
		const char *text;
		int code;
		const char *msg;	/* substring of the message */
	} cases[] = {
		{ "", DMEM_ERROR_INVALID, "empty size" },
		{ "abc", DMEM_ERROR_INVALID, "abc: not a size" },
		{ "-1", DMEM_ERROR_RANGE, "-1: a size must not be negative" },
		{ "-1G", DMEM_ERROR_RANGE, "negative" },
		{ "-0.5G", DMEM_ERROR_RANGE, "negative" },
		{ "+1G", DMEM_ERROR_INVALID, "not a size" },
		{ " 1G", DMEM_ERROR_INVALID, "not a size" },
		{ "1G ", DMEM_ERROR_INVALID, "unknown unit" },
		{ "1 G", DMEM_ERROR_INVALID, "not a size" },
		{ "1.G", DMEM_ERROR_INVALID, "not a size" },
		{ ".5G", DMEM_ERROR_INVALID, "not a size" },
		{ "1..5G", DMEM_ERROR_INVALID, "not a size" },
		{ "1e3", DMEM_ERROR_INVALID, "unknown unit 'e3'" },
		{ "0x10", DMEM_ERROR_INVALID, "unknown unit" },
		{ "2GB", DMEM_ERROR_INVALID, "ambiguous unit 'GB'" },
		{ "512mb", DMEM_ERROR_INVALID, "write M or MiB" },
		{ "1P", DMEM_ERROR_INVALID, "unknown unit 'P'" },
		{ "1Gi", DMEM_ERROR_INVALID, "unknown unit" },
		{ "4194305G", DMEM_ERROR_RANGE, "too large" },
		{ "4194304.5G", DMEM_ERROR_RANGE, "too large" },
		{ "5000T", DMEM_ERROR_RANGE, "too large" },
		{ "99999999999999999999999999", DMEM_ERROR_RANGE, "too large" },
		{ "18446744073709551615K", DMEM_ERROR_RANGE, "too large" },
		{ "18446744073709551616", DMEM_ERROR_RANGE, "too large" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		dmem_kib_t kib = 42;

		g_test_message("'%s'", cases[i].text);
		g_assert_false(dmem_size_parse(cases[i].text, &kib, &error));
		g_assert_error(error, DMEM_ERROR, cases[i].code);
		g_assert_nonnull(strstr(error->message, cases[i].msg));
		g_assert_true(g_str_has_prefix(error->message, cases[i].text));
		g_assert_cmpuint(kib, ==, 42);	/* untouched on error */
	}
}

static void test_size_mib(void)
{
	g_autoptr(GError) error = NULL;
	guint64 mib = 0;

	g_assert_true(dmem_size_parse_mib("2G", &mib, &error));
	g_assert_cmpuint(mib, ==, 2048);
	g_assert_true(dmem_size_parse_mib("1.5G", &mib, &error));
	g_assert_cmpuint(mib, ==, 1536);
	g_assert_true(dmem_size_parse_mib("2048K", &mib, &error));
	g_assert_cmpuint(mib, ==, 2);
	g_assert_no_error(error);

	g_assert_false(dmem_size_parse_mib("1000K", &mib, &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, "not a whole number of MiB"));
	g_clear_error(&error);
	g_assert_false(dmem_size_parse_mib("1.3G", &mib, &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_INVALID);
}

static void test_uint(void)
{
	g_autoptr(GError) error = NULL;
	guint64 v = 0;

	g_assert_true(dmem_uint_parse("0", 0, 10, &v, &error));
	g_assert_cmpuint(v, ==, 0);
	g_assert_true(dmem_uint_parse("10", 0, 10, &v, &error));
	g_assert_cmpuint(v, ==, 10);
	g_assert_true(dmem_uint_parse("18446744073709551615", 0, G_MAXUINT64,
				      &v, &error));
	g_assert_cmpuint(v, ==, G_MAXUINT64);
	g_assert_no_error(error);

	static const struct {
		const char *text;
		int code;
		const char *msg;
	} bad[] = {
		{ "11", DMEM_ERROR_RANGE, "11: must be between 0 and 10" },
		{ "-1", DMEM_ERROR_RANGE, "-1: must not be negative" },
		{ "abc", DMEM_ERROR_INVALID, "abc: not a whole number" },
		{ "1.5", DMEM_ERROR_INVALID, "not a whole number" },
		{ "5M", DMEM_ERROR_INVALID, "not a whole number" },
		{ " 5", DMEM_ERROR_INVALID, "not a whole number" },
		{ "5 ", DMEM_ERROR_INVALID, "not a whole number" },
		{ "+5", DMEM_ERROR_INVALID, "not a whole number" },
		{ "", DMEM_ERROR_INVALID, "empty value" },
		{ "99999999999999999999", DMEM_ERROR_RANGE, "must be between" },
	};
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("'%s'", bad[i].text);
		g_assert_false(dmem_uint_parse(bad[i].text, 0, 10, &v, &error));
		g_assert_error(error, DMEM_ERROR, bad[i].code);
		g_assert_nonnull(strstr(error->message, bad[i].msg));
		g_clear_error(&error);
	}
	g_assert_false(dmem_uint_parse("0", 1, 10, &v, &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_RANGE);
}

static void test_format(void)
{
	static const struct {
		dmem_kib_t kib;
		const char *text;
	} cases[] = {
		{ 0, "0 MiB" },
		{ 1, "1 KiB" },
		{ 1023, "1023 KiB" },
		{ 1024, "1 MiB" },
		{ 1536 * 1024, "1536 MiB" },
		{ 1536 * 1024 + 511, "1536 MiB" },
		{ 1536 * 1024 + 512, "1537 MiB" },
		{ DMEM_SIZE_MAX_KIB, "4294967296 MiB" },
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *s = dmem_size_format(cases[i].kib);

		g_assert_cmpstr(s, ==, cases[i].text);
	}
}

static void test_roundtrip(void)
{
	/* Any whole MiB printed by dmem_size_format parses back to itself. */
	for (int i = 0; i < 2000; i++) {
		guint64 mib = g_test_rand_int_range(0, G_MAXINT32);
		g_autofree char *s = dmem_size_format(dmem_mib_to_kib(mib));
		g_autofree char *compact = NULL;
		dmem_kib_t kib;

		g_assert_true(g_str_has_suffix(s, " MiB"));
		compact = g_strndup(s, strlen(s) - 4);
		g_assert_true(dmem_size_parse(compact, &kib, NULL));
		g_assert_cmpuint(kib, ==, dmem_mib_to_kib(mib));
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/units/size/valid", test_size_valid);
	g_test_add_func("/units/size/invalid", test_size_invalid);
	g_test_add_func("/units/size/mib", test_size_mib);
	g_test_add_func("/units/uint", test_uint);
	g_test_add_func("/units/format", test_format);
	g_test_add_func("/units/roundtrip", test_roundtrip);
	return g_test_run();
}
