/* White-box tests of lib/io/container: the writer against a byte image
 * built here from docs/format.md (little-endian fields, section headers,
 * CRC-32 of zlib), round trips of every field type with exact bit patterns,
 * the size-only writer, the reader's bounds, and the status of hosmi_r_open
 * for every truncation and every single-bit corruption of a small file.
 *
 * Each corrupted or truncated file is copied into an allocation of exactly
 * its size, so a read past the end is an error under AddressSanitizer. The
 * expected status of a corrupted file is derived from the field it hits:
 *   magic (0..7)          HOSM_E_FORMAT
 *   version (8..11)       HOSM_E_VERSION, or HOSM_E_CORRUPT (checksum) when
 *                         the new version is still 1 or 2
 *   section count (12..15) HOSM_E_CORRUPT (checksum)
 *   total size (16..23)   HOSM_E_TRUNCATED when it now exceeds the data,
 *                         else HOSM_E_CORRUPT (size mismatch)
 *   sections, checksum    HOSM_E_CORRUPT
 * and every truncation is HOSM_E_TRUNCATED. Tests run in well under a second.
 *
 * A deliberate perturbation (to see the checks fail): HOSM_TEST_PERTURB=5
 * writes the reference image's section reserved field as 1; =6 expects
 * HOSM_E_CORRUPT for truncations after the header and for size fields
 * raised past the data. */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid */
#include <float.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "io/container.h"

static int g_perturb;

#define TAG_A HOSMI_TAG('T', 'S', 'T', 'A')
#define TAG_B HOSMI_TAG('E', 'M', 'P', 'T')
#define TAG_C HOSMI_TAG('F', '3', '2', 'S')

static const uint32_t u32s[] = {0u, 1u, 0x12345678u, 0x80000000u, 0xFFFFFFFFu};
static const uint64_t u64s[] = {0u, 1u, 0x0123456789ABCDEFull, 0x8000000000000000ull,
                                UINT64_MAX};
static double f64s[8];
static float f32s[10];

