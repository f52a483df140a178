/* convert/zero_detect.c -- zero-block detection for sparse output.
 *
 * cvt_is_zero() is the hot path of every data chunk, so it avoids a byte
 * loop: a non-zero byte almost always shows up in the first few words, and
 * for a buffer whose head is zero, "buf[i] == buf[i + HEAD] for every i"
 * proves the rest zero; memcmp() does that comparison at memory speed.
 * (The idea of QEMU's buffer_is_zero; this is our own code.)
 */
#include "zero_detect.h"

#include <string.h>

/* Bytes checked word-wise before the shifted comparison. */
#define HEAD 64

/* True when the n (<= HEAD) bytes at p are zero. */
static int head_is_zero(const unsigned char *p, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8); /* no alignment assumption */
        acc |= w;
    }
    for (; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

int cvt_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len <= HEAD) {
        return head_is_zero(p, len);
    }
    if (!head_is_zero(p, HEAD)) {
        return 0;
    }
    /* The head is zero and the buffer repeats with period HEAD. */
    return memcmp(p, p + HEAD, len - HEAD) == 0;
}

size_t cvt_zero_granularity(uint64_t min_sparse)
{
    uint64_t g = 1;
    while (g <= min_sparse / 2) {
        g <<= 1;
    }
    return (size_t)g;
}

/* Length of the block at pos: up to the next gran boundary of the target,
 * or the end of the buffer. */
static size_t block_len(uint64_t off, size_t pos, size_t len, size_t gran)
{
    size_t n = gran - (size_t)((off + pos) & (gran - 1));
    return n < len - pos ? n : len - pos;
}

/* Length of the run of blocks from pos that are all zero or all data;
 * *zero says which. */
static size_t run_len(const uint8_t *buf, size_t pos, size_t len, uint64_t off,
                      size_t gran, int *zero)
{
    size_t n = block_len(off, pos, len, gran);
    size_t end = pos + n;
    *zero = cvt_is_zero(buf + pos, n);
    while (end < len) {
        n = block_len(off, end, len, gran);
        if (cvt_is_zero(buf + end, n) != *zero) {
            break;
        }
        end += n;
    }
    return end - pos;
}

int cvt_zero_split(const uint8_t *buf, size_t len, uint64_t off, size_t gran,
                   size_t min, size_t *pnum)
{
    int zero;
    if (len == 0) {
        *pnum = 0;
        return 0;
    }
    if (cvt_is_zero(buf, len)) {
        *pnum = len; /* the common all-zero chunk: one check */
        return 0;
    }
    if (min > len) {
        min = len;
    }
    size_t pos = run_len(buf, 0, len, off, gran, &zero);
    if (zero) {
        *pnum = pos; /* leading zero blocks are a hole whatever their size */
        return 0;
    }
    size_t used = pos;
    while (pos < len) {
        size_t n = run_len(buf, pos, len, off, gran, &zero);
        pos += n;
        if (!zero) {
            used = pos; /* absorbs the short zero run before it */
        } else if (n >= min) {
            break;
        }
    }
    *pnum = used;
    return 1;
}
