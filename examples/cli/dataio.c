/*
 * dataio: .npy and text-table readers and writers of the hosm tool
 * (interface and rules in dataio.h).
 */
#include "dataio.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, size_t errcap, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void dataio_free(dataio_matrix *m)
{
    if (!m)
        return;
    free(m->data);
    m->data = NULL;
    m->rows = m->cols = 0;
}

/* A short, printable copy of untrusted text for a message. */
static void printable(const char *s, size_t n, char *dst, size_t cap)
{
    size_t j = 0;
    const size_t limit = cap > 4 ? cap - 4 : 0;
    for (size_t i = 0; i < n && j < limit; i++) {
        const unsigned char c = (unsigned char)s[i];
        dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > j && j == limit && cap >= 4) {
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    if (cap)
        dst[j < cap ? j : cap - 1] = '\0';
}

/* ---- .npy --------------------------------------------------------------- */

/* The header dictionary, e.g. {'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 2), }: a cursor over its bytes. */
typedef struct {
    const char *p, *end;
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal in single or double quotes, without escapes. */
static int read_string(cursor *c, char *dst, size_t cap)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return -1;
    const char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap)
            return -1;
        dst[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return -1;
    c->p++;
    dst[n] = '\0';
    return 0;
}

static int read_word(cursor *c, const char *word)
{
    skip_space(c);
    const size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return 0;
    }
    return -1;
}

/* A tuple of non-negative integers, e.g. (3, 2), (3,) or (). */
static int read_shape(cursor *c, int64_t *dims, int *ndim)
{
    *ndim = 0;
    if (!accept(c, '('))
        return -1;
    for (;;) {
        if (accept(c, ')'))
            return 0;
        skip_space(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return -1;
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > ((int64_t)1 << 58))
                return -2; /* absurdly large */
            v = v * 10 + (*c->p++ - '0');
        }
        if (c->p < c->end && *c->p == 'L') /* Python 2 longs */
            c->p++;
        if (*ndim < 8)
            dims[*ndim] = v;
        (*ndim)++;
        if (!accept(c, ',')) {
            if (accept(c, ')'))
                return 0;
            return -1;
        }
    }
}

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