static uint64_t bits64(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

static uint32_t bits32(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
}

static void init_values(void)
{
    /* Signed zero, a NaN with payload, infinities, subnormals, extremes. */
    uint64_t nan = 0x7FF4000000000123ull;
    memcpy(&f64s[0], &nan, 8);
    f64s[1] = -0.0;
    f64s[2] = 3.141592653589793;
    f64s[3] = -INFINITY;
    f64s[4] = DBL_TRUE_MIN;
    f64s[5] = DBL_MAX;
    f64s[6] = -1.5e-300;
    f64s[7] = 0.1;
    uint32_t fnan = 0xFFC00ABCu;
    memcpy(&f32s[0], &fnan, 4);
    f32s[1] = -0.0f;
    f32s[2] = 1.0f;
    f32s[3] = INFINITY;
    f32s[4] = FLT_TRUE_MIN;
    f32s[5] = FLT_MAX;
    f32s[6] = -3.25f;
    f32s[7] = 1e-20f;
    f32s[8] = 0.1f;
    f32s[9] = -FLT_MIN;
}

/* The sample object: section A with every scalar type, an empty section B,
 * section C with the float array. */
static void encode_sample(hosmi_writer *w, const void *obj)
{
    (void)obj;
    hosmi_w_section(w, TAG_A);
    for (int i = 0; i < 5; i++)
        hosmi_w_u32(w, u32s[i]);
    for (int i = 0; i < 5; i++)
        hosmi_w_u64(w, u64s[i]);
    for (int i = 0; i < 8; i++)
        hosmi_w_f64(w, f64s[i]);
    hosmi_w_section_end(w);
    hosmi_w_section(w, TAG_B);
    hosmi_w_section_end(w);
    hosmi_w_section(w, TAG_C);
    hosmi_w_f32s(w, f32s, 10);
    hosmi_w_section_end(w);
}

/* The expected bytes, from the format's tables; returns the size. */
static int64_t reference_image(uint8_t *b, uint32_t version)
{
    int64_t p = 0;
    memcpy(b, HOSMI_MAGIC_MODEL, 8);
    put_le(b + 8, version, 4);
    put_le(b + 12, 3, 4);
    p = 24;
    const int64_t lenA = 5 * 4 + 5 * 8 + 8 * 8;
    put_le(b + p, TAG_A, 4);
    put_le(b + p + 4, g_perturb == 5 ? 1 : 0, 4);
    put_le(b + p + 8, (uint64_t)lenA, 8);
    p += 16;
    for (int i = 0; i < 5; i++, p += 4)
        put_le(b + p, u32s[i], 4);
    for (int i = 0; i < 5; i++, p += 8)
        put_le(b + p, u64s[i], 8);
    for (int i = 0; i < 8; i++, p += 8)
        put_le(b + p, bits64(f64s[i]), 8);
    put_le(b + p, TAG_B, 4);
    put_le(b + p + 4, 0, 4);
    put_le(b + p + 8, 0, 8);
    p += 16;
    put_le(b + p, TAG_C, 4);
    put_le(b + p + 4, 0, 4);
    put_le(b + p + 8, 40, 8);
    p += 16;
    for (int i = 0; i < 10; i++, p += 4)
        put_le(b + p, bits32(f32s[i]), 4);
    p += 4;
    put_le(b + 16, (uint64_t)p, 8);
    fix_crc(b, p);
    return p;
}

/* A copy of n bytes in an allocation of exactly n bytes (not inlined: GCC
 * would otherwise warn about the n = 0 path at constant offsets). */
__attribute__((noinline)) static uint8_t *exact_copy(const uint8_t *src, int64_t n)
{
    uint8_t *c = malloc(n ? (size_t)n : 1);
    if (!c) {
        printf("FATAL: out of memory\n");
        exit(1);
    }
    if (n)
        memcpy(c, src, (size_t)n);
    return c;
}

static int open_copy(const uint8_t *src, int64_t n, const char *magic, char *msg)
{
    uint8_t *c = exact_copy(src, n);
    hosmi_reader r;
    uint32_t sections = 0;
    msg[0] = 0;
    int st = hosmi_r_open(&r, c, n, magic, &sections, msg);
    free(c);
    return st;
}

static void test_crc(void)
{
    CHECK(hosmi_crc32(0, "123456789", 9) == 0xCBF43926u, "CRC-32 check value of \"123456789\"");
    CHECK(hosmi_crc32(0, "", 0) == 0u, "CRC-32 of nothing is 0");
    uint32_t a = hosmi_crc32(0, "12345", 5);
    CHECK(hosmi_crc32(a, "6789", 4) == 0xCBF43926u, "CRC-32 does not continue from a prefix");
    uint8_t buf[300];
    trng r = {77};
    for (int i = 0; i < 300; i++)
        buf[i] = (uint8_t)trng_next(&r);
    CHECK(hosmi_crc32(0, buf, 300) == crc32_ieee(buf, 300), "CRC-32 of random bytes differs "
                                                            "from the bitwise reference");
}

static void test_writer(void)
{
    uint8_t ref[512], out[512 + 16];
    int64_t n_ref = reference_image(ref, 1);
    /* Size only. */
    hosmi_writer w;
    hosmi_w_begin(&w, NULL, HOSMI_MAGIC_MODEL);
    encode_sample(&w, NULL);
    int64_t n_count = hosmi_w_end(&w);
    CHECK(n_count == n_ref, "size-only writer: %lld bytes, the format gives %lld",
          (long long)n_count, (long long)n_ref);
    CHECK(w.sections == 3, "size-only writer counts %u sections", w.sections);
    CHECK(hosmi_encoded_size(HOSMI_MAGIC_MODEL, encode_sample, NULL) == n_ref,
          "hosmi_encoded_size differs");
    /* Written, with a canary after the end. */
    memset(out, 0xA5, sizeof out);
    hosmi_w_begin(&w, out, HOSMI_MAGIC_MODEL);
    encode_sample(&w, NULL);
    int64_t n_written = hosmi_w_end(&w);
    CHECK(n_written == n_count, "written %lld bytes, size-only %lld", (long long)n_written,
          (long long)n_count);
    CHECK(n_written == n_ref && memcmp(out, ref, (size_t)n_ref) == 0,
          "the written bytes differ from the format's image");
    int canary = 1;
    for (int64_t i = n_written; i < (int64_t)sizeof out; i++)
        canary &= out[i] == 0xA5;
    CHECK(canary, "the writer wrote past the total size");
    /* A writer that raises the version. */
    hosmi_w_begin(&w, out, HOSMI_MAGIC_MODEL);
    encode_sample(&w, NULL);
    w.version = 2;
    hosmi_w_end(&w);
    reference_image(ref, 2);
    CHECK(memcmp(out, ref, (size_t)n_ref) == 0, "a version-2 file differs from its image");
    /* hosmi_encode: NULL buffer, too small, exactly big enough. */
    int64_t written = -1;
    CHECK(hosmi_encode("f", HOSMI_MAGIC_MODEL, encode_sample, NULL, NULL, 1000, &written) ==
              HOSM_E_NULL,
          "hosmi_encode with buf NULL");
    memset(out, 0xA5, sizeof out);
    CHECK(hosmi_encode("f", HOSMI_MAGIC_MODEL, encode_sample, NULL, out, n_ref - 1, &written) ==
              HOSM_E_BUFFER,
          "hosmi_encode with one byte too few");
    CHECK(written == -1 && out[0] == 0xA5, "hosmi_encode wrote into a too small buffer");
    CHECK(hosmi_encode("f", HOSMI_MAGIC_MODEL, encode_sample, NULL, out, n_ref, &written) ==
                  HOSM_OK &&
              written == n_ref,
          "hosmi_encode into an exact buffer");
    reference_image(ref, 1);
    CHECK(memcmp(out, ref, (size_t)n_ref) == 0 && out[n_ref] == 0xA5,
          "hosmi_encode's bytes differ from the image, or it wrote past the end");
}

static void test_round_trip(void)
{
    uint8_t buf[512];
    int64_t n = reference_image(buf, 1);
    uint8_t *c = exact_copy(buf, n);
    hosmi_reader r, p;
    uint32_t sections = 0, tag = 0;
    char msg[HOSMI_MSG_CAP];
    CHECK(hosmi_r_open(&r, c, n, HOSMI_MAGIC_MODEL, &sections, msg) == HOSM_OK, "open: %s", msg);
    CHECK(sections == 3 && r.version == 1 && r.pos == HOSMI_HEADER_BYTES && r.size == n - 4 &&
              !r.bad,
          "open: sections %u version %u pos %lld size %lld", sections, r.version,
          (long long)r.pos, (long long)r.size);
    /* Section A: every scalar, bit for bit. */
    CHECK(hosmi_r_section(&r, &tag, &p) == 0 && tag == TAG_A && p.size == 124 && p.pos == 0,
          "section A header");
    int ok = 1;
    for (int i = 0; i < 5; i++)
        ok &= hosmi_r_u32(&p) == u32s[i];
    for (int i = 0; i < 5; i++)
        ok &= hosmi_r_u64(&p) == u64s[i];
    for (int i = 0; i < 8; i++)
        ok &= bits64(hosmi_r_f64(&p)) == bits64(f64s[i]);
    CHECK(ok && !p.bad && p.pos == p.size, "section A: u32, u64, f64 values not bit-exact");
    /* The payload reader ends at its section, not at the file's end. */
    CHECK(hosmi_r_u32(&p) == 0 && p.bad, "a read past the payload's end is not refused");
    /* Section B: empty. */
    CHECK(hosmi_r_section(&r, &tag, &p) == 0 && tag == TAG_B && p.size == 0,
          "empty section B header");
    float none[1] = {7.0f};
    hosmi_r_f32s(&p, none, 0);
    CHECK(!p.bad && none[0] == 7.0f, "reading 0 floats from an empty section");
    CHECK(hosmi_r_u32(&p) == 0 && p.bad, "a u32 from an empty section is not refused");
    /* Section C: floats bit for bit. */
    float v[10];
    CHECK(hosmi_r_section(&r, &tag, &p) == 0 && tag == TAG_C && p.size == 40,
          "section C header");
    hosmi_r_f32s(&p, v, 10);
    ok = !p.bad;
    for (int i = 0; i < 10; i++)
        ok &= bits32(v[i]) == bits32(f32s[i]);
    CHECK(ok, "section C: f32 values not bit-exact");
    /* The top-level reader is at its end (the checksum is not data). */
    CHECK(r.pos == r.size && !r.bad, "after the last section: pos %lld of %lld",
          (long long)r.pos, (long long)r.size);
    CHECK(hosmi_r_section(&r, &tag, &p) == -1 && r.bad,
          "a section header past the end is not refused");
    free(c);
}

/* The reader's bounds on a bare payload of 12 bytes (exact allocation). */
static void test_bounds(void)
{
    uint8_t raw[12];
    for (int i = 0; i < 12; i++)
        raw[i] = (uint8_t)(0x11 * (i + 1));
    uint8_t *c = exact_copy(raw, 12);
    hosmi_reader r = {c, 12, 0, 0, 1};
    CHECK(hosmi_r_u64(&r) == get_le(raw, 8) && !r.bad, "u64 inside the data");
    CHECK(hosmi_r_u64(&r) == 0 && r.bad && r.pos == 8,
          "u64 over the end: not 0, bad not set, or pos moved");
    /* bad is sticky: a read that would fit still returns 0. */
    CHECK(hosmi_r_u32(&r) == 0 && r.bad && r.pos == 8, "a read after bad is not refused");
    r = (hosmi_reader){c, 12, 8, 0, 1};
    CHECK(hosmi_r_u32(&r) == (uint32_t)get_le(raw + 8, 4) && !r.bad && r.pos == 12,
          "the last u32 exactly at the end");
    r = (hosmi_reader){c, 12, 8, 0, 1};
    CHECK(bits64(hosmi_r_f64(&r)) == 0 && r.bad, "f64 over the end is not +0.0 with bad");
    r = (hosmi_reader){c, 12, 10, 0, 1};
    CHECK(hosmi_r_u32(&r) == 0 && r.bad && r.pos == 10, "u32 with 2 bytes left");
    /* Floats: past the end, negative and overflowing counts refuse and
     * leave the destination untouched. */
    float v[4] = {9, 9, 9, 9};
    r = (hosmi_reader){c, 12, 0, 0, 1};
    hosmi_r_f32s(&r, v, 4);
    CHECK(r.bad && r.pos == 0 && v[0] == 9 && v[3] == 9, "4 floats from 12 bytes");
    const int64_t counts[] = {-1, -4, INT64_MAX / 4, INT64_MAX / 4 + 1, INT64_MAX};
    for (int i = 0; i < 5; i++) {
        r = (hosmi_reader){c, 12, 0, 0, 1};
        hosmi_r_f32s(&r, v, counts[i]);
        CHECK(r.bad && r.pos == 0 && v[0] == 9, "f32s with n = %lld", (long long)counts[i]);
    }
    /* Negative counts below -(INT64_MAX / 4): 4 n overflows (undefined; it
     * wraps to 0 for multiples of 2^62, r_take(0) succeeds, and at -O2 the
     * copy loop runs off the buffer). Each in a child process, so that a
     * crash is one failed check. */
    const int64_t neg[] = {INT64_MIN, -((int64_t)1 << 62), INT64_MIN / 4 - 1};
    for (int i = 0; i < 3; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            hosmi_reader rc = {c, 12, 0, 0, 1};
            float w[4] = {9, 9, 9, 9};
            hosmi_r_f32s(&rc, w, neg[i]);
            _exit(rc.bad && rc.pos == 0 && w[0] == 9 ? 0 : 1);
        }
        int ws = 0;
        CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
              "hosmi_r_f32s with n = %lld: %s", (long long)neg[i],
              pid <= 0                ? "fork failed"
              : WIFSIGNALED(ws)       ? "the reader crashed (signal)"
                                      : "not refused (bad unset, pos moved or v written)");
    }
    r = (hosmi_reader){c, 12, 0, 0, 1};
    hosmi_r_f32s(&r, v, 3);
    CHECK(!r.bad && r.pos == 12 && bits32(v[2]) == (uint32_t)get_le(raw + 8, 4),
          "3 floats from 12 bytes");
    free(c);
}

