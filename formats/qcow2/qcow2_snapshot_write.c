/* formats/qcow2/qcow2_snapshot_write.c -- internal snapshots: list,
 * create, apply (goto), delete and the temporary read-only view.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Snapshots" and "Cluster mapping"
 * (OFLAG_COPIED: set exactly when a table's or cluster's refcount is one).
 * Behaviour follows QEMU 7.2's block/qcow2-snapshot.c:
 *
 *   - a snapshot is a copy of the active L1 table; every L2 table and
 *     data cluster reachable from it gets one more reference, and the
 *     flags of the active tables are recomputed, so that the next write
 *     to a shared cluster copies it (qcow2_write.c, qcow2_table.c);
 *   - the snapshot table is rewritten as a whole into new clusters; the
 *     header points at it only once it and its refcounts are on disk
 *     (flushed), and the old table is freed after that;
 *   - apply takes references for the snapshot's tables first, then
 *     overwrites the active L1 table, then drops the old references;
 *   - delete removes the entry from the table first, then drops the
 *     snapshot's references.
 * Each refcount pass ends with a metadata flush.  A crash leaves leaked
 * clusters or, inside a pass, OFLAG_COPIED flags out of step with the
 * refcounts (a flag set where the count was already raised: harmless, as
 * nothing points at the new references yet), exactly what QEMU leaves;
 * "check -r all" repairs both, and no snapshot loses data (see
 * tests/formats/qcow2/test_qcow2_snapshot.c).  Byte for byte, the result
 * of every operation is what qemu-img 7.2 writes (dates aside).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* QEMU's QCOW_MAX_L1_SIZE for snapshot L1 tables. */
#define SN_L1_MAX_BYTES QCOW2_MAX_L1_BYTES

/* ---- lookup ---- */

/* Index of the snapshot matching id and name (either may be NULL), or
 * -1 (QEMU's find_snapshot_by_id_and_name). */
static int find_id_and_name(const qcow2_state *s, const char *id,
                            const char *name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const qcow2_snapshot *sn = &s->snapshots[i];
        if ((!id || !strcmp(sn->id, id)) && (!name || !strcmp(sn->name,
                                                              name))) {
            return (int)i;
        }
    }
    return -1;
}

/* By id first, then by name. */
static int find_id_or_name(const qcow2_state *s, const char *id_or_name)
{
    int i = find_id_and_name(s, id_or_name, NULL);
    return i >= 0 ? i : find_id_and_name(s, NULL, id_or_name);
}

/* QEMU's qcow2_validate_table() for a snapshot L1 table, plus the file
 * bounds (the table is read whole). */
static int validate_sn_l1(const qcow2_state *s, const qcow2_snapshot *sn,
                          img_err *err)
{
    uint64_t bytes = (uint64_t)sn->l1_size * QCOW2_L1E_SIZE;
    if (bytes > SN_L1_MAX_BYTES) {
        return img_err_set(err, EFBIG, "Snapshot L1 table too large");
    }
    if (sn->l1_offset > s->file_size || bytes > s->file_size - sn->l1_offset) {
        return img_err_set(err, EINVAL, "Snapshot L1 table exceeds file "
                           "size");
    }
    if (qcow2_cluster_offset_in(s, sn->l1_offset)) {
        return img_err_set(err, EINVAL, "Snapshot L1 table offset invalid");
    }
    return 0;
}

/* ---- L1 tables ---- */

/* Reads n entries at off into a new zeroed table of cap >= n entries
 * (host order). */
static int read_l1(img_file *file, uint64_t off, uint64_t n, uint64_t cap,
                   uint64_t **out, img_err *err)
{
    uint64_t *t = calloc(cap ? cap : 1, sizeof(*t));
    if (!t) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = n ? img_file_pread(file, t, n * QCOW2_L1E_SIZE, off, err) : 0;
    if (r < 0) {
        img_err_prepend(err, "Could not read L1 table: ");
        free(t);
        return r;
    }
    for (uint64_t i = 0; i < n; i++) {
        t[i] = qcow2_be64((const uint8_t *)&t[i]);
    }
    *out = t;
    return 0;
}

