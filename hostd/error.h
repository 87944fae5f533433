/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * error.h - the GError domain of dmem's host tools.
 *
 * Messages carry the context a user needs to act (file, key, value, valid
 * range); the code only says which kind of problem it was.
 */
#ifndef DMEM_ERROR_H
#define DMEM_ERROR_H

#include <glib.h>

#define DMEM_ERROR (dmem_error_quark())

typedef enum {
	DMEM_ERROR_INVALID,	/* text that does not parse */
	DMEM_ERROR_RANGE,	/* parses, but outside the valid range */
	DMEM_ERROR_UNKNOWN,	/* unknown group, key, attribute or element */
	DMEM_ERROR_NOT_FOUND,	/* a file or object that must exist does not */
	DMEM_ERROR_FAILED,	/* an operation on the system failed */
} DmemError;

GQuark dmem_error_quark(void);

/*
 * g_file_get_contents() with its error in DMEM_ERROR: DMEM_ERROR_NOT_FOUND
 * when @path does not exist, DMEM_ERROR_FAILED for any other failure.
 */
gboolean dmem_file_read(const char *path, char **contents, gsize *length,
			GError **error);

#endif /* DMEM_ERROR_H */