/* Section headers: reserved field, lengths up to and past the end. */
static void test_sections(void)
{
    uint8_t buf[512];
    int64_t n = reference_image(buf, 1);
    hosmi_reader r, p;
    uint32_t sections, tag;
    char msg[HOSMI_MSG_CAP];
    /* A nonzero reserved field, each of its bytes (checksum fixed). */
    for (int b = 0; b < 4; b++) {
        uint8_t *c = exact_copy(buf, n);
        c[24 + 4 + b] = (uint8_t)(1u << (2 * b));
        fix_crc(c, n);
        int st = hosmi_r_open(&r, c, n, HOSMI_MAGIC_MODEL, &sections, msg);
        CHECK(st == HOSM_OK && hosmi_r_section(&r, &tag, &p) == -2,
              "reserved byte %d set: section status not -2", b);
        free(c);
    }
    /* The second section's reserved field. */
    {
        uint8_t *c = exact_copy(buf, n);
        c[24 + 16 + 124 + 4] = 0x80;
        fix_crc(c, n);
        CHECK(hosmi_r_open(&r, c, n, HOSMI_MAGIC_MODEL, &sections, msg) == HOSM_OK &&
                  hosmi_r_section(&r, &tag, &p) == 0 && hosmi_r_section(&r, &tag, &p) == -2,
              "reserved field of section 2: not -2");
        free(c);
    }
    /* Section C's length: exactly to the end of the data, one more, huge. */
    const int64_t offC = 24 + 16 + 124 + 16, remaining = n - 4 - (offC + 16);
    const uint64_t lens[] = {(uint64_t)remaining, (uint64_t)remaining + 1, (uint64_t)1 << 63,
                             UINT64_MAX};
    for (int i = 0; i < 4; i++) {
        uint8_t *c = exact_copy(buf, n);
        put_le(c + offC + 8, lens[i], 8);
        fix_crc(c, n);
        int ok = hosmi_r_open(&r, c, n, HOSMI_MAGIC_MODEL, &sections, msg) == HOSM_OK &&
                 hosmi_r_section(&r, &tag, &p) == 0 && hosmi_r_section(&r, &tag, &p) == 0;
        int st = hosmi_r_section(&r, &tag, &p);
        if (i == 0)
            CHECK(ok && st == 0 && p.size == remaining && r.pos == r.size,
                  "a section reaching exactly to the checksum");
        else
            CHECK(ok && st == -1 && r.bad, "section length %llu past the end: status %d",
                  (unsigned long long)lens[i], st);
        free(c);
    }
    /* A header cut short: 15 bytes left for a 16-byte header. */
    uint8_t raw[15] = {0};
    uint8_t *c = exact_copy(raw, 15);
    r = (hosmi_reader){c, 15, 0, 0, 1};
    CHECK(hosmi_r_section(&r, &tag, &p) == -1 && r.bad && r.pos == 0,
          "a 15-byte section header is not refused");
    free(c);
}

