/*
 * dataio: the data files of the hosm command-line tool.
 *
 * Readers of 2-D float data from .npy files (format versions 1.0, 2.0 and
 * 3.0; dtype '<f4' or '<f8'; C order; shape (n, D)) and from text tables
 * (numbers separated by commas and/or whitespace, an optional header line,
 * '#' comment lines, the same number of columns on every row), and a writer
 * of little-endian float32 .npy files (and CSV).
 *
 * The parsers work on bytes in memory and never read past `size`, so that
 * they can be fuzzed directly. Every failure leaves *out empty and writes a
 * one-line message (no trailing newline) into err; every value delivered is
 * finite and fits in a float.
 */
#ifndef HOSM_CLI_DATAIO_H
#define HOSM_CLI_DATAIO_H

#include <stddef.h>
#include <stdint.h>

/* A row-major rows x cols matrix of floats, owned (free with dataio_free). */
typedef struct {
    float *data;
    int64_t rows, cols;
} dataio_matrix;

/* The largest number of values a reader accepts (2^31), and the longest
 * field of a text table in characters. */
#define DATAIO_MAX_VALUES ((int64_t)1 << 31)
#define DATAIO_MAX_FIELD 256

/* Parse the bytes of a .npy file. Returns 0, or -1 with a message in err. */
int dataio_parse_npy(const void *buf, size_t size, dataio_matrix *out, char *err, size_t errcap);

/* Parse a text table. Returns 0, or -1 with a message in err. */
int dataio_parse_csv(const void *buf, size_t size, dataio_matrix *out, char *err, size_t errcap);

/* Read a whole file (or "-" for standard input) into a new buffer. */
int dataio_read_file(const char *path, unsigned char **buf, size_t *size, char *err,
                     size_t errcap);

/* Load a matrix from a file: .npy if it starts with the .npy magic, an error
 * if its name ends in ".npy" but it does not, a text table otherwise. The
 * message in err starts with the path. */
int dataio_load(const char *path, dataio_matrix *out, char *err, size_t errcap);

/* Write float32 data of the given shape (ndim 1..3) as a .npy file (format
 * 1.0, '<f4', C order). The file is written beside path and renamed over it. */
int dataio_save_npy(const char *path, const float *data, int ndim, const int64_t *shape,
                    char *err, size_t errcap);

/* Write rows x cols floats as a text table with a header line of column names
 * (c0,c1,...), or with `header` if it is not NULL. */
int dataio_save_csv(const char *path, const float *data, int64_t rows, int64_t cols,
                    const char *header, char *err, size_t errcap);

/* Save as .npy, or as CSV when path ends in ".csv" (2-D shapes only). */
int dataio_save(const char *path, const float *data, int ndim, const int64_t *shape, char *err,
                size_t errcap);

void dataio_free(dataio_matrix *m);

#endif
