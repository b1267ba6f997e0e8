/* The versioned, checksummed container (docs/format.md): writer, reader, CRC-32. */
#include <stdlib.h>
#include <string.h>

#include "io/container.h"

/* ---- CRC-32 (reflected, polynomial 0xEDB88320), table built at compile time ---- */
#define C1(c) (((c) & 1) ? 0xEDB88320u ^ ((c) >> 1) : (c) >> 1)
#define C8(c) C1(C1(C1(C1(C1(C1(C1(C1(c))))))))
#define R4(i) C8(i), C8(i + 1), C8(i + 2), C8(i + 3)
#define R16(i) R4(i), R4(i + 4), R4(i + 8), R4(i + 12)
#define R64(i) R16(i), R16(i + 16), R16(i + 32), R16(i + 48)
static const uint32_t crc_table[256] = {R64(0u), R64(64u), R64(128u), R64(192u)};

uint32_t hosmi_crc32(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian encoding, independent of the host's byte order ---- */
static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void w_raw(hosmi_writer *w, uint64_t v, int bytes)
{
    if (w->buf)
        put_le(w->buf + w->pos, v, bytes);
    w->pos += bytes;
}

void hosmi_w_begin(hosmi_writer *w, void *buf, const char *magic)
{
    w->buf = buf;
    w->pos = 0;
    w->sections = 0;
    w->version = 1;
    w->section_start = -1;
    if (w->buf)
        memcpy(w->buf, magic, 8);
    w->pos = HOSMI_HEADER_BYTES;
}

void hosmi_w_section(hosmi_writer *w, uint32_t tag)
{
    w_raw(w, tag, 4);
    w_raw(w, 0, 4);
    w->section_start = w->pos;
    w_raw(w, 0, 8); /* length, patched by hosmi_w_section_end */
    w->sections++;
}

void hosmi_w_section_end(hosmi_writer *w)
{
    if (w->buf)
        put_le(w->buf + w->section_start, (uint64_t)(w->pos - w->section_start - 8), 8);
}

void hosmi_w_u32(hosmi_writer *w, uint32_t v)
{
    w_raw(w, v, 4);
}

void hosmi_w_u64(hosmi_writer *w, uint64_t v)
{
    w_raw(w, v, 8);
}

void hosmi_w_f64(hosmi_writer *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    w_raw(w, u, 8);
}

void hosmi_w_f32s(hosmi_writer *w, const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        w_raw(w, u, 4);
    }
}

void hosmi_w_bytes(hosmi_writer *w, const void *v, int64_t n)
{
    const uint8_t *b = v;
    for (int64_t i = 0; i < n; i++)
        w_raw(w, b[i], 1);
}

int64_t hosmi_w_end(hosmi_writer *w)
{
    int64_t total = w->pos + 4;
    if (w->buf) {
        put_le(w->buf + 8, w->version, 4);
        put_le(w->buf + 12, w->sections, 4);
        put_le(w->buf + 16, (uint64_t)total, 8);
        put_le(w->buf + w->pos, hosmi_crc32(0, w->buf, (size_t)w->pos), 4);
    }
    w->pos = total;
    return total;
}

int64_t hosmi_encoded_size(const char *magic, hosmi_encode_fn fn, const void *obj)
{
    hosmi_writer w;
    hosmi_w_begin(&w, NULL, magic);
    fn(&w, obj);
    return hosmi_w_end(&w);
}

int hosmi_encode(const char *fname, const char *magic, hosmi_encode_fn fn, const void *obj,
                 void *buf, int64_t cap, int64_t *written)
{
    int64_t size = hosmi_encoded_size(magic, fn, obj);
    if (!buf)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: buf is NULL", fname);
    if (cap < size)
        return hosmi_fail(NULL, HOSM_E_BUFFER, "%s: %lld bytes needed, %lld given", fname,
                          (long long)size, (long long)cap);
    hosmi_writer w;
    hosmi_w_begin(&w, buf, magic);
    fn(&w, obj);
    hosmi_w_end(&w);
    if (written)
        *written = size;
    return HOSM_OK;
}

