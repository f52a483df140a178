/*
 * emu/machine/firmware.c -- loading and validating the firmware image.
 *
 * Reads the whole file (a regular file only: a FIFO or a device would
 * never end or change under us) and refuses sizes QEMU's PC machines
 * refuse too (zero, or not a multiple of 64 KiB), plus anything above
 * EMU_PC_MAX_FIRMWARE, which no PC firmware reaches.
 */
#include "firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu/machine/pc.h"

#define FW_ALIGN  (64u << 10)

int emu_fw_check_size(size_t len, const char *what, img_err *err)
{
    if (len == 0) {
        return img_err_set(err, EINVAL, "firmware '%s' is empty", what);
    }
    if (len % FW_ALIGN != 0) {
        return img_err_set(err, EINVAL, "firmware '%s' has size %zu, "
                           "not a multiple of 64 KiB", what, len);
    }
    if (len > EMU_PC_MAX_FIRMWARE) {
        return img_err_set(err, EFBIG, "firmware '%s' has size %zu, "
                           "more than 16 MiB", what, len);
    }
    return 0;
}

/* Reads exactly len bytes from fd into buf. */
static int read_all(int fd, uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;   /* file shrank under us */
        }
        done += (size_t)n;
    }
    return 0;
}

/* Size of the regular file open as fd, checked; 0 or -errno. */
static int fw_file_size(int fd, const char *path, size_t *len,
                        img_err *err)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        return img_err_set(err, errno, "cannot stat firmware '%s': %s",
                           path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return img_err_set(err, EINVAL, "firmware '%s' is not a regular "
                           "file", path);
    }
    if ((uint64_t)st.st_size > EMU_PC_MAX_FIRMWARE) {
        return emu_fw_check_size(EMU_PC_MAX_FIRMWARE + 1, path, err);
    }
    *len = (size_t)st.st_size;
    return emu_fw_check_size(*len, path, err);
}

int emu_fw_load(const char *path, uint8_t **data, size_t *len,
                img_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    uint8_t *buf = NULL;
    int r;

    if (fd < 0) {
        return img_err_set(err, errno, "cannot open firmware '%s': %s",
                           path, strerror(errno));
    }
    r = fw_file_size(fd, path, len, err);
    if (r >= 0) {
        buf = malloc(*len);
        r = buf ? read_all(fd, buf, *len) : -ENOMEM;
        if (r < 0) {
            img_err_set(err, -r, "cannot read firmware '%s': %s", path,
                        strerror(-r));
        }
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    *data = buf;
    return 0;
}
