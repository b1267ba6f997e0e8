/*
 * The .npy and CSV readers of the hosm tool (examples/cli/dataio.c) on good
 * and hostile inputs: every bad input is rejected with a one-line message and
 * no data, every good one gives exactly its values; then every truncation and
 * many random mutations of good files, which must be accepted or rejected
 * cleanly (run under ASan or valgrind to catch reads out of bounds).
 *
 * This is the seed of a fuzz harness: dataio_parse_npy and dataio_parse_csv
 * take (bytes, size) and are meant to be wired into a libFuzzer target.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataio.h"

static int failures = 0, checks = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

typedef int (*parser)(const void *, size_t, dataio_matrix *, char *, size_t);

/* A rejection: status -1, no data, a one-line message that contains `want`
 * (if not NULL). */
static void rejects(parser parse, const void *buf, size_t size, const char *want,
                    const char *what)
{
    dataio_matrix m = {(float *)1, 7, 7};
    char err[512] = "";
    const int r = parse(buf, size, &m, err, sizeof err);
    CHECK(r == -1, "%s: accepted", what);
    CHECK(m.data == NULL && m.rows == 0 && m.cols == 0, "%s: output not empty", what);
    CHECK(err[0] != '\0' && !strchr(err, '\n'), "%s: message '%s' is not one line", what, err);
    CHECK(!want || strstr(err, want), "%s: message '%s' lacks '%s'", what, err, want);
    if (r == 0)
        dataio_free(&m);
}

static void accepts(parser parse, const void *buf, size_t size, int64_t rows, int64_t cols,
                    const float *values, const char *what)
{
    dataio_matrix m;
    char err[512] = "";
    const int r = parse(buf, size, &m, err, sizeof err);
    CHECK(r == 0, "%s: rejected: %s", what, err);
    if (r != 0)
        return;
    CHECK(m.rows == rows && m.cols == cols, "%s: shape %lld x %lld, expected %lld x %lld", what,
          (long long)m.rows, (long long)m.cols, (long long)rows, (long long)cols);
    if (values && m.rows == rows && m.cols == cols)
        CHECK(memcmp(m.data, values, (size_t)(rows * cols) * sizeof(float)) == 0,
              "%s: wrong values", what);
    dataio_free(&m);
}

/* A .npy file: version major.0, the given header text padded with spaces
 * and a newline, then `data` bytes. Returns its size. */
static size_t npy(unsigned char *out, int major, const char *header, const void *data,
                  size_t data_size)
{
    const size_t pre = major == 1 ? 10 : 12;
    size_t len = strlen(header);
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    memcpy(out + pre, header, len);
    while ((pre + len + 1) % 64)
        out[pre + len++] = ' ';
    out[pre + len++] = '\n';
    if (major == 1) {
        out[8] = (unsigned char)len;
        out[9] = (unsigned char)(len >> 8);
    } else {
        for (int i = 0; i < 4; i++)
            out[8 + i] = (unsigned char)(len >> (8 * i));
    }
    memcpy(out + pre + len, data, data_size);
    return pre + len + data_size;
}

static uint64_t rng_state = 0x1234567;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(rng_state >> 33);
}

/* Every prefix, and random byte mutations, of a good input: no crash, and a
 * clean status either way. */
