// SPDX-License-Identifier: GPL-2.0-or-later
/* test-domxml.c - unit tests for domxml.c */
#include <string.h>

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
	g_assert_cmpuint(x.dimm_list_len, ==, 1);
	g_assert_cmpstr(x.dimm_list[0].alias, ==, "dimm0");
	g_assert_cmpint(x.dimm_list[0].slot, ==, 0);
	g_assert_true(dmem_domxml_newest_dimm(&x) == &x.dimm_list[0]);
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
	g_assert_cmpuint(x.dimm_list_len, ==, 1);
	g_assert_cmpuint(x.dimm_list[0].size_kib, ==, 128 * 1024);

	/*
	 * The domain's <memory> right after a DIMM is neither a device nor
	 * its size; <memory> and <alias> outside devices/memory are not
	 * devices or their aliases.
	 */
	g_assert_true(dmem_domxml_parse(
		"<domain><devices>"
		"<memory model='dimm'><target><size unit='MiB'>256</size></target>"
		"<alias name='dimm0'/></memory>"
		"<memballoon model='virtio'><alias name='balloon0'/></memballoon>"
		"<foo><memory model='dimm'><alias name='foo0'/></memory></foo>"
		"</devices>"
		"<memory unit='MiB'>1024</memory>"
		"<numa><memory model='dimm'/></numa>"
		"</domain>", &x, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(x.memory_kib, ==, 1024 * 1024);
	g_assert_cmpuint(x.dimms, ==, 1);
	g_assert_cmpuint(x.dimm_kib, ==, 256 * 1024);
	g_assert_cmpuint(x.dimm_list_len, ==, 1);
	g_assert_cmpstr(x.dimm_list[0].alias, ==, "dimm0");
	g_assert_cmpuint(x.dimm_list[0].size_kib, ==, 256 * 1024);
}

/* The live XML of libvirt 9.0 with two hot-added DIMMs (verbatim). */
static const char two_dimms_xml[] =
	"<domain type='kvm' id='7'>\n"
	"  <name>vm2</name>\n"
	"  <maxMemory slots='16' unit='KiB'>8388608</maxMemory>\n"
	"  <memory unit='KiB'>1572864</memory>\n"
	"  <currentMemory unit='KiB'>1572864</currentMemory>\n"
	"  <devices>\n"
	"    <memballoon model='virtio'><alias name='balloon0'/></memballoon>\n"
	"    <memory model='dimm'>\n"
	"      <target>\n"
	"        <size unit='KiB'>262144</size>\n"
	"        <node>0</node>\n"
	"      </target>\n"
	"      <alias name='dimm0'/>\n"
	"      <address type='dimm' slot='0' base='0x100000000'/>\n"
	"    </memory>\n"
	"    <memory model='dimm'>\n"
	"      <target>\n"
	"        <size unit='KiB'>262144</size>\n"
	"        <node>0</node>\n"
	"      </target>\n"
	"      <alias name='dimm1'/>\n"
	"      <address type='dimm' slot='1' base='0x110000000'/>\n"
	"    </memory>\n"
	"  </devices>\n"
	"</domain>\n";

static void test_dimms_live(void)
{
	g_autoptr(GError) error = NULL;
	DmemDomainXml x;
	const DmemDimm *newest;

	g_assert_true(dmem_domxml_parse(two_dimms_xml, &x, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(x.memory_kib, ==, 1572864);
	g_assert_cmpuint(x.dimms, ==, 2);
	g_assert_cmpuint(x.dimm_kib, ==, 2 * 262144);
	g_assert_cmpuint(x.dimm_list_len, ==, 2);
	for (guint i = 0; i < 2; i++) {
		g_autofree char *alias = g_strdup_printf("dimm%u", i);

		g_assert_cmpstr(x.dimm_list[i].alias, ==, alias);
		g_assert_cmpuint(x.dimm_list[i].size_kib, ==, 262144);
		g_assert_cmpint(x.dimm_list[i].slot, ==, i);
		g_assert_true(x.dimm_list[i].dimm);
	}
	newest = dmem_domxml_newest_dimm(&x);
	g_assert_nonnull(newest);
	g_assert_true(newest == &x.dimm_list[1]);
	g_assert_cmpstr(newest->alias, ==, "dimm1");
	g_assert_cmpint(newest->slot, ==, 1);
}

/* The persistent definition: no alias, no address, any unit. */
static void test_dimms_persistent(void)
{
	g_autoptr(GError) error = NULL;
	DmemDomainXml x;

	g_assert_true(dmem_domxml_parse(
		"<domain type='kvm'><memory unit='KiB'>1310720</memory>"
		"<devices><memory model='dimm'><target><size unit='MiB'>256</size>"
		"<node>0</node></target></memory></devices></domain>", &x, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(x.dimms, ==, 1);
	g_assert_cmpuint(x.dimm_kib, ==, 262144);
	g_assert_cmpuint(x.dimm_list_len, ==, 1);
	g_assert_cmpstr(x.dimm_list[0].alias, ==, "");
	g_assert_cmpuint(x.dimm_list[0].size_kib, ==, 262144);
	g_assert_cmpint(x.dimm_list[0].slot, ==, -1);
	g_assert_true(x.dimm_list[0].dimm);
	/* Nothing dmemd can detach by alias. */
	g_assert_null(dmem_domxml_newest_dimm(&x));
}

/* Other models count as slots used but are never the DIMM to unplug. */
static void test_dimms_mixed(void)
{
	g_autoptr(GError) error = NULL;
	DmemDomainXml x;
	const DmemDimm *newest;

	g_assert_true(dmem_domxml_parse(
		"<domain><memory unit='GiB'>4</memory><devices>"
		"<memory model='dimm'><target><size unit='GiB'>1</size></target>"
		"<alias name='dimm0'/><address type='dimm' slot='3' base='0x100000000'/>"
		"</memory>"
		"<memory model='nvdimm'><source><path>/tmp/nv</path></source>"
		"<target><size unit='MiB'>512</size></target>"
		"<alias name='nvdimm1'/><address type='dimm' slot='1'/></memory>"
		"<memory model='virtio-mem'><target><size unit='MiB'>1024</size>"
		"<block unit='KiB'>2048</block><requested unit='KiB'>0</requested>"
		"</target><alias name='virtiomem0'/>"
		"<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>"
		"</memory>"
		"<memory><target><size>1024</size></target><alias name='ua-nomodel'/></memory>"
		"<memory model='dimm'><target><size unit='MiB'>128</size></target></memory>"
		"</devices></domain>", &x, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(x.dimms, ==, 5);
	g_assert_cmpuint(x.dimm_kib, ==, (1024 + 512 + 1024 + 1 + 128) * 1024);
	g_assert_cmpuint(x.dimm_list_len, ==, 5);

	g_assert_true(x.dimm_list[0].dimm);
	g_assert_cmpint(x.dimm_list[0].slot, ==, 3);
	g_assert_cmpuint(x.dimm_list[0].size_kib, ==, 1024 * 1024);

	g_assert_false(x.dimm_list[1].dimm);
	g_assert_cmpstr(x.dimm_list[1].alias, ==, "nvdimm1");
	g_assert_cmpint(x.dimm_list[1].slot, ==, 1);

	/* A PCI slot (hex) is not a DIMM slot. */
	g_assert_false(x.dimm_list[2].dimm);
	g_assert_cmpstr(x.dimm_list[2].alias, ==, "virtiomem0");
	g_assert_cmpint(x.dimm_list[2].slot, ==, -1);
	g_assert_cmpuint(x.dimm_list[2].size_kib, ==, 1024 * 1024);

	g_assert_false(x.dimm_list[3].dimm);
	g_assert_cmpstr(x.dimm_list[3].alias, ==, "ua-nomodel");
	g_assert_cmpuint(x.dimm_list[3].size_kib, ==, 1024);

	g_assert_true(x.dimm_list[4].dimm);
	g_assert_cmpstr(x.dimm_list[4].alias, ==, "");

	/* The last DIMM has no alias, the others are not DIMMs: dimm0. */
	newest = dmem_domxml_newest_dimm(&x);
	g_assert_true(newest == &x.dimm_list[0]);
	g_assert_cmpstr(newest->alias, ==, "dimm0");
}

/* A domain XML with @n DIMMs dimm0 .. dimm<n-1> of (i + 1) MiB in slot i. */
static char *many_dimms_xml(guint n)
{
	GString *s = g_string_new("<domain><memory unit='GiB'>1</memory><devices>");

	for (guint i = 0; i < n; i++)
		g_string_append_printf(s,
			"<memory model='dimm'><target><size unit='MiB'>%u</size>"
			"</target><alias name='dimm%u'/>"
			"<address type='dimm' slot='%u'/></memory>", i + 1, i, i);
	g_string_append(s, "</devices></domain>");
	return g_string_free(s, FALSE);
}

static void check_many(guint n)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *xml = many_dimms_xml(n);
	guint kept = MIN(n, DMEM_DOMXML_DIMMS_MAX);
	guint first = n - kept;
	DmemDomainXml x;
	const DmemDimm *newest;

	g_assert_true(dmem_domxml_parse(xml, &x, &error));
	g_assert_no_error(error);
	/* All are counted ... */
	g_assert_cmpuint(x.dimms, ==, n);
	g_assert_cmpuint(x.dimm_kib, ==, (dmem_kib_t)n * (n + 1) / 2 * 1024);
	/* ... the last DMEM_DOMXML_DIMMS_MAX are listed, oldest first. */
	g_assert_cmpuint(x.dimm_list_len, ==, kept);
	for (guint i = 0; i < kept; i++) {
		g_autofree char *alias = g_strdup_printf("dimm%u", first + i);

		g_assert_cmpstr(x.dimm_list[i].alias, ==, alias);
		g_assert_cmpint(x.dimm_list[i].slot, ==, first + i);
		g_assert_cmpuint(x.dimm_list[i].size_kib, ==, (first + i + 1) * 1024);
		g_assert_true(x.dimm_list[i].dimm);
	}
	newest = dmem_domxml_newest_dimm(&x);
	g_assert_true(newest == &x.dimm_list[kept - 1]);
	g_assert_cmpint(newest->slot, ==, n - 1);
}

static void test_dimms_many(void)
{
	check_many(DMEM_DOMXML_DIMMS_MAX - 1);
	check_many(DMEM_DOMXML_DIMMS_MAX);
	check_many(DMEM_DOMXML_DIMMS_MAX + 1);
	check_many(100);
}

static void test_dimms_none(void)
{
	g_autoptr(GError) error = NULL;
	DmemDomainXml x;

	g_assert_true(dmem_domxml_parse(live_xml, &x, &error));
	g_assert_true(dmem_domxml_parse(
		"<domain><memory>1048576</memory><devices><memballoon model='virtio'>"
		"<alias name='balloon0'/></memballoon></devices></domain>", &x, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(x.dimms, ==, 0);
	g_assert_cmpuint(x.dimm_kib, ==, 0);
	g_assert_cmpuint(x.dimm_list_len, ==, 0);
	g_assert_null(dmem_domxml_newest_dimm(&x));
}

/* The longest alias that fits; the next is refused, not truncated. */
static void test_dimms_alias_length(void)
{
	g_autoptr(GError) error = NULL;
	char alias[sizeof(((DmemDimm *)NULL)->alias) + 1];
	g_autofree char *xml = NULL;
	DmemDomainXml x;

	memset(alias, 'a', sizeof(alias) - 2);
	alias[sizeof(alias) - 2] = '\0';	/* 63 bytes */
	xml = g_strdup_printf("<domain><memory>1</memory><devices><memory model='dimm'>"
			      "<alias name='%s'/></memory></devices></domain>", alias);
	g_assert_true(dmem_domxml_parse(xml, &x, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(x.dimm_list[0].alias, ==, alias);
	g_assert_true(dmem_domxml_newest_dimm(&x) == &x.dimm_list[0]);
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
	expect_error("<domain><memory>1</memory><devices><memory model='dimm'>"
		     "<target><size unit='parsec'>1</size></target></memory>"
		     "</devices></domain>", "unknown unit");
	expect_error("<domain><memory>1</memory><devices><memory model='dimm'>"
		     "<address type='dimm' slot='x'/></memory></devices></domain>",
		     "<address slot='x'>: not a whole number");
	expect_error("<domain><memory>1</memory><devices><memory model='dimm'>"
		     "<address type='dimm' slot='-1'/></memory></devices></domain>",
		     "slot='-1'");
	expect_error("<domain><memory>1</memory><devices><memory model='dimm'>"
		     "<address type='dimm' slot='2147483648'/></memory></devices>"
		     "</domain>", "slot='2147483648'");
	expect_error("<domain><memory>1</memory><devices><memory model='dimm'>"
		     "<alias name='ua-0123456789012345678901234567890123456789"
		     "012345678901234567890'/></memory></devices></domain>",
		     "<alias name='ua-0123456789012345678901234567890123456789"
		     "012345678901234567890'>: longer than 63 bytes");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/domxml/live", test_live);
	g_test_add_func("/domxml/minimal-and-units", test_minimal_and_units);
	g_test_add_func("/domxml/paths", test_paths);
	g_test_add_func("/domxml/dimms/live", test_dimms_live);
	g_test_add_func("/domxml/dimms/persistent", test_dimms_persistent);
	g_test_add_func("/domxml/dimms/mixed", test_dimms_mixed);
	g_test_add_func("/domxml/dimms/many", test_dimms_many);
	g_test_add_func("/domxml/dimms/none", test_dimms_none);
	g_test_add_func("/domxml/dimms/alias-length", test_dimms_alias_length);
	g_test_add_func("/domxml/errors", test_errors);
	return g_test_run();
}
