// SPDX-License-Identifier: GPL-2.0-or-later
/* hostmem.c - read the host's MemAvailable. */
#include <string.h>

#include "error.h"
#include "hostmem.h"

gboolean dmem_meminfo_parse(const char *text, const char *field,
			    dmem_kib_t *kib_out, GError **error)
{
	gsize flen = strlen(field);

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');

		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			g_autofree char *rest = g_strndup(line + flen + 1,
							  nl ? (gsize)(nl - line - flen - 1) :
							       strlen(line + flen + 1));
			g_auto(GStrv) words = NULL;
			guint64 v;

			g_strstrip(rest);
			words = g_strsplit_set(rest, " \t", -1);
			if (!words[0] ||
			    !g_ascii_string_to_unsigned(words[0], 10, 0,
							DMEM_SIZE_MAX_KIB, &v, NULL) ||
			    (words[1] && *words[1] && strcmp(words[1], "kB") != 0)) {
				g_set_error(error, DMEM_ERROR, DMEM_ERROR_INVALID,
					    "meminfo: %s: cannot parse '%s'", field, rest);
				return FALSE;
			}
			*kib_out = v;
			return TRUE;
		}
		line = nl ? nl + 1 : NULL;
	}
	g_set_error(error, DMEM_ERROR, DMEM_ERROR_NOT_FOUND,
		    "meminfo: no %s field", field);
	return FALSE;
}

gboolean dmem_host_available_kib(const char *path, dmem_kib_t *kib_out,
				 GError **error)
{
	g_autofree char *text = NULL;

	if (!dmem_file_read(path, &text, NULL, error))
		return FALSE;
	if (!dmem_meminfo_parse(text, "MemAvailable", kib_out, error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return TRUE;
}