/* Writes n entries of t at off (big-endian); with sync, flushes too. */
static int write_l1(qcow2_state *s, img_file *file, uint64_t off,
                    const uint64_t *t, uint64_t n, int sync, img_err *err)
{
    if (n == 0) {
        return 0;
    }
    uint8_t *be = malloc(n * QCOW2_L1E_SIZE);
    if (!be) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint64_t i = 0; i < n; i++) {
        qcow2_put_be64(be + i * QCOW2_L1E_SIZE, t[i]);
    }
    int r = qcow2_file_write(s, file, be, n * QCOW2_L1E_SIZE, off, err);
    free(be);
    if (r >= 0 && sync) {
        r = qcow2_flush_files(s, file, err);
    }
    return r;
}

/* Writes t (the whole active table, hdr.l1_size entries) to disk and
 * makes the in-memory copy match. */
static int set_active_l1(qcow2_state *s, img_file *file, const uint64_t *t,
                         img_err *err)
{
    int r = write_l1(s, file, s->hdr.l1_offset, t, s->hdr.l1_size, 1, err);
    if (r >= 0 && s->l1_loaded) {
        memcpy(s->l1, t, (size_t)s->l1_loaded * sizeof(*t));
    }
    return r;
}

/* ---- refcounts (QEMU's qcow2_update_snapshot_refcount) ---- */

/* Adds addend (+1 or -1; 0 does nothing) to the refcount of the host
 * bytes [off, off + len).  New refcount blocks make the update return
 * -EAGAIN after undoing itself; it then simply runs again. */
static int refcount_add(qcow2_state *s, img_file *file, uint64_t off,
                        uint64_t len, int addend, img_err *err)
{
    if (addend == 0) {
        return 0;
    }
    int r;
    do {
        /* freed clusters are punched out, as QEMU's
         * pass-discard-snapshot (on by default) does */
        r = qcow2_update_refcount(s, file, off, len, 1, addend < 0,
                                  addend < 0, err);
    } while (r == -EAGAIN);
    if (r >= 0 && addend > 0 && !s->lazy) {
        s->l2_wait_ref = 1; /* tables reach the disk after the counts */
    }
    return r;
}

/* Changes the refcount of the cluster at host and returns the new one. */
static int cluster_ref(qcow2_state *s, img_file *file, uint64_t host,
                       int addend, uint64_t *rc, img_err *err)
{
    if (qcow2_cluster_offset_in(s, host) || host >= QCOW2_MAX_HOST_OFFSET) {
        return qcow2_mark_corrupt(s, file, err, "Cluster allocation offset "
                                  "%#" PRIx64 " unaligned", host);
    }
    int r = refcount_add(s, file, host, s->cluster_size, addend, err);
    return r < 0 ? r
                 : qcow2_get_refcount(s, file, host >> s->cluster_bits, rc,
                                      err);
}

/* One L2 entry: its references change by addend; returns the entry with
 * OFLAG_COPIED recomputed in *out. */
static int update_entry(qcow2_state *s, img_file *file, uint64_t e,
                        int addend, uint64_t *out, img_err *err)
{
    uint64_t rc = 0;
    int r = 0;
    if (e & QCOW2_OFLAG_COMPRESSED) {
        uint64_t coff, csize;
        qcow2_compressed_range(s, e, &coff, &csize);
        r = refcount_add(s, file, coff, csize, addend, err);
        rc = 2; /* compressed clusters are never written in place */
    } else if (e & QCOW2_L2E_OFFSET_MASK) {
        r = cluster_ref(s, file, e & QCOW2_L2E_OFFSET_MASK, addend, &rc,
                        err);
    }
    *out = (e & ~QCOW2_OFLAG_COPIED) | (rc == 1 ? QCOW2_OFLAG_COPIED : 0);
    return r;
}

