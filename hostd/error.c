// SPDX-License-Identifier: GPL-2.0-or-later
/* error.c - the GError domain of dmem's host tools. */
#include "error.h"

G_DEFINE_QUARK(dmem-error-quark, dmem_error)

gboolean dmem_file_read(const char *path, char **contents, gsize *length,
			GError **error)
{
	GError *local = NULL;

	if (g_file_get_contents(path, contents, length, &local))
		return TRUE;
	/* GLib's message names the file and says what went wrong. */
	g_set_error_literal(error, DMEM_ERROR,
			    g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ?
			    DMEM_ERROR_NOT_FOUND : DMEM_ERROR_FAILED,
			    local->message);
	g_error_free(local);
	return FALSE;
}
