/* formats/qcow2/qcow2_snapshot.c -- reading the internal snapshot table.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Snapshots".  Entries have variable
 * length (extra data, id and name), so each is bounded before it is read:
 * at most QCOW2_MAX_SNAPSHOTS entries, QCOW2_MAX_SNAPSHOT_EXTRA bytes of
 * extra data each, and the whole table within QCOW2_MAX_SNAPSHOT_TABLE
 * bytes and within the file.  Only the directory is loaded; snapshot L1
 * tables are validated by whoever uses them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* Checks that [off, off + len) is inside the table bounds and the file. */
static int check_room(const qcow2_state *s, uint64_t off, uint64_t len,
                      img_err *err)
{
    uint64_t start = s->hdr.snapshots_offset;
    if (off - start > QCOW2_MAX_SNAPSHOT_TABLE ||
        len > QCOW2_MAX_SNAPSHOT_TABLE - (off - start)) {
        return img_err_set(err, EFBIG, "Snapshot table is too big");
    }
    if (off > s->file_size || len > s->file_size - off) {
        return img_err_set(err, EINVAL, "Snapshot table is beyond the end "
                           "of the file");
    }
    return 0;
}

/* The fixed 40 bytes of an entry. */
static void decode_fixed(const uint8_t *b, qcow2_snapshot *sn,
                         uint16_t *id_len, uint16_t *name_len)
{
    sn->l1_offset = qcow2_be64(b + QCOW2_SN_L1_OFFSET);
    sn->l1_size = qcow2_be32(b + QCOW2_SN_L1_SIZE);
    *id_len = qcow2_be16(b + QCOW2_SN_ID_LEN);
    *name_len = qcow2_be16(b + QCOW2_SN_NAME_LEN);
    sn->date_sec = qcow2_be32(b + QCOW2_SN_DATE_SEC);
    sn->date_nsec = qcow2_be32(b + QCOW2_SN_DATE_NSEC);
    sn->vm_clock_nsec = qcow2_be64(b + QCOW2_SN_VM_CLOCK_NSEC);
    sn->vm_state_size = qcow2_be32(b + QCOW2_SN_VM_STATE_SIZE);
    sn->extra_size = qcow2_be32(b + QCOW2_SN_EXTRA_SIZE);
}

/* The optional fields of the extra data, when present. */
static void decode_extra(const uint8_t *x, uint32_t len, uint64_t size,
                         qcow2_snapshot *sn)
{
    sn->disk_size = size;
    sn->icount = -1;
    if (len >= QCOW2_SN_EXTRA_VM_STATE + 8) {
        sn->vm_state_size = qcow2_be64(x + QCOW2_SN_EXTRA_VM_STATE);
    }
    if (len >= QCOW2_SN_EXTRA_DISK_SIZE + 8) {
        sn->disk_size = qcow2_be64(x + QCOW2_SN_EXTRA_DISK_SIZE);
    }
    if (len >= QCOW2_SN_EXTRA_ICOUNT + 8) {
        sn->icount = (int64_t)qcow2_be64(x + QCOW2_SN_EXTRA_ICOUNT);
    }
}

/* Reads the variable part (extra data, id, name) at off. */
static int read_strings(const qcow2_state *s, img_file *file, uint64_t off,
                        uint16_t id_len, uint16_t name_len,
                        qcow2_snapshot *sn, img_err *err)
{
    size_t n = (size_t)sn->extra_size + id_len + name_len;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = img_file_pread(file, b, n, off, err);
    if (r >= 0 && sn->extra_size > QCOW2_SN_EXTRA_KNOWN) {
        /* unknown extra data survives a rewrite of the table */
        size_t extra = sn->extra_size - QCOW2_SN_EXTRA_KNOWN;
        sn->extra_unknown = malloc(extra);
        if (!sn->extra_unknown) {
            r = img_err_set(err, ENOMEM, "Out of memory");
        } else {
            memcpy(sn->extra_unknown, b + QCOW2_SN_EXTRA_KNOWN, extra);
        }
    }
    if (r >= 0) {
        decode_extra(b, sn->extra_size, s->hdr.size, sn);
        sn->id = strndup((const char *)b + sn->extra_size, id_len);
        sn->name = strndup((const char *)b + sn->extra_size + id_len,
                           name_len);
        if (!sn->id || !sn->name) {
            r = img_err_set(err, ENOMEM, "Out of memory");
        }
    }
    free(b);
    return r;
}

/* Reads the entry at *off and advances *off past its padding. */
static int read_entry(const qcow2_state *s, img_file *file, uint64_t *off,
                      qcow2_snapshot *sn, img_err *err)
{
    uint8_t fixed[QCOW2_SN_FIXED_LEN];
    uint16_t id_len, name_len;
    int r = check_room(s, *off, sizeof(fixed), err);
    if (r >= 0) {
        r = img_file_pread(file, fixed, sizeof(fixed), *off, err);
    }
    if (r < 0) {
        return r;
    }
    decode_fixed(fixed, sn, &id_len, &name_len);
    if (sn->extra_size > QCOW2_MAX_SNAPSHOT_EXTRA) {
        return img_err_set(err, EFBIG, "Too much extra metadata in "
                           "snapshot table entry");
    }
    uint64_t var = (uint64_t)sn->extra_size + id_len + name_len;
    r = check_room(s, *off + sizeof(fixed), var, err);
    if (r >= 0) {
        r = read_strings(s, file, *off + sizeof(fixed), id_len, name_len,
                         sn, err);
    }
    *off += (sizeof(fixed) + var + 7) & ~7ull;
    return r;
}

/* Reads all nb_snapshots entries (at most QCOW2_MAX_SNAPSHOTS, checked
 * by the header decoder); the array is freed by qcow2_snapshots_free()
 * also after a failure. */
int qcow2_snapshots_load(qcow2_state *s, img_file *file, img_err *err)
{
    uint32_t n = s->hdr.nb_snapshots;
    if (n == 0) {
        return 0;
    }
    s->snapshots = calloc(n, sizeof(*s->snapshots));
    if (!s->snapshots) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    uint64_t off = s->hdr.snapshots_offset;
    for (uint32_t i = 0; i < n; i++) {
        s->nb_snapshots = i + 1; /* so that a failure frees this entry */
        int r = read_entry(s, file, &off, &s->snapshots[i], err);
        if (r < 0) {
            img_err_prepend(err, "Snapshot %" PRIu32 ": ", i);
            return r;
        }
    }
    s->snapshots_size = off - s->hdr.snapshots_offset;
    return 0;
}

/* Frees the directory (idempotent). */
void qcow2_snapshots_free(qcow2_state *s)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        free(s->snapshots[i].id);
        free(s->snapshots[i].name);
        free(s->snapshots[i].extra_unknown);
    }
    free(s->snapshots);
    s->snapshots = NULL;
    s->nb_snapshots = 0;
}