/* Every entry of the L2 table at l2 (changed in the cache). */
static int update_l2(qcow2_state *s, img_file *file, uint64_t l2, int addend,
                     img_err *err)
{
    qcow2_l2_slot *slot;
    int r = qcow2_l2_load(s, file, l2, &slot, err);
    if (r < 0) {
        return r;
    }
    slot->pins++;
    uint64_t n = 1ull << s->l2_bits;
    for (uint64_t j = 0; r >= 0 && j < n; j++) {
        uint64_t e = qcow2_l2e(s, slot->table, j), ne;
        r = update_entry(s, file, e, addend, &ne, err);
        if (r >= 0 && ne != e) {
            qcow2_set_l2e(s, slot->table, j, ne,
                          qcow2_l2_bitmap(s, slot->table, j));
            slot->dirty = 1;
        }
    }
    slot->pins--;
    return r;
}

/* The L2 table of L1 entry idx must be a whole cluster in the file. */
static int check_l2_offset(qcow2_state *s, img_file *file, uint64_t l2,
                           uint64_t idx, img_err *err)
{
    if (qcow2_cluster_offset_in(s, l2) || l2 > s->file_size ||
        s->cluster_size > s->file_size - l2) {
        return qcow2_mark_corrupt(s, file, err, "L2 table offset %#" PRIx64
                                  " invalid (L1 index: %#" PRIx64 ")", l2,
                                  idx);
    }
    return 0;
}

/* Changes the references of everything the L1 table t (n entries)
 * reaches by addend (-1, 0, +1) and recomputes OFLAG_COPIED in the L2
 * tables and in t (*changed tells whether t changed).  Ends with a
 * metadata flush. */
static int update_refcounts(qcow2_state *s, img_file *file, uint64_t *t,
                            uint64_t n, int addend, int *changed,
                            img_err *err)
{
    int r = 0;
    *changed = 0;
    for (uint64_t i = 0; r >= 0 && i < n; i++) {
        uint64_t l2 = t[i] & QCOW2_L1E_OFFSET_MASK, rc = 0;
        if (!l2) {
            continue;
        }
        r = check_l2_offset(s, file, l2, i, err);
        if (r >= 0) {
            r = update_l2(s, file, l2, addend, err);
        }
        if (r >= 0) {
            r = cluster_ref(s, file, l2, addend, &rc, err);
        }
        uint64_t ne = l2 | (rc == 1 ? QCOW2_OFLAG_COPIED : 0);
        if (r >= 0 && ne != t[i]) {
            t[i] = ne;
            *changed = 1;
        }
    }
    return r < 0 ? r : qcow2_meta_flush(s, file, err);
}

/* ---- the snapshot table ---- */

/* Bytes of extra data an entry gets when written (at least QEMU 7.2's). */
static uint32_t extra_len(const qcow2_snapshot *sn)
{
    return sn->extra_size > QCOW2_SN_EXTRA_KNOWN ? sn->extra_size
                                                 : QCOW2_SN_EXTRA_KNOWN;
}

/* Bytes of one entry, without the padding that follows it. */
static uint64_t entry_len(const qcow2_snapshot *sn)
{
    return QCOW2_SN_FIXED_LEN + extra_len(sn) + strlen(sn->id) +
           strlen(sn->name);
}

/* Size of the table: each entry starts 8-aligned, the last one is not
 * padded. */
static uint64_t table_len(const qcow2_state *s)
{
    uint64_t off = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        off = ((off + 7) & ~7ull) + entry_len(&s->snapshots[i]);
    }
    return off;
}