static void mutate(parser parse, const unsigned char *good, size_t size, int want_prefix_reject,
                   const char *what)
{
    unsigned char *buf = malloc(size + 64);
    for (size_t n = 0; n < size; n++) {
        memcpy(buf, good, n);
        dataio_matrix m;
        char err[512] = "";
        /* A heap copy of exactly n bytes, so that ASan sees any overread. */
        unsigned char *exact = malloc(n ? n : 1);
        memcpy(exact, good, n);
        const int r = parse(exact, n, &m, err, sizeof err);
        free(exact);
        if (want_prefix_reject)
            CHECK(r == -1 && err[0], "%s: the prefix of %zu bytes was accepted", what, n);
        if (r == 0)
            dataio_free(&m);
        else
            CHECK(err[0] && !strchr(err, '\n'), "%s: prefix %zu: bad message", what, n);
    }
    for (int it = 0; it < 20000; it++) {
        size_t n = size;
        memcpy(buf, good, size);
        const int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++) {
            const uint32_t kind = rnd() % 3, pos = rnd() % (uint32_t)n;
            if (kind == 0)
                buf[pos] = (unsigned char)rnd();
            else if (kind == 1)
                buf[pos] ^= (unsigned char)(1u << (rnd() % 8));
            else if (n + 1 < size + 64) { /* insert a byte */
                memmove(buf + pos + 1, buf + pos, n - pos);
                buf[pos] = (unsigned char)"0123456789,. \n\r-e#\x93'(){}:"[rnd() % 26];
                n++;
            }
        }
        unsigned char *exact = malloc(n);
        memcpy(exact, buf, n);
        dataio_matrix m;
        char err[512] = "";
        const int r = parse(exact, n, &m, err, sizeof err);
        free(exact);
        if (r == 0) {
            for (int64_t i = 0; i < m.rows * m.cols; i++)
                if (!isfinite(m.data[i])) {
                    CHECK(0, "%s: mutation %d delivered a non-finite value", what, it);
                    break;
                }
            dataio_free(&m);
        } else {
            CHECK(r == -1 && err[0] && !strchr(err, '\n'), "%s: mutation %d: bad status or "
                  "message", what, it);
        }
    }
    free(buf);
}

static void test_npy(void)
{
    unsigned char buf[4096];
    const float f[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, 1e30f};
    const double d[6] = {1.5, -2.0, 0.0, 3.25, (double)1e-3f, (double)1e30f};
    size_t n;

    /* Good files: the three versions, both dtypes, header variants. */
    n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", f, sizeof f);
    accepts(dataio_parse_npy, buf, n, 3, 2, f, "npy 1.0 <f4");
    mutate(dataio_parse_npy, buf, n, 1, "npy 1.0 <f4");
    n = npy(buf, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", d, sizeof d);
    accepts(dataio_parse_npy, buf, n, 2, 3, f, "npy 2.0 <f8");
    mutate(dataio_parse_npy, buf, n, 1, "npy 2.0 <f8");
    n = npy(buf, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 1), }", f, sizeof f);
    accepts(dataio_parse_npy, buf, n, 6, 1, f, "npy 3.0");
    n = npy(buf, 1, "{\"shape\":(1,6),\"fortran_order\":False,\"descr\":\"<f4\"}", f, sizeof f);
    accepts(dataio_parse_npy, buf, n, 1, 6, f, "npy reordered keys, double quotes");
    n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 2L), }", f, sizeof f);
    accepts(dataio_parse_npy, buf, n, 3, 2, f, "npy Python 2 longs");

    /* Bad magic, versions, lengths. */
    rejects(dataio_parse_npy, "", 0, "magic", "empty");
    rejects(dataio_parse_npy, "\x93NUMP", 5, "magic", "5 bytes");
    rejects(dataio_parse_npy, "PK\x03\x04zipzipzipzip", 16, "magic", "a zip file");
    n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", f, sizeof f);
    buf[6] = 4;
    rejects(dataio_parse_npy, buf, n, "version 4.0", "version 4.0");
    buf[6] = 1;
    buf[7] = 1;
    rejects(dataio_parse_npy, buf, n, "version 1.1", "version 1.1");
    buf[7] = 0;
    buf[8] = 0xff;
    buf[9] = 0xff;
    rejects(dataio_parse_npy, buf, n, "truncated", "header length beyond the file");
    n = npy(buf, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", f, sizeof f);
    buf[11] = 0x80; /* 2^31 bytes of header */
    rejects(dataio_parse_npy, buf, n, "truncated", "huge v2 header length");
    n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", f, sizeof f);
    rejects(dataio_parse_npy, buf, n - 1, "truncated", "data one byte short");
    buf[n] = 0;
    rejects(dataio_parse_npy, buf, n + 1, "unexpected bytes", "a trailing byte");

    /* Bad dtypes and orders. */
    static const char *const bad_descr[] = {
        "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }",
        "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }",
        "{'descr': '<f2', 'fortran_order': False, 'shape': (3, 2), }",
        "{'descr': '|u1', 'fortran_order': False, 'shape': (3, 2), }",
        "{'descr': '<c8', 'fortran_order': False, 'shape': (3, 2), }",
        "{'descr': 'float32', 'fortran_order': False, 'shape': (3, 2), }",
    };
    for (size_t i = 0; i < sizeof bad_descr / sizeof *bad_descr; i++) {
        n = npy(buf, 1, bad_descr[i], f, sizeof f);
        rejects(dataio_parse_npy, buf, n, "dtype", bad_descr[i]);
    }
    n = npy(buf, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", f, 12);
    rejects(dataio_parse_npy, buf, n, "descr", "a structured dtype");
    n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", f, sizeof f);
    rejects(dataio_parse_npy, buf, n, "Fortran", "Fortran order");

    /* Shapes. */
    static const struct {
        const char *header, *want;
    } shapes[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", "1 dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "0 dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 2), }", "3 dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2), }", "empty"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", "empty"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
         "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 1), }", "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }",
         "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 2), }", "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 2), }", "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2.0), }", "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [3, 2], }", "shape"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        n = npy(buf, 1, shapes[i].header, f, sizeof f);
        rejects(dataio_parse_npy, buf, n, shapes[i].want, shapes[i].header);
    }

    /* Broken dictionaries. */
    static const char *const dicts[] = {
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'shape': (3, 2)}",
        "{'fortran_order': False, 'shape': (3, 2)}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'extra': 1}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)} junk",
        "{'descr': '<f4, 'fortran_order': False, 'shape': (3, 2)}",
        "{'descr': '<f4', 'fortran_order': false, 'shape': (3, 2)}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (3, 2)}",
        "['descr', '<f4']",
        "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (3, 2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)",
        "",
    };
    for (size_t i = 0; i < sizeof dicts / sizeof *dicts; i++) {
        n = npy(buf, 1, dicts[i], f, sizeof f);
        rejects(dataio_parse_npy, buf, n, "header", dicts[i]);
    }

    /* Non-finite and out-of-range values. */
    float fbad[6];
    memcpy(fbad, f, sizeof f);
    fbad[3] = NAN;
    n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", fbad, sizeof f);
    rejects(dataio_parse_npy, buf, n, "element [1, 1] is NaN", "a NaN");
    fbad[3] = -INFINITY;
    n = npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", fbad, sizeof f);
    rejects(dataio_parse_npy, buf, n, "infinite", "an infinity");
    double dbad[6];
    memcpy(dbad, d, sizeof d);
    dbad[5] = 1e300;
    n = npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", dbad, sizeof d);
    rejects(dataio_parse_npy, buf, n, "float range", "1e300 as float64");
}

