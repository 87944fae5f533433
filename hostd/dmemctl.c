// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmemctl.c - the host CLI.
 *
 *   dmemctl [--connect URI] [--config FILE] status [--json | --watch [SECONDS]]
 *   dmemctl [--connect URI] set VM [--minimum SIZE] [--buffer PERCENT]
 *                                  [--weight W] [--enable|--disable]
 *   dmemctl [--config FILE] explain VM
 *
 * "set" edits the VM's <dmem/> metadata element through libvirt (the same
 * element `virsh metadata` writes); dmemd picks the change up live, and it
 * works with dmemd stopped. A minimum that breaks minimum <= startup <=
 * maximum is refused before anything is written. "status" and "explain" read the state dmemd
 * publishes every cycle (dmemd.conf's [daemon] state_file).
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "config.h"
#include "dmem_defaults.h"
#include "domxml.h"
#include "error.h"
#include "explain.h"
#include "metadata.h"
#include "settings.h"
#include "state.h"
#include "status.h"
#include "watch.h"

#define EXIT_USAGE 2

typedef struct {
	char *connect_uri;
	char *config_path;
	gboolean version;
} GlobalOptions;

static const char usage_text[] =
	"Usage:\n"
	"  dmemctl [--config FILE] status [--json | --watch [SECONDS]]\n"
	"  dmemctl [--connect URI] set VM [--minimum SIZE] [--buffer PERCENT]\n"
	"                                 [--weight W] [--enable|--disable]\n"
	"  dmemctl [--config FILE] explain VM\n"
	"  dmemctl --version\n"
	"\n"
	"Commands:\n"
	"  status    the host's pool, then one row per VM: memory, what it holds,\n"
	"            demand, ideal, status and why\n"
	"  set       change a VM's dmem settings (its libvirt metadata)\n"
	"  explain   why a VM has the memory it has\n"
	"\n"
	"Sizes: 512M, 2G, 1536MiB; a bare number is MiB.\n"
	"Run 'dmemctl COMMAND --help' for a command's options.\n";

static int usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_printerr("dmemctl: %s (see dmemctl --help)\n", msg);
	return EXIT_USAGE;
}

static void silence_libvirt(void *opaque, virErrorPtr err)
{
	/* Errors are reported once, with context, by the caller. */
	(void)opaque;
	(void)err;
}

static const char *libvirt_error(void)
{
	const char *msg = virGetLastErrorMessage();

	return msg ? msg : "unknown libvirt error";
}

/*
 * dmemd.conf: --config (which must be there and valid), else the default
 * path (absent or broken: the defaults, with a warning).
 */
static gboolean load_config(const GlobalOptions *opts, DmemConfig *cfg)
{
	g_autoptr(GError) error = NULL;
	const char *path = opts->config_path ? opts->config_path : DMEM_CONFIG_PATH;

	dmem_config_init(cfg);
	if (dmem_config_load_file(cfg, path, opts->config_path != NULL, &error))
		return TRUE;
	if (opts->config_path) {
		g_printerr("dmemctl: %s\n", error->message);
		return FALSE;
	}
	g_printerr("dmemctl: warning: %s; using the defaults\n", error->message);
	return TRUE;
}

/* The libvirt URI: --connect, else dmemd.conf's [daemon] uri, else default. */
static char *resolve_uri(const GlobalOptions *opts)
{
	DmemConfig cfg;
	char *uri;

	if (opts->connect_uri)
		return g_strdup(opts->connect_uri);
	if (!load_config(opts, &cfg)) {
		dmem_config_clear(&cfg);
		return NULL;
	}
	uri = g_strdup(cfg.uri);
	dmem_config_clear(&cfg);
	return uri;
}

/* ---- set ---------------------------------------------------------------- */

typedef struct {
	char *minimum;
	char *buffer;
	char *weight;
	gboolean enable;
	gboolean disable;
} SetOptions;