int dataio_parse_npy(const void *buf, size_t size, dataio_matrix *out, char *err, size_t errcap)
{
    const unsigned char *b = buf;
    out->data = NULL;
    out->rows = out->cols = 0;
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return fail(err, errcap, "not a .npy file (no \\x93NUMPY magic)");
    const int major = b[6], minor = b[7];
    size_t header_len, offset;
    if (major == 1) {
        header_len = (size_t)b[8] | (size_t)b[9] << 8;
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            return fail(err, errcap, "truncated .npy header");
        header_len = le32(b + 8);
        offset = 12;
    } else {
        return fail(err, errcap, ".npy format version %d.%d is not supported (1.0, 2.0, 3.0 are)",
                    major, minor);
    }
    if (minor != 0)
        return fail(err, errcap, ".npy format version %d.%d is not supported (1.0, 2.0, 3.0 are)",
                    major, minor);
    if (header_len > size - offset)
        return fail(err, errcap, "truncated .npy header (%zu bytes announced, %zu present)",
                    header_len, size - offset);

    cursor c = {(const char *)b + offset, (const char *)b + offset + header_len};
    char descr[64] = "";
    int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, ndim = 0;
    int64_t dims[8] = {0};
    if (!accept(&c, '{'))
        return fail(err, errcap, "bad .npy header: not a dictionary");
    for (;;) {
        if (accept(&c, '}'))
            break;
        char key[32];
        if (read_string(&c, key, sizeof key) != 0 || !accept(&c, ':'))
            return fail(err, errcap, "bad .npy header: expected 'key': value");
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (read_string(&c, descr, sizeof descr) != 0)
                return fail(err, errcap, "bad .npy header: 'descr' is not a simple dtype string");
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (read_word(&c, "False") == 0)
                fortran = 0;
            else if (read_word(&c, "True") == 0)
                fortran = 1;
            else
                return fail(err, errcap, "bad .npy header: 'fortran_order' is not True or False");
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            const int r = read_shape(&c, dims, &ndim);
            if (r == -2)
                return fail(err, errcap, "bad .npy header: a dimension of 'shape' is too large");
            if (r != 0)
                return fail(err, errcap, "bad .npy header: 'shape' is not a tuple of integers");
            have_shape = 1;
        } else {
            char shown[40];
            printable(key, strlen(key), shown, sizeof shown);
            return fail(err, errcap, "bad .npy header: unexpected or repeated key '%s'", shown);
        }
        if (!accept(&c, ',')) {
            if (accept(&c, '}'))
                break;
            return fail(err, errcap, "bad .npy header: expected ',' or '}'");
        }
    }
    skip_space(&c);
    if (c.p != c.end)
        return fail(err, errcap, "bad .npy header: text after the dictionary");
    if (!have_descr || !have_order || !have_shape)
        return fail(err, errcap, "bad .npy header: missing '%s'",
                    !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");

    size_t item;
    if (strcmp(descr, "<f4") == 0)
        item = 4;
    else if (strcmp(descr, "<f8") == 0)
        item = 8;
    else {
        char shown[40];
        printable(descr, strlen(descr), shown, sizeof shown);
        return fail(err, errcap, "dtype '%s' is not supported (float32 '<f4' or float64 '<f8' are)",
                    shown);
    }
    if (fortran)
        return fail(err, errcap, "Fortran-order arrays are not supported (save a C-order array)");
    if (ndim != 2) {
        return fail(err, errcap, "the array has %d dimension%s; a 2-D array of shape (n, D) is "
                    "needed", ndim, ndim == 1 ? "" : "s");
    }
    if (dims[0] == 0 || dims[1] == 0)
        return fail(err, errcap, "the array is empty (shape (%lld, %lld))", (long long)dims[0],
                    (long long)dims[1]);
    if (dims[0] > DATAIO_MAX_VALUES / dims[1])
        return fail(err, errcap, "shape (%lld, %lld) is too large (at most %lld values)",
                    (long long)dims[0], (long long)dims[1], (long long)DATAIO_MAX_VALUES);
    const int64_t count = dims[0] * dims[1];
    const size_t need = (size_t)count * item, have = size - offset - header_len;
    if (have < need)
        return fail(err, errcap, "truncated .npy data: shape (%lld, %lld) needs %zu bytes, the "
                    "file has %zu", (long long)dims[0], (long long)dims[1], need, have);
    if (have > need)
        return fail(err, errcap, "%zu unexpected bytes after the .npy data", have - need);

    float *data = malloc((size_t)count * sizeof(float));
    if (!data)
        return fail(err, errcap, "out of memory for %lld values", (long long)count);
    const unsigned char *src = b + offset + header_len;
    for (int64_t i = 0; i < count; i++) {
        double v;
        if (item == 4) {
            const uint32_t u = le32(src + 4 * i);
            float f;
            memcpy(&f, &u, 4);
            v = f;
        } else {
            const uint64_t u = (uint64_t)le32(src + 8 * i) | (uint64_t)le32(src + 8 * i + 4) << 32;
            memcpy(&v, &u, 8);
        }
        const float f = (float)v;
        if (!isfinite(v) || !isfinite(f)) {
            free(data);
            return fail(err, errcap, "element [%lld, %lld] is %s", (long long)(i / dims[1]),
                        (long long)(i % dims[1]),
                        isnan(v) ? "NaN" : isinf(v) ? "infinite" : "outside the float range");
        }
        data[i] = f;
    }
    out->data = data;
    out->rows = dims[0];
    out->cols = dims[1];
    return 0;
}

/* ---- text tables -------------------------------------------------------- */

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'; }

/* One field of a line: [*start, *start + *len). */
typedef struct {
    const char *line, *end, *p;
} fields;

/* The next field, 1 if there is one, 0 at the end of the line, -1 for an
 * empty field (two commas, or a comma at either end). */