/* Encodes one entry at b (zeroed, entry_len bytes). */
static void encode_entry(const qcow2_snapshot *sn, uint8_t *b)
{
    size_t id_len = strlen(sn->id), name_len = strlen(sn->name);
    uint32_t extra = extra_len(sn);
    qcow2_put_be64(b + QCOW2_SN_L1_OFFSET, sn->l1_offset);
    qcow2_put_be32(b + QCOW2_SN_L1_SIZE, sn->l1_size);
    b[QCOW2_SN_ID_LEN] = (uint8_t)(id_len >> 8);
    b[QCOW2_SN_ID_LEN + 1] = (uint8_t)id_len;
    b[QCOW2_SN_NAME_LEN] = (uint8_t)(name_len >> 8);
    b[QCOW2_SN_NAME_LEN + 1] = (uint8_t)name_len;
    qcow2_put_be32(b + QCOW2_SN_DATE_SEC, sn->date_sec);
    qcow2_put_be32(b + QCOW2_SN_DATE_NSEC, sn->date_nsec);
    qcow2_put_be64(b + QCOW2_SN_VM_CLOCK_NSEC, sn->vm_clock_nsec);
    /* a VM state too big for 32 bits reads as none to old readers */
    qcow2_put_be32(b + QCOW2_SN_VM_STATE_SIZE, sn->vm_state_size >> 32
                   ? 0 : (uint32_t)sn->vm_state_size);
    qcow2_put_be32(b + QCOW2_SN_EXTRA_SIZE, extra);
    uint8_t *x = b + QCOW2_SN_FIXED_LEN;
    qcow2_put_be64(x + QCOW2_SN_EXTRA_VM_STATE, sn->vm_state_size);
    qcow2_put_be64(x + QCOW2_SN_EXTRA_DISK_SIZE, sn->disk_size);
    qcow2_put_be64(x + QCOW2_SN_EXTRA_ICOUNT, (uint64_t)sn->icount);
    if (extra > QCOW2_SN_EXTRA_KNOWN && sn->extra_unknown) {
        memcpy(x + QCOW2_SN_EXTRA_KNOWN, sn->extra_unknown,
               extra - QCOW2_SN_EXTRA_KNOWN);
    }
    memcpy(x + extra, sn->id, id_len);
    memcpy(x + extra + id_len, sn->name, name_len);
}

/* The whole table, len bytes (malloc'd). */
static uint8_t *encode_table(const qcow2_state *s, uint64_t len)
{
    uint8_t *b = calloc(len ? len : 1, 1);
    uint64_t off = 0;
    for (uint32_t i = 0; b && i < s->nb_snapshots; i++) {
        off = (off + 7) & ~7ull;
        encode_entry(&s->snapshots[i], b + off);
        off += entry_len(&s->snapshots[i]);
    }
    return b;
}

/* Allocates clusters for the table and writes it there (flushed). */
static int write_table_at(qcow2_state *s, img_file *file, uint64_t len,
                          uint64_t *off, img_err *err)
{
    uint8_t *b = encode_table(s, len);
    if (!b) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = qcow2_write_new_clusters(s, file, b, len, off, err);
    free(b);
    return r;
}

/* Writes s->snapshots as a new table, points the header at it and frees
 * the old one (QEMU's qcow2_write_snapshots). */
static int write_table(qcow2_state *s, img_file *file, img_err *err)
{
    uint64_t len = table_len(s), off = 0;
    if (len > QCOW2_MAX_SNAPSHOT_TABLE) {
        return img_err_set(err, EFBIG, "Snapshot table is too big");
    }
    int r = s->nb_snapshots ? write_table_at(s, file, len, &off, err) : 0;
    if (r < 0) {
        return r;
    }
    uint8_t hdr[12];
    qcow2_put_be32(hdr, s->nb_snapshots);
    qcow2_put_be64(hdr + 4, off);
    r = qcow2_header_write_field(s, file, QCOW2_HDR_NB_SNAPSHOTS, hdr,
                                 sizeof(hdr), err);
    if (r < 0) {
        if (len) {
            (void)qcow2_free_clusters(s, file, off, len, 0, NULL);
        }
        return r;
    }
    uint64_t old_off = s->hdr.snapshots_offset, old_len = s->snapshots_size;
    s->hdr.nb_snapshots = s->nb_snapshots;
    s->hdr.snapshots_offset = off;
    s->snapshots_size = len;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        s->snapshots[i].extra_size = extra_len(&s->snapshots[i]);
    }
    return old_len ? qcow2_free_clusters(s, file, old_off, old_len, 1, err)
                   : 0;
}