/* Validate the options into a metadata update; usage errors are exit 2. */
static gboolean set_options_to_update(const SetOptions *o, DmemMetadata *update,
				      GError **error)
{
	/* Each option is the metadata attribute of the same name. */
	const struct { const char *attr, *value; } opts[] = {
		{ "minimum", o->minimum },
		{ "buffer", o->buffer },
		{ "weight", o->weight },
	};

	*update = (DmemMetadata) { 0 };

	if (o->enable && o->disable) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "--enable and --disable exclude each other");
		return FALSE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(opts); i++) {
		if (opts[i].value &&
		    !dmem_metadata_set(update, opts[i].attr, opts[i].value, error)) {
			g_prefix_error(error, "--%s ", opts[i].attr);
			return FALSE;
		}
	}
	if (o->enable || o->disable) {
		update->has_enabled = TRUE;
		update->enabled = o->enable;
	}
	if (!update->has_minimum && !update->has_buffer &&
	    !update->has_weight && !update->has_enabled) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "nothing to set: give at least one of --minimum, --buffer, --weight, --enable, --disable");
		return FALSE;
	}
	return TRUE;
}

static virDomainPtr lookup_domain(virConnectPtr conn, const char *name)
{
	virDomainPtr dom = virDomainLookupByName(conn, name);

	if (!dom)
		dom = virDomainLookupByUUIDString(conn, name);
	return dom;
}

/*
 * The Hyper-V rule, minimum <= startup <= maximum, for the minimum in @md
 * against the VM's startup and maximum: those of its persistent definition
 * (what dmemd uses), or of its live one for a transient VM. FALSE, with a
 * message, when the rule is broken or the sizes cannot be read.
 */
static gboolean check_minimum(virDomainPtr dom, const char *vm, gboolean persistent,
			      const DmemMetadata *md)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *why = NULL;
	dmem_kib_t startup_kib, maximum_kib;
	DmemDomainXml xml;
	char *text;
	gboolean ok;

	text = virDomainGetXMLDesc(dom, persistent ? VIR_DOMAIN_XML_INACTIVE : 0);
	if (!text) {
		g_printerr("dmemctl: %s: cannot read its definition to check the minimum: %s\n",
			   vm, libvirt_error());
		return FALSE;
	}
	ok = dmem_domxml_parse(text, &xml, &error);
	free(text);
	if (!ok) {
		g_printerr("dmemctl: %s: cannot check the minimum: %s\n", vm, error->message);
		return FALSE;
	}
	dmem_settings_sizes(&xml, &startup_kib, &maximum_kib);
	why = dmem_settings_check_bounds(dmem_mib_to_kib(md->minimum_mib), startup_kib,
					 maximum_kib);
	if (why) {
		g_printerr("dmemctl: %s: %s; nothing changed\n", vm, why);
		return FALSE;
	}
	return TRUE;
}

/*
 * Read-modify-write the <dmem/> element: the persistent definition is the
 * reference (it is what survives a restart); the result is written to the
 * persistent definition and, when the VM runs, to the live one.
 */
static int apply_settings(const GlobalOptions *opts, const char *vm,
			  const DmemMetadata *update)
{
	g_autofree char *uri = resolve_uri(opts);
	g_autofree char *old_xml = NULL;
	g_autofree char *new_xml = NULL;
	DmemMetadata md = { 0 };
	virConnectPtr conn = NULL;
	virDomainPtr dom = NULL;
	unsigned int flags = 0;
	int persistent, active;
	int ret = EXIT_FAILURE;

	if (!uri)
		return EXIT_FAILURE;
	virSetErrorFunc(NULL, silence_libvirt);
	conn = virConnectOpen(uri);
	if (!conn) {
		g_printerr("dmemctl: cannot connect to %s: %s\n", uri,
			   libvirt_error());
		return EXIT_FAILURE;
	}
	dom = lookup_domain(conn, vm);
	if (!dom) {
		g_printerr("dmemctl: no VM named '%s' on %s\n", vm, uri);
		goto out;
	}
	persistent = virDomainIsPersistent(dom);
	active = virDomainIsActive(dom);
	if (persistent < 0 || active < 0) {
		g_printerr("dmemctl: %s: cannot query the VM: %s\n", vm,
			   libvirt_error());
		goto out;
	}
	if (persistent)
		flags |= VIR_DOMAIN_AFFECT_CONFIG;
	if (active)
		flags |= VIR_DOMAIN_AFFECT_LIVE;

	old_xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
				       DMEM_METADATA_URI,
				       persistent ? VIR_DOMAIN_AFFECT_CONFIG :
						    VIR_DOMAIN_AFFECT_LIVE);
	if (old_xml) {
		g_autoptr(GError) error = NULL;

		if (!dmem_metadata_parse(old_xml, &md, &error)) {
			g_printerr("dmemctl: %s: %s; replacing it\n", vm,
				   error->message);
			md = (DmemMetadata) { 0 };
		}
	} else if (virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA) {
		g_printerr("dmemctl: %s: cannot read metadata: %s\n", vm,
			   libvirt_error());
		goto out;
	}

	dmem_metadata_merge(&md, update);
	/* Only a new minimum is checked: other settings cannot break the rule. */
	if (update->has_minimum && !check_minimum(dom, vm, persistent, &md))
		goto out;
	new_xml = dmem_metadata_format(&md);
	if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, new_xml,
				 DMEM_METADATA_KEY, DMEM_METADATA_URI,
				 flags) < 0) {
		g_printerr("dmemctl: %s: cannot write metadata: %s\n", vm,
			   libvirt_error());
		goto out;
	}
	printf("%s: %s (%s)\n", vm, new_xml,
	       persistent && active ? "live and persistent" :
	       persistent ? "persistent; the VM is not running" : "live only");
	ret = EXIT_SUCCESS;