int hosmi_r_open(hosmi_reader *r, const void *buf, int64_t size, const char *magic,
                 uint32_t *sections, char *msg)
{
    const uint8_t *p = buf;
    if (size < 8 || memcmp(p, magic, 8) != 0) {
        /* A prefix of the right magic is a truncated file, anything else foreign. */
        if (size < 8 && size >= 0 && memcmp(p, magic, (size_t)size) == 0)
            return hosmi_fail(msg, HOSM_E_TRUNCATED, "data ends after %lld bytes, inside the header",
                              (long long)size);
        const int ckpt = size >= 8 && memcmp(p, HOSMI_MAGIC_CHECKPOINT, 8) == 0;
        if (ckpt || (size >= 8 && memcmp(p, HOSMI_MAGIC_MODEL, 8) == 0))
            return hosmi_fail(msg, HOSM_E_FORMAT, "a libhosm %s, not a %s (load it with %s)",
                              ckpt ? "checkpoint" : "model file",
                              ckpt ? "model file" : "checkpoint",
                              ckpt ? "hosm_trainer_load" : "hosm_model_load");
        if (size >= 8 && memcmp(p, "HOSM", 4) == 0)
            return hosmi_fail(msg, HOSM_E_FORMAT, "a libhosm file of another kind (expected %.8s)",
                              magic);
        return hosmi_fail(msg, HOSM_E_FORMAT, "not a libhosm file (expected magic %.8s)", magic);
    }
    if (size < HOSMI_HEADER_BYTES + 4)
        return hosmi_fail(msg, HOSM_E_TRUNCATED, "data ends after %lld bytes, inside the header",
                          (long long)size);
    uint32_t version = (uint32_t)get_le(p + 8, 4);
    if (version < 1 || version > HOSMI_FORMAT_VERSION)
        return hosmi_fail(msg, HOSM_E_VERSION, "format version %u; this library reads 1 to %d",
                          version, HOSMI_FORMAT_VERSION);
    uint64_t total = get_le(p + 16, 8);
    if (total > (uint64_t)size)
        return hosmi_fail(msg, HOSM_E_TRUNCATED, "data holds %lld of %llu bytes", (long long)size,
                          (unsigned long long)total);
    if (total != (uint64_t)size)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "size field %llu but %lld bytes given",
                          (unsigned long long)total, (long long)size);
    uint32_t stored = (uint32_t)get_le(p + size - 4, 4);
    if (hosmi_crc32(0, p, (size_t)(size - 4)) != stored)
        return hosmi_fail(msg, HOSM_E_CORRUPT, "checksum mismatch");
    *sections = (uint32_t)get_le(p + 12, 4);
    r->p = p;
    r->size = size - 4;
    r->pos = HOSMI_HEADER_BYTES;
    r->bad = 0;
    r->version = version;
    return HOSM_OK;
}

static const uint8_t *r_take(hosmi_reader *r, int64_t bytes)
{
    if (r->bad || bytes < 0 || bytes > r->size - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p + r->pos;
    r->pos += bytes;
    return q;
}

int hosmi_r_section(hosmi_reader *r, uint32_t *tag, hosmi_reader *payload)
{
    const uint8_t *h = r_take(r, 16);
    if (!h)
        return -1;
    *tag = (uint32_t)get_le(h, 4);
    uint64_t len = get_le(h + 8, 8);
    if (get_le(h + 4, 4) != 0)
        return -2;
    if (len > (uint64_t)(r->size - r->pos)) {
        r->bad = 1;
        return -1;
    }
    payload->p = r->p + r->pos;
    payload->size = (int64_t)len;
    payload->pos = 0;
    payload->bad = 0;
    payload->version = r->version;
    r->pos += (int64_t)len;
    return 0;
}

uint32_t hosmi_r_u32(hosmi_reader *r)
{
    const uint8_t *q = r_take(r, 4);
    return q ? (uint32_t)get_le(q, 4) : 0;
}

uint64_t hosmi_r_u64(hosmi_reader *r)
{
    const uint8_t *q = r_take(r, 8);
    return q ? get_le(q, 8) : 0;
}

double hosmi_r_f64(hosmi_reader *r)
{
    uint64_t u = hosmi_r_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

void hosmi_r_f32s(hosmi_reader *r, float *v, int64_t n)
{
    const uint8_t *q = n >= 0 && n <= INT64_MAX / 4 ? r_take(r, 4 * n) : NULL;
    if (!q) {
        r->bad = 1;
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)get_le(q + 4 * i, 4);
        memcpy(&v[i], &u, 4);
    }
}