/* ---- hooks ---- */

int qcow2_snapshot_list(img *im, img_snapshot_info **out, size_t *n,
                        img_err *err)
{
    qcow2_state *s = im->state;
    if (s->data_file_used) {
        return img_err_set(err, ENOTSUP, "Snapshots are not supported with "
                           "an external data file");
    }
    if (s->nb_snapshots == 0) {
        return 0;
    }
    img_snapshot_info *l = calloc(s->nb_snapshots, sizeof(*l));
    if (!l) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const qcow2_snapshot *sn = &s->snapshots[i];
        l[i] = (img_snapshot_info){
            .id = strdup(sn->id), .name = strdup(sn->name),
            .vm_state_size = sn->vm_state_size, .date_sec = sn->date_sec,
            .date_nsec = sn->date_nsec, .vm_clock_nsec = sn->vm_clock_nsec,
            .icount = sn->icount,
        };
        if (!l[i].id || !l[i].name) {
            img_snapshot_list_free(l, i + 1);
            return img_err_set(err, ENOMEM, "Out of memory");
        }
    }
    *out = l;
    *n = s->nb_snapshots;
    return 0;
}

/* The next id: one more than the largest numeric one (QEMU's
 * find_new_snapshot_id). */
static char *new_id(const qcow2_state *s)
{
    unsigned long max = 0;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        unsigned long id = strtoul(s->snapshots[i].id, NULL, 10);
        max = id > max ? id : max;
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%lu", max + 1);
    return strdup(buf);
}

/* Refusals shared by the changing hooks, then the writer's preparation
 * and a flush, so that the disk holds the current state. */
static int begin_change(qcow2_state *s, img_file *file, img_err *err)
{
    if (s->data_file_used) {
        return img_err_set(err, ENOTSUP, "Snapshots are not supported with "
                           "an external data file");
    }
    int r = qcow2_prepare_write(s, file, err);
    return r < 0 ? r : qcow2_meta_flush(s, file, err);
}

/* Copies the active L1 table to new clusters and takes the references of
 * everything it reaches; sn gets the copy's position. */
static int snapshot_tables(qcow2_state *s, img_file *file,
                           qcow2_snapshot *sn, img_err *err)
{
    uint64_t n = s->hdr.l1_size, off = 0, *t;
    int changed;
    int r = read_l1(file, s->hdr.l1_offset, n, n, &t, err);
    if (r < 0) {
        return r;
    }
    if (n) {
        r = qcow2_alloc_clusters(s, file, n * QCOW2_L1E_SIZE, &off, err);
    }
    if (r >= 0 && n) {
        r = qcow2_overlap_check(s, file, off, n * QCOW2_L1E_SIZE, err);
    }
    if (r >= 0) {
        r = write_l1(s, file, off, t, n, 0, err);
    }
    if (r >= 0) {
        sn->l1_offset = off;
        sn->l1_size = (uint32_t)n;
        r = update_refcounts(s, file, t, n, 1, &changed, err);
    }
    if (r >= 0 && changed) {
        r = set_active_l1(s, file, t, err);
    }
    free(t);
    return r;
}

/* Appends sn to the directory (taking its strings) and rewrites the
 * table; on failure the directory is as before. */
static int append_entry(qcow2_state *s, img_file *file, qcow2_snapshot *sn,
                        img_err *err)
{
    qcow2_snapshot *a = realloc(s->snapshots,
                                (s->nb_snapshots + 1) * sizeof(*a));
    if (!a) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    s->snapshots = a;
    a[s->nb_snapshots++] = *sn;
    int r = write_table(s, file, err);
    if (r < 0) {
        s->nb_snapshots--;
    }
    return r;
}