static int expected_status(const uint8_t *orig, const uint8_t *bad, int64_t n, int64_t pos)
{
    if (pos < 8)
        return HOSM_E_FORMAT;
    if (pos < 12) {
        uint32_t v = (uint32_t)get_le(bad + 8, 4);
        return v >= 1 && v <= HOSMI_FORMAT_VERSION ? HOSM_E_CORRUPT : HOSM_E_VERSION;
    }
    if (pos >= 16 && pos < 24)
        return get_le(bad + 16, 8) > (uint64_t)n && g_perturb != 6 ? HOSM_E_TRUNCATED
                                                                    : HOSM_E_CORRUPT;
    (void)orig;
    return HOSM_E_CORRUPT;
}

static const char *st_name(int st)
{
    return hosm_strerror(st);
}

static void test_open(void)
{
    uint8_t buf[512];
    const int64_t n = reference_image(buf, 1);
    char msg[HOSMI_MSG_CAP];
    int st;
    CHECK((st = open_copy(buf, n, HOSMI_MAGIC_MODEL, msg)) == HOSM_OK, "the intact file: %d %s",
          st, msg);
    /* Truncation at every length. */
    int bad_trunc = 0, no_msg = 0;
    for (int64_t len = 0; len < n; len++) {
        st = open_copy(buf, len, HOSMI_MAGIC_MODEL, msg);
        if (st != (g_perturb == 6 && len >= 28 ? HOSM_E_CORRUPT : HOSM_E_TRUNCATED)) {
            if (bad_trunc++ < 5)
                printf("FAIL truncated to %lld bytes: %s (%s)\n", (long long)len, st_name(st), msg);
        } else if (!msg[0])
            no_msg++;
    }
    g_checks++;
    if (bad_trunc)
        g_failures++;
    printf("%-4s truncation at each of %lld lengths: HOSM_E_TRUNCATED (%d wrong)\n",
           bad_trunc ? "FAIL" : "ok", (long long)n, bad_trunc);
    /* Extra bytes after the file. */
    {
        uint8_t longer[520];
        memcpy(longer, buf, (size_t)n);
        longer[n] = 0;
        CHECK(open_copy(longer, n + 1, HOSMI_MAGIC_MODEL, msg) == HOSM_E_CORRUPT,
              "a trailing byte: %s", msg);
    }
    /* Every single-bit flip of every byte. */
    int bad_flip = 0, flips = 0;
    int seen[4] = {0}; /* FORMAT, VERSION, TRUNCATED, CORRUPT */
    for (int64_t pos = 0; pos < n; pos++)
        for (int bit = 0; bit < 8; bit++) {
            uint8_t *c = exact_copy(buf, n);
            c[pos] ^= (uint8_t)(1u << bit);
            int want = expected_status(buf, c, n, pos);
            hosmi_reader r;
            uint32_t sections;
            msg[0] = 0;
            st = hosmi_r_open(&r, c, n, HOSMI_MAGIC_MODEL, &sections, msg);
            flips++;
            if (st != want) {
                if (bad_flip++ < 5)
                    printf("FAIL byte %lld bit %d flipped: %s, expected %s (%s)\n",
                           (long long)pos, bit, st_name(st), st_name(want), msg);
            } else if (!msg[0])
                no_msg++;
            seen[want == HOSM_E_FORMAT ? 0 : want == HOSM_E_VERSION ? 1
                 : want == HOSM_E_TRUNCATED ? 2 : 3]++;
            free(c);
        }
    g_checks++;
    if (bad_flip)
        g_failures++;
    printf("%-4s %d single-bit flips: %d FORMAT, %d VERSION, %d TRUNCATED, %d CORRUPT expected "
           "(%d wrong)\n",
           bad_flip ? "FAIL" : "ok", flips, seen[0], seen[1], seen[2], seen[3], bad_flip);
    CHECK(seen[0] && seen[1] && seen[2] && seen[3], "the flips do not reach every status");
    CHECK(no_msg == 0, "%d failures without a message", no_msg);
    /* Whole-byte corruptions of the checksum and of the last payload byte. */
    for (int64_t pos = n - 5; pos < n; pos++) {
        uint8_t *c = exact_copy(buf, n);
        c[pos] = (uint8_t)~c[pos];
        CHECK(open_copy(c, n, HOSMI_MAGIC_MODEL, msg) == HOSM_E_CORRUPT, "byte %lld inverted",
              (long long)pos);
        free(c);
    }
    /* Versions 0, 7 and 0xFFFFFFFF with a valid checksum; versions 2 to 6 read. */
    const uint32_t versions[] = {0u, 7u, 0xFFFFFFFFu, 2u, 3u, 4u, 5u, 6u};
    for (int i = 0; i < 8; i++) {
        uint8_t *c = exact_copy(buf, n);
        put_le(c + 8, versions[i], 4);
        fix_crc(c, n);
        hosmi_reader r;
        uint32_t sections;
        st = hosmi_r_open(&r, c, n, HOSMI_MAGIC_MODEL, &sections, msg);
        if (versions[i] >= 2 && versions[i] <= 6)
            CHECK(st == HOSM_OK && r.version == versions[i], "a version-%u file: %s",
                  versions[i], st_name(st));
        else
            CHECK(st == HOSM_E_VERSION, "version %u: %s", versions[i], st_name(st));
        free(c);
    }
    /* Magic: the other libhosm kind, a foreign file, a short foreign prefix,
     * and the right magic when the file is read as a checkpoint. */
    CHECK(open_copy(buf, n, HOSMI_MAGIC_CHECKPOINT, msg) == HOSM_E_FORMAT && strstr(msg, "load it with hosm_model_load"),
          "a model read as a checkpoint: %s", msg);
    {
        uint8_t *c = exact_copy(buf, n);
        memcpy(c, "GIF89a\0\0", 8);
        CHECK(open_copy(c, n, HOSMI_MAGIC_MODEL, msg) == HOSM_E_FORMAT, "a foreign magic");
        CHECK(open_copy(c, 3, HOSMI_MAGIC_MODEL, msg) == HOSM_E_FORMAT,
              "3 bytes of a foreign magic: %s", msg);
        free(c);
    }
    CHECK(open_copy(buf, 3, HOSMI_MAGIC_CHECKPOINT, msg) == HOSM_E_TRUNCATED,
          "\"HOS\" is a prefix of either magic: truncated");
    CHECK(open_copy(buf, 5, HOSMI_MAGIC_CHECKPOINT, msg) == HOSM_E_FORMAT,
          "\"HOSMM\" read as a checkpoint: %s", msg);
    /* The section count is not checked against the sections by the
     * container (the model reader does): a changed count with a valid
     * checksum opens and reports the new count. */
    {
        uint8_t *c = exact_copy(buf, n);
        put_le(c + 12, 7, 4);
        fix_crc(c, n);
        hosmi_reader r;
        uint32_t sections = 0;
        CHECK(hosmi_r_open(&r, c, n, HOSMI_MAGIC_MODEL, &sections, msg) == HOSM_OK &&
                  sections == 7,
              "a section count of 7 with a valid checksum");
        free(c);
    }
}

int main(void)
{
    const char *pe = getenv("HOSM_TEST_PERTURB");
    g_perturb = pe ? atoi(pe) : 0;
    if (g_perturb)
        printf("HOSM_TEST_PERTURB=%d: the reference is deliberately wrong\n", g_perturb);
    init_values();
    double t0 = now_seconds();
    test_crc();
    test_writer();
    test_round_trip();
    test_bounds();
    test_sections();
    test_open();
    printf("time %.3f s\n", now_seconds() - t0);
    return finish("test_container");
}
