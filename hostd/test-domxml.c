// SPDX-License-Identifier: GPL-2.0-or-later
/* test-domxml.c - unit tests for domxml.c */
#include <glib.h>

#include "domxml.h"
#include "error.h"

/* What libvirt 9.0 prints for a running test guest with one DIMM. */
static const char live_xml[] =
	"<domain type='qemu' id='3'>\n"
	"  <name>vm1</name>\n"
	"  <metadata><dmem:dmem xmlns:dmem=\"urn:dmem:1\" weight=\"1\"/></metadata>\n"
	"  <maxMemory slots='8' unit='KiB'>2097152</maxMemory>\n"
	"  <memory unit='KiB'>1048576</memory>\n"
	"  <currentMemory unit='KiB'>900000</currentMemory>\n"
	"  <!-- a comment -->\n"
	"  <cpu mode='custom'>\n"
	"    <numa><cell id='0' cpus='0' memory='786432' unit='KiB'/></numa>\n"
	"  </cpu>\n"
	"  <devices>\n"
	"    <disk type='file'><target dev='vda'/></disk>\n"
	"    <memballoon model='virtio' autodeflate='on'>\n"
	"      <stats period='1'/>\n"
	"      <alias name='balloon0'/>\n"
	"    </memballoon>\n"
	"    <memory model='dimm'>\n"
	"      <target><size unit='KiB'>262144</size><node>0</node></target>\n"
	"      <alias name='dimm0'/><address type='dimm' slot='0' base='0x100000000'/>\n"
	"    </memory>\n"
	"  </devices>\n"
	"</domain>\n";

static void test_live(void)
{
	g_autoptr(GError) error = NULL;
	DmemDomainXml x;

	g_assert_true(dmem_domxml_parse(live_xml, &x, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(x.memory_kib, ==, 1048576);
	g_assert_cmpuint(x.current_kib, ==, 900000);
	g_assert_cmpuint(x.max_memory_kib, ==, 2097152);
	g_assert_cmpuint(x.slots, ==, 8);
	g_assert_cmpuint(x.numa_cells, ==, 1);
	g_assert_true(x.has_balloon);
	g_assert_cmpstr(x.balloon_model, ==, "virtio");
	g_assert_cmpuint(x.stats_period_s, ==, 1);
	g_assert_cmpuint(x.dimms, ==, 1);
	g_assert_cmpuint(x.dimm_kib, ==, 262144);
}

static void test_minimal_and_units(void)
{
	g_autoptr(GError) error = NULL;
	DmemDomainXml x;

	/* No currentMemory: all of memory. MiB and GiB, no balloon. */
	g_assert_true(dmem_domxml_parse("<domain><memory unit='GiB'>2</memory></domain>",
					&x, &error));
	g_assert_cmpuint(x.memory_kib, ==, 2 * 1024 * 1024);
	g_assert_cmpuint(x.current_kib, ==, x.memory_kib);
	g_assert_false(x.has_balloon);
	g_assert_cmpstr(x.balloon_model, ==, "");
	g_assert_cmpuint(x.max_memory_kib, ==, 0);

	g_assert_true(dmem_domxml_parse("<domain><memory unit='b'>1073741824</memory>"
					"<currentMemory unit='M'>512</currentMemory>"
					"<devices><memballoon model='none'/></devices></domain>",
					&x, &error));
	g_assert_cmpuint(x.memory_kib, ==, 1024 * 1024);
	g_assert_cmpuint(x.current_kib, ==, 512 * 1024);
	g_assert_false(x.has_balloon);
	g_assert_cmpstr(x.balloon_model, ==, "none");

	/* A bare number is KiB; decimal units are decimal. */
	g_assert_true(dmem_domxml_parse("<domain><memory>4096</memory>"
					"<currentMemory unit='MB'>1</currentMemory></domain>",
					&x, &error));
	g_assert_cmpuint(x.memory_kib, ==, 4096);
	g_assert_cmpuint(x.current_kib, ==, 976);
}

/* <memory> elsewhere (a DIMM, a NUMA attribute) is not the domain's. */
static void test_paths(void)
{
	g_autoptr(GError) error = NULL;
	DmemDomainXml x;

	g_assert_true(dmem_domxml_parse(
		"<domain><devices><memory model='dimm'><target><size unit='MiB'>128"
		"</size></target></memory></devices><memory unit='MiB'>512</memory>"
		"<foo><memory>1</memory></foo></domain>", &x, &error));
	g_assert_cmpuint(x.memory_kib, ==, 512 * 1024);
	g_assert_cmpuint(x.dimms, ==, 1);
	g_assert_cmpuint(x.dimm_kib, ==, 128 * 1024);
}

static void expect_error(const char *xml, const char *fragment)
{
	g_autoptr(GError) error = NULL;
	DmemDomainXml x = { .memory_kib = 42 };

	g_assert_false(dmem_domxml_parse(xml, &x, &error));
	g_assert_nonnull(error);
	if (!g_strrstr(error->message, fragment))
		g_error("'%s' lacks '%s'", error->message, fragment);
	g_assert_cmpuint(x.memory_kib, ==, 42);	/* untouched */
}

static void test_errors(void)
{
	expect_error("", "empty");
	expect_error("<domain/>", "without <memory>");
	expect_error("<network/>", "not a domain XML");
	expect_error("<domain><memory unit='parsec'>1</memory></domain>", "unknown unit");
	expect_error("<domain><memory>lots</memory></domain>", "not a size");
	expect_error("<domain><memory>-1</memory></domain>", "not a size");
	expect_error("<domain><memory unit='TiB'>99999999999</memory></domain>", "too large");
	expect_error("<domain><memory>1</memory>", "domain XML");
	expect_error("<domain><maxMemory slots='x'>1</maxMemory><memory>1</memory></domain>",
		     "slots='x'");
	expect_error("<domain><memory>1</memory></domain><junk/>", "domain XML");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/domxml/live", test_live);
	g_test_add_func("/domxml/minimal-and-units", test_minimal_and_units);
	g_test_add_func("/domxml/paths", test_paths);
	g_test_add_func("/domxml/errors", test_errors);
	return g_test_run();
}