int qcow2_snapshot_create(img *im, const img_snapshot_info *info,
                          img_err *err)
{
    qcow2_state *s = im->state;
    if (s->nb_snapshots >= QCOW2_MAX_SNAPSHOTS) {
        return img_err_set(err, EFBIG, "Too many snapshots");
    }
    int r = begin_change(s, im->file, err);
    if (r < 0) {
        return r;
    }
    qcow2_snapshot sn = {
        .id = new_id(s), .name = strdup(info->name ? info->name : ""),
        .date_sec = info->date_sec, .date_nsec = info->date_nsec,
        .vm_clock_nsec = info->vm_clock_nsec,
        .vm_state_size = info->vm_state_size, .disk_size = s->hdr.size,
        .icount = info->icount, .extra_size = QCOW2_SN_EXTRA_KNOWN,
    };
    if (!sn.id || !sn.name) {
        r = img_err_set(err, ENOMEM, "Out of memory");
    } else if (strlen(sn.name) > UINT16_MAX) {
        r = img_err_set(err, EINVAL, "Snapshot name is too long");
    }
    if (r >= 0) {
        r = snapshot_tables(s, im->file, &sn, err);
    }
    if (r >= 0) {
        r = append_entry(s, im->file, &sn, err);
    }
    if (r < 0) {
        free(sn.id);
        free(sn.name);
    }
    return r;
}

/* Takes the references of the snapshot's tables (fixing its own flags
 * on disk), then puts its L1 table in place of the active one and drops
 * the references of the old one. */
static int goto_tables(qcow2_state *s, img_file *file,
                       const qcow2_snapshot *sn, img_err *err)
{
    uint64_t cur = s->hdr.l1_size, *snt = NULL, *upd = NULL, *old = NULL;
    int changed;
    int r = read_l1(file, sn->l1_offset, sn->l1_size, cur, &snt, err);
    if (r >= 0) {
        r = read_l1(file, sn->l1_offset, sn->l1_size, sn->l1_size, &upd,
                    err);
    }
    if (r >= 0) {
        r = update_refcounts(s, file, upd, sn->l1_size, 1, &changed, err);
    }
    if (r >= 0 && changed) {
        r = write_l1(s, file, sn->l1_offset, upd, sn->l1_size, 1, err);
    }
    if (r >= 0) {
        r = read_l1(file, s->hdr.l1_offset, cur, cur, &old, err);
    }
    if (r >= 0) {
        /* with the flags of the raised counts (QEMU writes the older
         * ones: OFLAG_COPIED on shared tables until the last pass); the
         * final table is the same either way */
        memcpy(snt, upd, (size_t)sn->l1_size * sizeof(*snt));
        r = set_active_l1(s, file, snt, err);
    }
    if (r >= 0) {
        r = update_refcounts(s, file, old, cur, -1, &changed, err);
    }
    if (r >= 0) {
        r = update_refcounts(s, file, snt, cur, 0, &changed, err);
    }
    if (r >= 0 && changed) {
        r = set_active_l1(s, file, snt, err);
    }
    free(snt);
    free(upd);
    free(old);
    return r;
}

int qcow2_snapshot_goto(img *im, const char *id_or_name, img_err *err)
{
    qcow2_state *s = im->state;
    if (s->data_file_used) {
        return img_err_set(err, ENOTSUP, "Snapshots are not supported with "
                           "an external data file");
    }
    int i = find_id_or_name(s, id_or_name);
    if (i < 0) {
        return img_err_set(err, ENOENT, "No such file or directory");
    }
    const qcow2_snapshot *sn = &s->snapshots[i];
    int r = validate_sn_l1(s, sn, err);
    if (r < 0) {
        return r;
    }
    r = begin_change(s, im->file, err);
    if (r >= 0 && sn->disk_size != s->hdr.size) {
        /* QEMU 7.2 first resizes the image to the snapshot's size; the
         * active layer is about to be replaced, so its tail is dropped
         * (our shrink refuses to cut data otherwise) */
        if (sn->disk_size < im->size) {
            r = qcow2_discard(im, sn->disk_size, im->size - sn->disk_size,
                              err);
        }
        r = r < 0 ? r : qcow2_truncate(im, sn->disk_size, IMG_PREALLOC_OFF,
                                       err);
        if (r >= 0) {
            im->size = sn->disk_size;
            sn = &s->snapshots[i];
        }
    }
    if (r >= 0 && sn->l1_size > s->hdr.l1_size) {
        r = qcow2_l1_grow(s, im->file, sn->l1_size, err);
    }
    return r < 0 ? r : goto_tables(s, im->file, sn, err);
}

