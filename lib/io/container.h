/* The libhosm container format (docs/format.md): little-endian,
 *   magic[8] | u32 format version | u32 section count | u64 total size |
 *   sections: u32 tag | u32 reserved (0) | u64 payload bytes | payload |
 *   u32 CRC-32 of every byte before it.
 * A writer with buf == NULL only counts, so the size is known before writing. */
#ifndef HOSM_CONTAINER_H
#define HOSM_CONTAINER_H

#include "core/internal.h"

/* The newest format version this library reads. A writer uses the lowest
 * version that defines what the file holds: 1, 2 for an s2 network, 3 for
 * settings, 4 for an energy model, 5 for a denoiser, 6 for a log-variance
 * s2 head. */
#define HOSMI_FORMAT_VERSION 6
#define HOSMI_HEADER_BYTES 24
#define HOSMI_MAGIC_MODEL "HOSMMODL"
#define HOSMI_MAGIC_CHECKPOINT "HOSMCKPT"

/* Section tags: four ASCII characters read as a little-endian u32. */
#define HOSMI_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

typedef struct {
    uint8_t *buf; /* NULL: count only */
    int64_t pos;
    int64_t section_start;
    uint32_t sections;
    uint32_t version; /* raised by writers of newer sections */
} hosmi_writer;

/* Raises the file's version to at least v (what a section needs). */
static inline void hosmi_w_need_version(hosmi_writer *w, uint32_t v)
{
    if (w->version < v)
        w->version = v;
}

void hosmi_w_begin(hosmi_writer *w, void *buf, const char *magic);
void hosmi_w_section(hosmi_writer *w, uint32_t tag);
void hosmi_w_section_end(hosmi_writer *w);
void hosmi_w_u32(hosmi_writer *w, uint32_t v);
void hosmi_w_u64(hosmi_writer *w, uint64_t v);
void hosmi_w_f64(hosmi_writer *w, double v);
void hosmi_w_f32s(hosmi_writer *w, const float *v, int64_t n);
void hosmi_w_bytes(hosmi_writer *w, const void *v, int64_t n);
/* Finishes header and checksum; returns the total size. */
int64_t hosmi_w_end(hosmi_writer *w);

typedef struct {
    const uint8_t *p;
    int64_t size, pos;
    int bad; /* set when a read runs past the end */
    uint32_t version; /* the file's format version */
} hosmi_reader;

/* Checks magic, version, size and checksum of a whole buffer, then positions
 * r at the first section. Returns a status; msg receives the detail. */
int hosmi_r_open(hosmi_reader *r, const void *buf, int64_t size, const char *magic,
                 uint32_t *sections, char *msg);
/* Reads the next section header: its tag, and a reader over its payload.
 * Returns 0, -1 when it runs past the end, -2 for a nonzero reserved field. */
int hosmi_r_section(hosmi_reader *r, uint32_t *tag, hosmi_reader *payload);
uint32_t hosmi_r_u32(hosmi_reader *r);
uint64_t hosmi_r_u64(hosmi_reader *r);
double hosmi_r_f64(hosmi_reader *r);
void hosmi_r_f32s(hosmi_reader *r, float *v, int64_t n);

/* Encoding a whole object: fn writes its sections. hosmi_encode checks buf and
 * cap (HOSM_E_NULL, HOSM_E_BUFFER);
 * fname names the public function in messages. */
typedef void (*hosmi_encode_fn)(hosmi_writer *w, const void *obj);
int64_t hosmi_encoded_size(const char *magic, hosmi_encode_fn fn, const void *obj);
int hosmi_encode(const char *fname, const char *magic, hosmi_encode_fn fn, const void *obj,
                 void *buf, int64_t cap, int64_t *written);

#endif