static int next_field(fields *f, const char **start, size_t *len, int first)
{
    while (f->p < f->end && is_blank(*f->p))
        f->p++;
    if (!first) {
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            while (f->p < f->end && is_blank(*f->p))
                f->p++;
            if (f->p >= f->end || *f->p == ',')
                return -1;
        } else if (f->p >= f->end) {
            return 0;
        }
    } else if (f->p < f->end && *f->p == ',') {
        return -1;
    }
    if (f->p >= f->end)
        return 0;
    *start = f->p;
    while (f->p < f->end && !is_blank(*f->p) && *f->p != ',')
        f->p++;
    *len = (size_t)(f->p - *start);
    return 1;
}

/* 1 and the value for a finite number that fits a float; 0 for text that is
 * not a number; -1 for a number that is not finite or out of range. */
static int parse_number(const char *s, size_t len, float *out)
{
    char tmp[DATAIO_MAX_FIELD + 1];
    if (len == 0 || len > DATAIO_MAX_FIELD)
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    errno = 0;
    const double v = strtod(tmp, &end);
    if (end != tmp + len || end == tmp)
        return 0;
    const float f = (float)v;
    if (!isfinite(v) || !isfinite(f))
        return -1;
    *out = f;
    return 1;
}

int dataio_parse_csv(const void *buf, size_t size, dataio_matrix *out, char *err, size_t errcap)
{
    const char *text = buf, *const end = text + size;
    float *data = NULL;
    int64_t rows = 0, cols = 0, cap = 0, first_data_line = 0;
    int64_t lineno = 0;
    int seen_content = 0;
    char shown[48];
    out->data = NULL;
    out->rows = out->cols = 0;

    if (size >= 6 && memcmp(text, "\x93NUMPY", 6) == 0)
        return fail(err, errcap, "this is a .npy file, not a text table");
    for (const char *line = text; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        lineno++;
        if (memchr(line, '\0', (size_t)(eol - line))) {
            free(data);
            return fail(err, errcap, "line %lld: a NUL byte (binary data, not a text table)",
                        (long long)lineno);
        }
        fields f = {line, eol, line};
        while (f.p < f.end && is_blank(*f.p))
            f.p++;
        const char *next = eol < end ? eol + 1 : end;
        if (f.p == f.end || *f.p == '#') { /* blank or comment */
            line = next;
            continue;
        }

        /* First pass: count the fields, check that each is a number. */
        int64_t nf = 0, bad_field = 0, nonfinite_field = 0;
        const char *bad = NULL;
        size_t bad_len = 0;
        const char *s;
        size_t len;
        int r;
        for (int first = 1; (r = next_field(&f, &s, &len, first)) == 1; first = 0) {
            float v;
            nf++;
            if (len > DATAIO_MAX_FIELD) {
                free(data);
                return fail(err, errcap, "line %lld, field %lld: longer than %d characters",
                            (long long)lineno, (long long)nf, DATAIO_MAX_FIELD);
            }
            const int num = parse_number(s, len, &v);
            if (num == 0 && !bad_field) {
                bad_field = nf;
                bad = s;
                bad_len = len;
            } else if (num < 0 && !nonfinite_field) {
                nonfinite_field = nf;
                if (!bad) {
                    bad = s;
                    bad_len = len;
                }
            }
        }
        if (r < 0) {
            free(data);
            return fail(err, errcap, "line %lld: an empty field (two separators in a row, or one "
                        "at the start or end of the line)", (long long)lineno);
        }
        if (bad_field) {
            if (!seen_content) { /* the header line */
                seen_content = 1;
                line = next;
                continue;
            }
            free(data);
            printable(bad, bad_len, shown, sizeof shown);
            return fail(err, errcap, "line %lld, field %lld: '%s' is not a number",
                        (long long)lineno, (long long)bad_field, shown);
        }
        if (nonfinite_field) {
            free(data);
            printable(bad, bad_len, shown, sizeof shown);
            return fail(err, errcap, "line %lld, field %lld: '%s' is not a finite float",
                        (long long)lineno, (long long)nonfinite_field, shown);
        }
        seen_content = 1;
        if (rows == 0) {
            cols = nf;
            first_data_line = lineno;
        } else if (nf != cols) {
            free(data);
            return fail(err, errcap, "line %lld has %lld fields, line %lld has %lld",
                        (long long)lineno, (long long)nf, (long long)first_data_line,
                        (long long)cols);
        }
        if ((rows + 1) > DATAIO_MAX_VALUES / cols) {
            free(data);
            return fail(err, errcap, "too many values (at most %lld)",
                        (long long)DATAIO_MAX_VALUES);
        }
        if ((rows + 1) * cols > cap) {
            int64_t ncap = cap ? 2 * cap : 1024;
            while (ncap < (rows + 1) * cols)
                ncap *= 2;
            float *grown = realloc(data, (size_t)ncap * sizeof(float));
            if (!grown) {
                free(data);
                return fail(err, errcap, "out of memory at line %lld", (long long)lineno);
            }
            data = grown;
            cap = ncap;
        }
        /* Second pass: store the values. */
        f.p = f.line;
        int64_t k = 0;
        for (int first = 1; next_field(&f, &s, &len, first) == 1; first = 0)
            parse_number(s, len, &data[rows * cols + k++]);
        rows++;
        line = next;
    }
    if (rows == 0)
        return fail(err, errcap, "no data rows");
    out->data = data;
    out->rows = rows;
    out->cols = cols;
    return 0;
}

