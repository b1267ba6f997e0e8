/* A full file system, simulated (docs/reliability.md): in the fault-injection
 * build, the library's k-th write() fails with ENOSPC (or EIO, EDQUOT), or its
 * fsync() fails, for every k of a model save and a checkpoint save. Each
 * failing save returns HOSM_E_IO, the old file keeps its bytes, no temporary
 * file is left, and the next save succeeds. (test_files_robust fills a real
 * tmpfs where mounting is allowed.) */
#include "fault.h"
#include "rel_util.h"

static void check_saves(const char *what, int (*save)(const void *, const char *), const void *h,
                        const char *path, const char *dir)
{
    size_t n0;
    uint8_t *old = slurp(path, &n0);
    if (!old)
        exit(1);
    static const int errs[] = {ENOSPC, EDQUOT, EIO};
    int writes = 0;
    for (int e = 0; e < 3; e++)
        for (int64_t k = 1;; k++) {
            fault_write_arm(k, errs[e]);
            int st = save(h, path);
            int failed = fault_io_failed();
            fault_write_arm(0, 0);
            if (!failed) {
                CHECK(st == HOSM_OK, "%s: no write failed but status %d", what, st);
                writes = (int)k - 1;
                /* Put the old bytes back for the next round. */
                FILE *f = fopen(path, "wb");
                if (!f || fwrite(old, 1, n0, f) != n0 || fclose(f))
                    exit(1);
                break;
            }
            CHECK(st == HOSM_E_IO, "%s: write %lld failed (%s), status %d", what, (long long)k,
                  strerror(errs[e]), st);
            CHECK(strstr(hosm_last_errmsg(), strerror(errs[e])) != NULL,
                  "%s: the message names the error", what);
            size_t n1;
            uint8_t *now = slurp(path, &n1);
            CHECK(now && n1 == n0 && !memcmp(now, old, n0), "%s: the old file changed", what);
            free(now);
            CHECK(count_temps(dir) == 0, "%s: a temporary file is left", what);
        }
    fault_fsync_arm(1, EIO);
    int st = save(h, path);
    fault_fsync_arm(0, 0);
    CHECK(st == HOSM_E_IO, "%s: fsync failed, status %d", what, st);
    size_t n1;
    uint8_t *now = slurp(path, &n1);
    CHECK(now && n1 == n0 && !memcmp(now, old, n0), "%s: the old file changed (fsync)", what);
    free(now);
    CHECK(count_temps(dir) == 0, "%s: a temporary file is left (fsync)", what);
    CHECK(save(h, path) == HOSM_OK, "%s: a save after the failures", what);
    printf("ok %s: %d write calls each failed in turn with 3 errors, and fsync\n", what, writes);
    free(old);
}

static int save_model(const void *h, const char *p) { return hosm_model_save(h, p); }
static int save_trainer(const void *h, const char *p) { return hosm_trainer_save(h, p); }

int main(void)
{
    char dir[256], path[512];
    make_temp_dir(dir, sizeof dir, "writefail");
    snprintf(path, sizeof path, "%s/f.hosm", dir);
    hosm_config *cfg;
    hosm_model *m, *m2;
    hosm_trainer *t;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=64 depth=2 s2=lowrank rank=2"));
    MUST(hosm_model_new(&m, 8, cfg));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_SEED, 99));
    MUST(hosm_model_new(&m2, 8, cfg));
    MUST(hosm_trainer_new(&t, m, cfg));
    MUST(hosm_model_save(m2, path)); /* the old file */
    check_saves("hosm_model_save", save_model, m, path, dir);
    check_saves("hosm_trainer_save", save_trainer, t, path, dir);
    hosm_trainer_free(t);
    hosm_model_free(m);
    hosm_model_free(m2);
    hosm_config_free(cfg);
    remove_tree(dir);
    printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