out:
	if (dom)
		virDomainFree(dom);
	virConnectClose(conn);
	return ret;
}

static int cmd_set(const GlobalOptions *opts, int argc, char **argv)
{
	SetOptions o = { 0 };
	const GOptionEntry entries[] = {
		{ "minimum", 0, 0, G_OPTION_ARG_STRING, &o.minimum,
		  "Never give the VM less than SIZE (default and most: its startup memory)",
		  "SIZE" },
		{ "buffer", 0, 0, G_OPTION_ARG_STRING, &o.buffer,
		  "Memory to give above demand, percent (0-"
		  G_STRINGIFY(DMEM_BUFFER_PERCENT_MAX) ")", "PERCENT" },
		{ "weight", 0, 0, G_OPTION_ARG_STRING, &o.weight,
		  "Share of contended memory (0-"
		  G_STRINGIFY(DMEM_WEIGHT_MAX) ")", "W" },
		{ "enable", 0, 0, G_OPTION_ARG_NONE, &o.enable,
		  "Let dmemd manage the VM", NULL },
		{ "disable", 0, 0, G_OPTION_ARG_NONE, &o.disable,
		  "Make dmemd leave the VM alone", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("VM - change a VM's dmem settings");
	g_autoptr(GError) error = NULL;
	DmemMetadata update;
	int ret;

	g_set_prgname("dmemctl set");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_summary(ctx,
		"Writes the VM's <dmem/> metadata (namespace " DMEM_METADATA_URI
		"); dmemd applies it live.\nSizes: 512M, 2G, 1536MiB; a bare number is MiB.");
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		ret = usage_error("set: %s", error->message);
		goto out;
	}
	if (argc < 2) {
		ret = usage_error("set: which VM? (dmemctl set VM [options])");
		goto out;
	}
	if (argc > 2) {
		ret = usage_error("set: unexpected argument '%s'", argv[2]);
		goto out;
	}
	if (!set_options_to_update(&o, &update, &error)) {
		ret = usage_error("set %s: %s", argv[1], error->message);
		goto out;
	}
	ret = apply_settings(opts, argv[1], &update);
out:
	g_free(o.minimum);
	g_free(o.buffer);
	g_free(o.weight);
	return ret;
}

/* ---- status, explain ---------------------------------------------------- */

static gboolean pid_alive(gint64 pid)
{
	if (pid <= 0 || pid > G_MAXINT)
		return FALSE;
	/* EPERM: it exists, we may just not signal it. */
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/*
 * Whether @path is there but not ours to read. The state file is 0640, group
 * libvirt: that is the one failure a user can fix alone, so it gets its own
 * message.
 */
static gboolean permission_denied(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return FALSE;
	}
	return errno == EACCES;
}

/*
 * Read dmemd's published state. Exit status (1) and a message a user can act
 * on when there is none; @stale_out says why it cannot be trusted.
 */
static int read_state(const GlobalOptions *opts, const char *what, DmemState *st,
		      char **stale_out, GString *msg)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *why = NULL;
	DmemConfig cfg;
	int ret = EXIT_SUCCESS;

	dmem_state_init(st);
	if (!load_config(opts, &cfg)) {
		ret = EXIT_FAILURE;
	} else if (!dmem_state_read(st, cfg.state_file, &error)) {
		if (g_error_matches(error, DMEM_ERROR, DMEM_ERROR_NOT_FOUND))
			why = g_strdup_printf("dmemctl: %s: dmemd is not running (no state at "
					      "%s; start it with 'systemctl start dmemd')\n",
					      what, cfg.state_file);
		else if (permission_denied(cfg.state_file))
			why = g_strdup_printf("dmemctl: %s: cannot read %s: permission denied; "
					      "the state is readable by root and the libvirt "
					      "group (add yourself: adduser $USER libvirt, then "
					      "log in again)\n", what, cfg.state_file);
		else
			why = g_strdup_printf("dmemctl: %s: cannot read dmemd's state: %s\n",
					      what, error->message);
		if (msg)
			g_string_append(msg, why);
		else
			g_printerr("%s", why);
		ret = EXIT_FAILURE;
	} else {
		*stale_out = dmem_state_stale_reason(st, g_get_real_time(),
						     pid_alive(st->pid));
	}
	dmem_config_clear(&cfg);
	return ret;
}

