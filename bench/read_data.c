/* bench/read_data.c -- an input's data read plainly: how fast this
 * machine's storage gives it to a simple reader.
 *
 *   read_data FILE
 *
 * Walks the data extents of FILE (SEEK_DATA / SEEK_HOLE), so the holes
 * of a sparse file cost nothing, and reads each in order with 2 MiB
 * requests into one buffer: one thread, no read-ahead hints, nothing
 * written.  bench/convert.sh times it in place of vdisk beside qemu-img
 * converting the same file, on a cold page cache: the part of each
 * tool's time that is the storage's.  A converter can still beat it a
 * little by asking for data ahead (vdisk's read-ahead, convert/prefetch.c)
 * while it writes.
 *
 * A benchmark tool, not part of vdisk; built on Linux only (SEEK_DATA).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQUEST ((size_t)2 << 20)

/* Reads [start, end) of fd into buf, a request at a time. */
static int read_extent(int fd, off_t start, off_t end, char *buf)
{
    for (off_t off = start; off < end;) {
        size_t want = (size_t)(end - off) < REQUEST ? (size_t)(end - off)
                                                     : REQUEST;
        ssize_t n = pread(fd, buf, want, off);
        if (n <= 0) {
            return -1;
        }
        off += n;
    }
    return 0;
}

/* Reads every data extent of fd. */
static int read_all_data(int fd, char *buf)
{
    off_t size = lseek(fd, 0, SEEK_END), off = 0;
    while (off < size) {
        off_t start = lseek(fd, off, SEEK_DATA);
        if (start < 0) {
            return errno == ENXIO ? 0 : -1; /* ENXIO: no data after off */
        }
        off_t end = lseek(fd, start, SEEK_HOLE);
        if (end < 0 || read_extent(fd, start, end, buf) < 0) {
            return -1;
        }
        off = end;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: read_data FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    char *buf = malloc(REQUEST);
    if (fd < 0 || !buf || read_all_data(fd, buf) < 0) {
        fprintf(stderr, "read_data: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    free(buf);
    close(fd);
    return 0;
}