/* ---- files -------------------------------------------------------------- */

int dataio_read_file(const char *path, unsigned char **buf, size_t *size, char *err,
                     size_t errcap)
{
    const int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    *buf = NULL;
    *size = 0;
    if (!fp)
        return fail(err, errcap, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 0, n = 0;
    unsigned char *data = NULL;
    for (;;) {
        if (n == cap) {
            const size_t ncap = cap ? 2 * cap : 65536;
            unsigned char *grown = ncap > cap ? realloc(data, ncap) : NULL;
            if (!grown) {
                free(data);
                if (!is_stdin)
                    fclose(fp);
                return fail(err, errcap, "%s: out of memory reading the file", path);
            }
            data = grown;
            cap = ncap;
        }
        const size_t got = fread(data + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    const int bad = ferror(fp);
    const int saved = errno;
    if (!is_stdin)
        fclose(fp);
    if (bad) {
        free(data);
        return fail(err, errcap, "%s: cannot read: %s", path, strerror(saved));
    }
    *buf = data;
    *size = n;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    if (n < m)
        return 0;
    for (size_t i = 0; i < m; i++) {
        char a = s[n - m + i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != suffix[i])
            return 0;
    }
    return 1;
}

int dataio_load(const char *path, dataio_matrix *out, char *err, size_t errcap)
{
    unsigned char *buf;
    size_t size;
    char msg[512];
    out->data = NULL;
    out->rows = out->cols = 0;
    if (dataio_read_file(path, &buf, &size, err, errcap) != 0)
        return -1;
    int r;
    if ((size >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0) || ends_with(path, ".npy"))
        r = dataio_parse_npy(buf, size, out, msg, sizeof msg);
    else
        r = dataio_parse_csv(buf, size, out, msg, sizeof msg);
    free(buf);
    if (r != 0)
        return fail(err, errcap, "%s: %s", path, msg);
    return 0;
}

/* Write size bytes to a temporary file beside path, then rename it over path. */
static int write_atomic(const char *path, const void *bytes, size_t size, char *err,
                        size_t errcap)
{
    const size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp)
        return fail(err, errcap, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp-XXXXXX", 12);
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        const int e = errno;
        free(tmp);
        return fail(err, errcap, "%s: cannot create: %s", path, strerror(e));
    }
    const unsigned char *p = bytes;
    size_t left = size;
    int e = 0;
    while (left > 0) {
        const ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (!e && fchmod(fd, 0644) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        free(tmp);
        return fail(err, errcap, "%s: cannot write: %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}

int dataio_save_npy(const char *path, const float *data, int ndim, const int64_t *shape,
                    char *err, size_t errcap)
{
    char header[256], dims[160] = "";
    int64_t count = 1;
    if (ndim < 1 || ndim > 3)
        return fail(err, errcap, "%s: cannot write a %d-D array", path, ndim);
    for (int i = 0; i < ndim; i++) {
        char one[40];
        snprintf(one, sizeof one, "%s%lld%s", i ? " " : "", (long long)shape[i],
                 ndim == 1 || i < ndim - 1 ? "," : "");
        strcat(dims, one);
        count *= shape[i];
    }
    int len = snprintf(header, sizeof header,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    /* Pad with spaces so that magic + length + header + '\n' is a multiple of 64. */
    while ((10 + len + 1) % 64 != 0)
        header[len++] = ' ';
    header[len++] = '\n';
    const size_t total = 10 + (size_t)len + (size_t)count * 4;
    unsigned char *bytes = malloc(total);
    if (!bytes)
        return fail(err, errcap, "%s: out of memory", path);
    memcpy(bytes, "\x93NUMPY\x01\x00", 8);
    bytes[8] = (unsigned char)(len & 0xff);
    bytes[9] = (unsigned char)(len >> 8);
    memcpy(bytes + 10, header, (size_t)len);
    unsigned char *dst = bytes + 10 + len;
    for (int64_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        dst[4 * i] = (unsigned char)u;
        dst[4 * i + 1] = (unsigned char)(u >> 8);
        dst[4 * i + 2] = (unsigned char)(u >> 16);
        dst[4 * i + 3] = (unsigned char)(u >> 24);
    }
    const int r = write_atomic(path, bytes, total, err, errcap);
    free(bytes);
    return r;
}

/* A growing text buffer. */
typedef struct {
    char *text;
    size_t n, cap;
    int oom;
} textbuf;

static void put(textbuf *t, const char *s, size_t len)
{
    if (t->oom)
        return;
    if (t->n + len + 1 > t->cap) {
        size_t ncap = t->cap ? t->cap : 4096;
        while (t->n + len + 1 > ncap)
            ncap *= 2;
        char *grown = realloc(t->text, ncap);
        if (!grown) {
            t->oom = 1;
            return;
        }
        t->text = grown;
        t->cap = ncap;
    }
    memcpy(t->text + t->n, s, len);
    t->n += len;
}

int dataio_save_csv(const char *path, const float *data, int64_t rows, int64_t cols,
                    const char *header, char *err, size_t errcap)
{
    textbuf t = {NULL, 0, 0, 0};
    char field[64];
    if (header) {
        put(&t, header, strlen(header));
    } else {
        for (int64_t j = 0; j < cols; j++) {
            const int len = snprintf(field, sizeof field, "%sc%lld", j ? "," : "", (long long)j);
            put(&t, field, (size_t)len);
        }
    }
    put(&t, "\n", 1);
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) {
            const int len = snprintf(field, sizeof field, "%s%.9g", j ? "," : "",
                                     (double)data[i * cols + j]);
            put(&t, field, (size_t)len);
        }
        put(&t, "\n", 1);
    }
    if (t.oom) {
        free(t.text);
        return fail(err, errcap, "%s: out of memory", path);
    }
    const int r = write_atomic(path, t.text, t.n, err, errcap);
    free(t.text);
    return r;
}

int dataio_save(const char *path, const float *data, int ndim, const int64_t *shape, char *err,
                size_t errcap)
{
    if (ends_with(path, ".csv")) {
        if (ndim != 2)
            return fail(err, errcap, "%s: a %d-D array cannot be written as CSV (use .npy)", path,
                        ndim);
        return dataio_save_csv(path, data, shape[0], shape[1], NULL, err, errcap);
    }
    return dataio_save_npy(path, data, ndim, shape, err, errcap);
}
