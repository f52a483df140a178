/* libimg/err.c -- img_err helpers (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int img_err_set(img_err *e, int code, const char *fmt, ...)
{
    if (code < 0) {
        code = -code;
    }
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return -code;
}

int img_err_errno(img_err *e, int code, const char *fmt, ...)
{
    if (code < 0) {
        code = -code;
    }
    if (e) {
        char prefix[sizeof(e->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, strerror(code));
        e->code = code;
    }
    return -code;
}

void img_err_prepend(img_err *e, const char *fmt, ...)
{
    if (!e) {
        return;
    }
    char prefix[sizeof(e->msg)];
    char old[sizeof(e->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    snprintf(e->msg, sizeof(e->msg), "%s%s", prefix, old);
}

void img_err_clear(img_err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}
