/*  wb_error - one line of text a user can act on, filled by lib/ on failure
*/
#include <stdio.h>
#include <string.h>
#include "wb_error.h"

int
wb_error_setv (wb_error_t *err, const char *format, va_list args)
{
    if (err)
        vsnprintf (err->text, sizeof (err->text), format, args);
    return -1;
}

int
wb_error_set (wb_error_t *err, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    wb_error_setv (err, format, args);
    va_end (args);
    return -1;
}

void
wb_error_clear (wb_error_t *err)
{
    if (err)
        err->text [0] = 0;
}

bool
wb_error_isset (const wb_error_t *err)
{
    return err && err->text [0];
}