/*
 * The status screen: the host line and the table into @out, warnings and
 * errors into @err (the same GString in --watch: they are part of the
 * screen). Returns the exit status.
 */
static int status_screen(const GlobalOptions *opts, GString *out, GString *err)
{
	g_autofree char *stale = NULL;
	g_autofree char *text = NULL;
	DmemState st;
	int ret;

	ret = read_state(opts, "status", &st, &stale, err);
	if (ret != EXIT_SUCCESS)
		goto out;
	if (stale)
		g_string_append_printf(err, "dmemctl: warning: %s\n", stale);
	if (!st.connected) {
		g_autofree char *down = dmem_status_disconnected(&st, g_get_real_time());

		g_string_append_printf(err, "dmemctl: %s\n", down);
		ret = EXIT_FAILURE;
		goto out;
	}
	if (st.dry_run)
		g_string_append(out, "dmemd runs with --dry-run: it changes no VM\n");
	text = dmem_status_host(&st);
	g_string_append(out, text);
	g_clear_pointer(&text, g_free);
	if (st.vms->len == 0) {
		g_string_append_printf(out, "no VMs on %s\n", st.uri);
		goto out;
	}
	text = dmem_status_table(&st);
	g_string_append(out, text);
out:
	dmem_state_clear(&st);
	return ret;
}

static void watch_render(GString *screen, gpointer data)
{
	status_screen(data, screen, screen);
}

static int cmd_status(const GlobalOptions *opts, int argc, char **argv)
{
	gboolean json = FALSE, watch = FALSE;
	const GOptionEntry entries[] = {
		{ "json", 0, 0, G_OPTION_ARG_NONE, &json,
		  "Print JSON instead of a table (sizes in KiB)", NULL },
		{ "watch", 'w', 0, G_OPTION_ARG_NONE, &watch,
		  "Redraw every SECONDS (default 1) until Ctrl-C", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("[SECONDS] - show every VM's memory and status");
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GString) err = g_string_new(NULL);
	guint64 interval_ms = 1000;
	int ret;

	g_set_prgname("dmemctl status");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error))
		return usage_error("status: %s", error->message);
	if (watch && argc == 2) {
		/* --watch SECONDS: 0.1 to 3600, tenths at most. */
		char *end = NULL;
		double s = g_ascii_strtod(argv[1], &end);

		if (!end || *end || end == argv[1] || !(s >= 0.1 && s <= 3600))
			return usage_error("status: --watch %s: not a number of seconds "
					   "between 0.1 and 3600", argv[1]);
		interval_ms = (guint64)(s * 10 + 0.5) * 100;
	} else if (argc > 1) {
		return usage_error("status: unexpected argument '%s'", argv[1]);
	}
	if (json && watch)
		return usage_error("status: --json and --watch do not go together "
				   "(for a stream, run dmemctl status --json in a loop)");

	if (watch)
		return dmem_watch("dmemctl status", (guint)interval_ms, watch_render,
				  (gpointer)opts);
	if (json) {
		g_autofree char *stale = NULL;
		g_autofree char *text = NULL;
		DmemState st;

		ret = read_state(opts, "status", &st, &stale, NULL);
		if (ret == EXIT_SUCCESS) {
			text = dmem_status_json(&st, stale);
			fputs(text, stdout);
		}
		dmem_state_clear(&st);
		return ret;
	}
	ret = status_screen(opts, out, err);
	fputs(err->str, stderr);
	fputs(out->str, stdout);
	return ret;
}

