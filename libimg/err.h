/* libimg/err.h -- error reporting for libimg and everything built on it.
 *
 * Functions return >= 0 on success and -errno on failure.  On every failure
 * they fill an img_err (which may be NULL) with a one-phrase message; callers
 * add context while unwinding with img_err_prepend(), so no heap is needed.
 */
#ifndef IMG_ERR_H
#define IMG_ERR_H

typedef struct img_err {
    int  code;      /* positive errno value, 0 when unset */
    char msg[512];  /* single phrase, no trailing period */
} img_err;

/* Sets code and message; returns -code so callers can "return img_err_set()". */
int img_err_set(img_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("L2 table 0x30000: ") to an already set message. */
void img_err_prepend(img_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the message from errno's strerror() with a prefix:
 * "Could not open 'x'" -> "Could not open 'x': No such file or directory". */
int img_err_errno(img_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void img_err_clear(img_err *e);

#endif
