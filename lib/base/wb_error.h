/*  wb_error - one line of text a user can act on, filled by lib/ on failure

    Functions in lib/ that can fail at run time return -1 or NULL and, when
    the caller passes a wb_error_t * (it may pass NULL), write what failed,
    on which input, and what to do into it.
*/
#ifndef WB_ERROR_H
#define WB_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

typedef struct {
    char text [1024];           //  the message, NUL-terminated, "" when unset
} wb_error_t;

//  Fill err (if not NULL) with a printf-style message. Always returns -1 so a
//  failing function can write `return wb_error_set (err, "...")`.
int
    wb_error_set (wb_error_t *err, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Same with a va_list.
int
    wb_error_setv (wb_error_t *err, const char *format, va_list args);

//  Empty err (if not NULL).
void
    wb_error_clear (wb_error_t *err);

//  True when err holds a message.
bool
    wb_error_isset (const wb_error_t *err);

#endif
