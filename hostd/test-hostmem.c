// SPDX-License-Identifier: GPL-2.0-or-later
/* test-hostmem.c - unit tests for hostmem.c */
#include <glib.h>

#include "error.h"
#include "hostmem.h"

static const char meminfo[] =
	"MemTotal:       24683968 kB\n"
	"MemFree:        24183240 kB\n"
	"MemAvailable:   24270160 kB\n"
	"Buffers:           2124 kB\n"
	"HugePages_Total:       0\n";

static void test_parse(void)
{
	g_autoptr(GError) error = NULL;
	dmem_kib_t kib = 0;

	g_assert_true(dmem_meminfo_parse(meminfo, "MemAvailable", &kib, &error));
	g_assert_cmpuint(kib, ==, 24270160);
	g_assert_true(dmem_meminfo_parse(meminfo, "MemTotal", &kib, &error));
	g_assert_cmpuint(kib, ==, 24683968);
	g_assert_true(dmem_meminfo_parse(meminfo, "HugePages_Total", &kib, &error));
	g_assert_cmpuint(kib, ==, 0);
	/* A prefix of a field is not the field. */
	g_assert_false(dmem_meminfo_parse(meminfo, "Mem", &kib, &error));
	g_clear_error(&error);
	g_assert_false(dmem_meminfo_parse("MemAvailable: lots kB\n", "MemAvailable",
					  &kib, &error));
	g_assert_nonnull(g_strrstr(error->message, "cannot parse"));
	g_clear_error(&error);
	g_assert_false(dmem_meminfo_parse("MemAvailable: 12 MB\n", "MemAvailable",
					  &kib, &error));
	g_clear_error(&error);
	g_assert_false(dmem_meminfo_parse("", "MemAvailable", &kib, &error));
	g_assert_nonnull(g_strrstr(error->message, "no MemAvailable"));
}

static void test_proc(void)
{
	g_autoptr(GError) error = NULL;
	dmem_kib_t kib = 0;

	g_assert_true(dmem_host_available_kib(DMEM_PROC_MEMINFO, &kib, &error));
	g_assert_cmpuint(kib, >, 0);
	g_assert_false(dmem_host_available_kib("/nonexistent/meminfo", &kib, &error));
	g_assert_error(error, DMEM_ERROR, DMEM_ERROR_NOT_FOUND);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/hostmem/parse", test_parse);
	g_test_add_func("/hostmem/proc", test_proc);
	return g_test_run();
}
