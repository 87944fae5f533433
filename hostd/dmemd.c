/*
 * dmemd.c - the host daemon: options, configuration, logging, the main loop.
 *
 *   dmemd [--config FILE] [--foreground] [--connect URI] [--dry-run] [--version]
 *
 * One GMainLoop runs everything: signals (SIGTERM/SIGINT stop, SIGHUP reloads
 * the configuration) and the policy cycle every interval_ms.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "config.h"
#include "dmem_defaults.h"
#include "error.h"

#define EXIT_USAGE 2

typedef struct {
	/* Command line. */
	char *config_path;	/* NULL: DMEM_CONFIG_PATH, optional */
	char *connect_uri;	/* overrides [daemon] uri */
	gboolean foreground;
	gboolean dry_run;
	gboolean version;

	DmemConfig cfg;
	GMainLoop *loop;
	guint cycle_source;
	int exit_status;
} Dmemd;

static const char *config_path(const Dmemd *d)
{
	return d->config_path ? d->config_path : DMEM_CONFIG_PATH;
}

/* Load the configuration; only a file named with --config must exist. */
static gboolean load_config(const Dmemd *d, DmemConfig *cfg, GError **error)
{
	if (!dmem_config_load_file(cfg, config_path(d), d->config_path != NULL,
				   error))
		return FALSE;
	if (d->connect_uri) {
		g_free(cfg->uri);
		cfg->uri = g_strdup(d->connect_uri);
	}
	return TRUE;
}

static gboolean on_cycle(gpointer user_data)
{
	/* Collect, decide, act: the libvirt mechanism is not wired in yet. */
	(void)user_data;
	return G_SOURCE_CONTINUE;
}

static void schedule_cycle(Dmemd *d)
{
	if (d->cycle_source)
		g_source_remove(d->cycle_source);
	d->cycle_source = g_timeout_add(d->cfg.interval_ms, on_cycle, d);
}

static gboolean on_quit_signal(gpointer user_data)
{
	Dmemd *d = user_data;

	g_message("signal received, stopping");
	g_main_loop_quit(d->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean on_reload_signal(gpointer user_data)
{
	Dmemd *d = user_data;
	g_autoptr(GError) error = NULL;
	DmemConfig cfg;

	dmem_config_init(&cfg);
	if (!load_config(d, &cfg, &error)) {
		g_warning("reload failed, keeping the current configuration: %s",
			  error->message);
		dmem_config_clear(&cfg);
		return G_SOURCE_CONTINUE;
	}
	if (strcmp(cfg.uri, d->cfg.uri) != 0)
		g_warning("uri changed to %s: restart dmemd to reconnect (still using %s)",
			  cfg.uri, d->cfg.uri);
	g_free(cfg.uri);
	cfg.uri = g_strdup(d->cfg.uri);

	dmem_config_clear(&d->cfg);
	d->cfg = cfg;
	schedule_cycle(d);
	g_message("configuration reloaded from %s", config_path(d));
	return G_SOURCE_CONTINUE;
}

static void log_config(const DmemConfig *cfg)
{
	g_autofree char *text = dmem_config_to_string(cfg);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (char **l = lines; *l; l++)
		if (**l && **l != '[')
			g_debug("config: %s", *l);
}

/*
 * Detach from the terminal. Errors from here on go to the journal: GLib's
 * default writer sends structured log entries there when it can.
 */
static gboolean daemonize(GError **error)
{
	if (daemon(0, 0) < 0) {
		int err = errno;

		g_set_error(error, DMEM_ERROR, DMEM_ERROR_FAILED,
			    "cannot detach from the terminal: %s",
			    g_strerror(err));
		return FALSE;
	}
	return TRUE;
}

static gboolean parse_options(Dmemd *d, int *argc, char ***argv, GError **error)
{
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &d->config_path,
		  "Configuration file (default " DMEM_CONFIG_PATH
		  ", optional; a file given here must exist)", "FILE" },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &d->foreground,
		  "Stay in the foreground and log to stderr", NULL },
		{ "connect", 0, 0, G_OPTION_ARG_STRING, &d->connect_uri,
		  "libvirt URI (overrides [daemon] uri)", "URI" },
		{ "dry-run", 'n', 0, G_OPTION_ARG_NONE, &d->dry_run,
		  "Decide and log, but change no VM", NULL },
		{ "version", 'V', 0, G_OPTION_ARG_NONE, &d->version,
		  "Print the version and exit", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("- Dynamic Memory for KVM guests");

	g_option_context_add_main_entries(ctx, entries, NULL);
	g_option_context_set_description(ctx,
		"Gives each managed libvirt/QEMU VM the memory it needs, between its\n"
		"minimum and maximum: balloon and DIMM hot-add, driven by the guest's\n"
		"memory demand. SIGHUP reloads the configuration.\n");
	if (!g_option_context_parse(ctx, argc, argv, error))
		return FALSE;
	if (*argc > 1) {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "unexpected argument '%s'", (*argv)[1]);
		return FALSE;
	}
	if (d->connect_uri && *d->connect_uri == '\0') {
		g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
			    "--connect: the URI must not be empty");
		return FALSE;
	}
	return TRUE;
}

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	Dmemd d = { .exit_status = EXIT_SUCCESS };

	dmem_config_init(&d.cfg);

	if (!parse_options(&d, &argc, &argv, &error)) {
		g_printerr("dmemd: %s (see dmemd --help)\n", error->message);
		d.exit_status = EXIT_USAGE;
		goto out;
	}
	if (d.version) {
		printf("dmemd " DMEM_VERSION "\n");
		goto out;
	}
	if (!load_config(&d, &d.cfg, &error)) {
		g_printerr("dmemd: %s\n", error->message);
		d.exit_status = EXIT_FAILURE;
		goto out;
	}
	if (!d.foreground && !daemonize(&error)) {
		g_printerr("dmemd: %s\n", error->message);
		d.exit_status = EXIT_FAILURE;
		goto out;
	}

	d.loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, on_quit_signal, &d);
	g_unix_signal_add(SIGINT, on_quit_signal, &d);
	g_unix_signal_add(SIGHUP, on_reload_signal, &d);
	schedule_cycle(&d);

	g_message("dmemd " DMEM_VERSION " started: uri=%s interval_ms=%u%s",
		  d.cfg.uri, d.cfg.interval_ms,
		  d.dry_run ? " (dry run: no VM is changed)" : "");
	log_config(&d.cfg);
	g_warning("the libvirt mechanism is not implemented yet: no VM is managed");

	g_main_loop_run(d.loop);

	g_message("dmemd stopped");
	if (d.cycle_source)
		g_source_remove(d.cycle_source);
	g_main_loop_unref(d.loop);
out:
	dmem_config_clear(&d.cfg);
	g_free(d.config_path);
	g_free(d.connect_uri);
	return d.exit_status;
}
