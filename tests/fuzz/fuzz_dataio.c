/* libFuzzer target: the data readers of the command-line tool
 * (examples/cli/dataio.c), .npy bytes or, built with -DFUZZ_CSV, text tables.
 *
 * Expectations (a violation aborts): no crash, leak or undefined behaviour;
 * a failure leaves the matrix empty with a one-line message; a success
 * gives a rows x cols matrix of finite floats with rows, cols >= 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/cli/dataio.h"

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "FUZZ EXPECTATION FAILED: " __VA_ARGS__);              \
        fprintf(stderr, "\n");                                                 \
        abort();                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dataio_matrix m = {0};
    char err[256] = "";
#ifdef FUZZ_CSV
    int st = dataio_parse_csv(data, size, &m, err, sizeof err);
#else
    int st = dataio_parse_npy(data, size, &m, err, sizeof err);
#endif
    if (st != 0) {
        if (m.data || !err[0] || strchr(err, '\n'))
            FAIL("a failed parse left data or no one-line message ('%s')", err);
        return 0;
    }
    if (!m.data || m.rows < 1 || m.cols < 1)
        FAIL("a successful parse gave %lld x %lld", (long long)m.rows, (long long)m.cols);
    for (int64_t i = 0; i < m.rows * m.cols; i++)
        if (!isfinite(m.data[i]))
            FAIL("a successful parse gave a non-finite value at %lld", (long long)i);
    dataio_free(&m);
    return 0;
}