/* Drops the references of a deleted snapshot's tables, frees its L1
 * table and recomputes the active flags. */
static int delete_tables(qcow2_state *s, img_file *file,
                         const qcow2_snapshot *sn, img_err *err)
{
    uint64_t *t = NULL;
    int changed;
    int r = read_l1(file, sn->l1_offset, sn->l1_size, sn->l1_size, &t,
                    err);
    if (r >= 0) {
        r = update_refcounts(s, file, t, sn->l1_size, -1, &changed, err);
    }
    free(t);
    t = NULL;
    if (r >= 0 && sn->l1_size) {
        r = qcow2_free_clusters(s, file, sn->l1_offset,
                                (uint64_t)sn->l1_size * QCOW2_L1E_SIZE, 1,
                                err);
    }
    if (r >= 0) {
        r = read_l1(file, s->hdr.l1_offset, s->hdr.l1_size,
                    s->hdr.l1_size, &t, err);
    }
    if (r >= 0) {
        r = update_refcounts(s, file, t, s->hdr.l1_size, 0, &changed, err);
    }
    if (r >= 0 && changed) {
        r = set_active_l1(s, file, t, err);
    }
    free(t);
    return r < 0 ? r : qcow2_meta_flush(s, file, err);
}

int qcow2_snapshot_delete(img *im, const char *id, const char *name,
                          img_err *err)
{
    qcow2_state *s = im->state;
    if (s->data_file_used) {
        return img_err_set(err, ENOTSUP, "Snapshots are not supported with "
                           "an external data file");
    }
    int i = find_id_and_name(s, id, name);
    if (i < 0) {
        return img_err_set(err, ENOENT, "Can't find the snapshot");
    }
    qcow2_snapshot sn = s->snapshots[i];
    int r = validate_sn_l1(s, &sn, err);
    if (r >= 0) {
        r = begin_change(s, im->file, err);
    }
    if (r < 0) {
        return r;
    }
    /* out of the table first: a crash after this only leaks */
    memmove(&s->snapshots[i], &s->snapshots[i + 1],
            (s->nb_snapshots - (uint32_t)i - 1) * sizeof(sn));
    s->nb_snapshots--;
    r = write_table(s, im->file, err);
    if (r < 0) {
        memmove(&s->snapshots[i + 1], &s->snapshots[i],
                (s->nb_snapshots - (uint32_t)i) * sizeof(sn));
        s->snapshots[i] = sn;
        s->nb_snapshots++;
        img_err_prepend(err, "Failed to remove snapshot from snapshot "
                        "list: ");
        return r;
    }
    r = delete_tables(s, im->file, &sn, err);
    free(sn.id);
    free(sn.name);
    free(sn.extra_unknown);
    return r;
}

int qcow2_snapshot_load_tmp(img *im, const char *id, const char *name,
                            img_err *err)
{
    qcow2_state *s = im->state;
    int i = find_id_and_name(s, id, name);
    if (i < 0) {
        return img_err_set(err, ENOENT, "Can't find snapshot");
    }
    const qcow2_snapshot *sn = &s->snapshots[i];
    uint64_t *t;
    int r = validate_sn_l1(s, sn, err);
    if (r >= 0) {
        r = read_l1(im->file, sn->l1_offset, sn->l1_size, sn->l1_size, &t,
                    err);
    }
    if (r < 0) {
        return r;
    }
    /* reads beyond the snapshot's table see unallocated clusters */
    free(s->l1);
    s->l1 = t;
    s->l1_loaded = sn->l1_size;
    return 0;
}
