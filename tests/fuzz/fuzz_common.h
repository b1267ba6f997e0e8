/* Shared by the libFuzzer targets of tests/fuzz (docs/reliability.md).
 *
 * Inputs that start with "HOSM" and are long enough to hold a container get
 * their size field and trailing CRC-32 rewritten before the library sees
 * them, so that mutations reach the section parsers instead of stopping at
 * the checksum (the checksum and size checks themselves are covered byte by
 * byte in tests/train/test_files.c).
 *
 * A violated expectation calls FUZZ_FAIL, which prints the reason and aborts,
 * so that libFuzzer keeps the input as a crash. */
#ifndef HOSM_FUZZ_COMMON_H
#define HOSM_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hosm.h"

#define FUZZ_FAIL(...)                                                        \
    do {                                                                      \
        fprintf(stderr, "FUZZ EXPECTATION FAILED %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                                         \
        fprintf(stderr, " [last message: %s]\n", hosm_last_errmsg());         \
        abort();                                                              \
    } while (0)

static inline uint32_t fuzz_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* A heap copy of exactly n bytes (so that ASan sees any read past the end),
 * with the container's size field and checksum made consistent. */
static inline uint8_t *fuzz_patched_copy(const uint8_t *data, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        abort();
    if (n)
        memcpy(p, data, n);
    if (n >= 28 && memcmp(p, "HOSM", 4) == 0) {
        for (int i = 0; i < 8; i++)
            p[16 + i] = (uint8_t)((uint64_t)n >> (8 * i));
        uint32_t c = fuzz_crc32(p, n - 4);
        for (int i = 0; i < 4; i++)
            p[n - 4 + i] = (uint8_t)(c >> (8 * i));
    }
    return p;
}

/* The architectures of the seed corpus (tests/fuzz/make_seeds.c) and of the
 * checkpoint targets' trainers: the text config and the dimension. */
typedef struct {
    const char *config;
    int64_t dim;
} fuzz_arch;

static const fuzz_arch fuzz_archs[] = {
    {"hidden=8 depth=1 sigma=0.5", 2},
    {"hidden=6 depth=2 act=tanh levels=3 sigma_max=1 sigma_min=0.1", 3},
    {"hidden=4 depth=1 s2=diag act=silu", 2},
    {"hidden=4 depth=1 s2=lowrank rank=2 s2_hidden=3 act=elu", 3},
    {"hidden=4 depth=1 s2=full s2_depth=2 levels=2 sigma_max=0.5 sigma_min=0.2", 2},
    {"parameterization=energy hidden=5 depth=2 act=silu levels=2 sigma_max=1 sigma_min=0.3", 3},
    {"parameterization=denoiser hidden=4 depth=2 s2=diag act=tanh sigma=0.4", 3},
    {"hidden=4 depth=1 s2=diag s2_head=logvar s2_objective=d2sm_res_nll sigma=0.3", 2},
    {"hidden=4 depth=1 s2=lowrank rank=2 s2_head=logvar s2_objective=d2sm_res_nll nll_marginal=0.5", 3},
};
#define FUZZ_NUM_ARCHS ((int)(sizeof fuzz_archs / sizeof fuzz_archs[0]))
/* Appended to the architecture for the trainers. */
#define FUZZ_TRAINER_CONFIG " lr=0.01 batch=4 ema=0.9 seed=7"

/* Statuses a load may return for arbitrary bytes. HOSM_E_NOMEM is not among
 * them: every input here is small, so a load that runs out of memory has
 * allocated for sizes the input does not hold. */
static inline int fuzz_load_status_ok(int st)
{
    return st == HOSM_OK || st == HOSM_E_FORMAT || st == HOSM_E_VERSION ||
           st == HOSM_E_CORRUPT || st == HOSM_E_TRUNCATED || st == HOSM_E_MISMATCH ||
           st == HOSM_E_IO;
}

/* A file for the from-file targets, one per process, removed at exit. */
static char fuzz_path_buf[256];
static inline void fuzz_remove_file(void)
{
    unlink(fuzz_path_buf);
}

static inline const char *fuzz_file_path(void)
{
    char *path = fuzz_path_buf;
    if (!path[0]) {
        atexit(fuzz_remove_file);
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof fuzz_path_buf, "%s/hosm-fuzz-%ld.bin", dir && *dir ? dir : "/tmp",
                 (long)getpid());
    }
    return path;
}

static inline void fuzz_write_file(const uint8_t *p, size_t n)
{
    FILE *f = fopen(fuzz_file_path(), "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        FUZZ_FAIL("cannot write the input file %s", fuzz_file_path());
}

#endif
