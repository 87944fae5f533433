/* error.c - the GError domain of dmem's host tools. */
#include "error.h"

G_DEFINE_QUARK(dmem-error-quark, dmem_error)