static int cmd_explain(const GlobalOptions *opts, int argc, char **argv)
{
	g_autofree char *text = NULL;
	g_autoptr(GOptionContext) ctx = g_option_context_new("VM - why a VM has the memory it has");
	g_autoptr(GError) error = NULL;
	g_autofree char *stale = NULL;
	const DmemStateVm *found = NULL;
	DmemState st;
	int ret;

	g_set_prgname("dmemctl explain");
	if (!g_option_context_parse(ctx, &argc, &argv, &error))
		return usage_error("explain: %s", error->message);
	if (argc < 2)
		return usage_error("explain: which VM? (dmemctl explain VM)");
	if (argc > 2)
		return usage_error("explain: unexpected argument '%s'", argv[2]);

	ret = read_state(opts, "explain", &st, &stale, NULL);
	if (ret != EXIT_SUCCESS)
		goto out;
	for (guint i = 0; i < st.vms->len; i++) {
		const DmemStateVm *vm = st.vms->pdata[i];

		if (g_strcmp0(vm->name, argv[1]) == 0 ||
		    g_strcmp0(vm->uuid, argv[1]) == 0)
			found = vm;
	}
	if (stale)
		g_printerr("dmemctl: warning: %s\n", stale);
	if (!found) {
		g_autofree char *down = dmem_status_disconnected(&st, g_get_real_time());

		if (down)
			g_printerr("dmemctl: explain: %s\n", down);
		else
			g_printerr("dmemctl: explain: no VM named '%s' on %s "
				   "(see dmemctl status)\n", argv[1], st.uri);
		ret = EXIT_FAILURE;
		goto out;
	}
	text = dmem_explain_state(&st, found);
	fputs(text, stdout);
out:
	dmem_state_clear(&st);
	return ret;
}

/* ---- main --------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(const GlobalOptions *opts, int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },
	{ "set", cmd_set },
	{ "explain", cmd_explain },
};

int main(int argc, char **argv)
{
	GlobalOptions opts = { 0 };
	gboolean help = FALSE;
	const GOptionEntry entries[] = {
		{ "connect", 'c', 0, G_OPTION_ARG_STRING, &opts.connect_uri,
		  "libvirt URI (default: dmemd.conf's [daemon] uri, "
		  DMEM_DEFAULT_URI ")", "URI" },
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &opts.config_path,
		  "dmemd's configuration (default " DMEM_CONFIG_PATH "): the URI "
		  "and where dmemd publishes its state", "FILE" },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &opts.version,
		  "Print the version and exit", NULL },
		{ "help", 'h', 0, G_OPTION_ARG_NONE, &help,
		  "Show this help", NULL },
		{ NULL }
	};

	/* A libvirtd that goes away mid-call must be an error, not a kill. */
	signal(SIGPIPE, SIG_IGN);
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	g_autoptr(GError) error = NULL;
	int ret = EXIT_USAGE;

	/* Options up to the command are global; the rest belong to it. */
	g_option_context_set_strict_posix(ctx, TRUE);
	g_option_context_set_help_enabled(ctx, FALSE);
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		ret = usage_error("%s", error->message);
		goto out;
	}
	if (help) {
		fputs(usage_text, stdout);
		ret = EXIT_SUCCESS;
		goto out;
	}
	if (opts.version) {
		printf("dmemctl " DMEM_VERSION "\n");
		ret = EXIT_SUCCESS;
		goto out;
	}
	if (argc < 2) {
		ret = usage_error("no command given");
		goto out;
	}
	if (opts.connect_uri && !*opts.connect_uri) {
		ret = usage_error("--connect: the URI must not be empty");
		goto out;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			ret = commands[i].run(&opts, argc - 1, argv + 1);
			goto out;
		}
	}
	ret = usage_error("unknown command '%s' (commands: status, set, explain)",
			  argv[1]);
out:
	g_free(opts.connect_uri);
	g_free(opts.config_path);
	return ret;
}