static void test_csv(void)
{
    const float v[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, 1e30f};
    static const char *const good[] = {
        "1.5,-2\n0,3.25\n0.001,1e30\n",
        "x,y\n1.5,-2\n0,3.25\n0.001,1e30\n",
        "# comment\n\n  x , y  \r\n1.5 , -2\r\n\n0,3.25\r\n# more\n0.001,1e30",
        "1.5 -2\n0\t3.25\n   0.001    1e30   \n",
        "\"a\",\"b\"\n+1.5,-2.0\n0e0,325e-2\n1e-3,1E30\n",
        "1.5, -2\n0 ,3.25\n0.001 , 1e+30\n\n\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        accepts(dataio_parse_csv, good[i], strlen(good[i]), 3, 2, v, good[i]);
    accepts(dataio_parse_csv, "7", 1, 1, 1, NULL, "one number, no newline");

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"", "no data"},
        {"x,y\n", "no data"},
        {"# only a comment\n\n", "no data"},
        {"1,2\n3\n", "line 2 has 1 fields, line 1 has 2"},
        {"1,2\n3,4,5\n", "line 2 has 3 fields"},
        {"1,,2\n", "empty field"},
        {"1,2,\n", "empty field"},
        {",1,2\n", "empty field"},
        {"1,2\n3,abc\n", "line 2, field 2: 'abc' is not a number"},
        {"x,y\nu,v\n", "line 2, field 1"},
        {"1,2\nnan,4\n", "line 2, field 1: 'nan' is not a finite float"},
        {"NaN,NaN\n", "not a finite float"},
        {"1,inf\n", "not a finite float"},
        {"1,-Infinity\n", "not a finite float"},
        {"1,1e999\n", "not a finite float"},
        {"1,1e39\n", "not a finite float"},
        {"1,2\n3,4x\n", "not a number"},
        {"1,2\n1,0x\n", "not a number"},
        {"\x93NUMPY\x01\x00", ".npy file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        rejects(dataio_parse_csv, bad[i].text, strlen(bad[i].text), bad[i].want, bad[i].text);
    rejects(dataio_parse_csv, "1,2\n3,\0\n", 8, "NUL", "a NUL byte");

    /* Overlong fields and lines. */
    const size_t big = (size_t)10 << 20;
    char *text = malloc(big + 16);
    memset(text, '1', big);
    memcpy(text + big, "\n", 1);
    rejects(dataio_parse_csv, text, big + 1, "longer than", "a 10 MB number");
    for (size_t i = 0; i < big; i += 2) /* "1,1,1,...": 5M fields on one line */
        text[i + 1] = ',';
    text[big - 1] = '1';
    memcpy(text + big, "\n1,2\n", 5);
    rejects(dataio_parse_csv, text, big + 5, "line 2 has 2 fields", "a line of 5M fields");
    accepts(dataio_parse_csv, text, big + 1, 1, (int64_t)(big / 2), NULL, "one row of 5M fields");
    memset(text, ' ', big);
    memcpy(text + big - 4, "1 2\n", 4);
    accepts(dataio_parse_csv, text, big, 1, 2, NULL, "10 MB of blanks");
    free(text);

    const char *sample = "x,y\n1.5,-2\n0,3.25\n# c\n0.001,1e30\n";
    mutate(dataio_parse_csv, (const unsigned char *)sample, strlen(sample), 0, "csv");
}

static void test_files(const char *dir)
{
    char path[4096], err[512];
    dataio_matrix m;
    const float v[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, 1e30f};
    const int64_t shape[2] = {3, 2}, shape3[3] = {1, 3, 2};

    snprintf(path, sizeof path, "%s/readers-roundtrip.npy", dir);
    CHECK(dataio_save_npy(path, v, 2, shape, err, sizeof err) == 0, "save: %s", err);
    CHECK(dataio_load(path, &m, err, sizeof err) == 0 && m.rows == 3 && m.cols == 2 &&
          memcmp(m.data, v, sizeof v) == 0, "npy round trip: %s", err);
    dataio_free(&m);
    snprintf(path, sizeof path, "%s/readers-roundtrip.csv", dir);
    CHECK(dataio_save(path, v, 2, shape, err, sizeof err) == 0, "save csv: %s", err);
    CHECK(dataio_load(path, &m, err, sizeof err) == 0 && m.rows == 3 && m.cols == 2 &&
          memcmp(m.data, v, sizeof v) == 0, "csv round trip: %s", err);
    dataio_free(&m);
    CHECK(dataio_save(path, v, 3, shape3, err, sizeof err) == -1 && strstr(err, "CSV"),
          "a 3-D array as CSV: %s", err);

    snprintf(path, sizeof path, "%s/readers-fake.npy", dir);
    FILE *fp = fopen(path, "w");
    fputs("1,2\n3,4\n", fp);
    fclose(fp);
    CHECK(dataio_load(path, &m, err, sizeof err) == -1 && strstr(err, "magic") &&
          strncmp(err, path, strlen(path)) == 0, "text named .npy: %s", err);
    snprintf(path, sizeof path, "%s/readers-missing.csv", dir);
    CHECK(dataio_load(path, &m, err, sizeof err) == -1 && strstr(err, "cannot open"),
          "missing file: %s", err);
    CHECK(dataio_load(dir, &m, err, sizeof err) == -1 && strstr(err, "cannot read"),
          "a directory: %s", err);
    snprintf(path, sizeof path, "%s/no-such-dir/out.npy", dir);
    CHECK(dataio_save_npy(path, v, 2, shape, err, sizeof err) == -1 && strstr(err, "cannot create"),
          "write into a missing directory: %s", err);
}

int main(int argc, char **argv)
{
    test_npy();
    test_csv();
    test_files(argc > 1 ? argv[1] : ".");
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
