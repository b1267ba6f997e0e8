/* The kill -9 loop (docs/reliability.md): a child saves a model (or a
 * checkpoint) to one path over and over, alternating two versions, and is
 * killed with SIGKILL after a random delay; after every kill the path holds
 * one of the two versions, byte for byte, and it loads. Temporary files may
 * only be left by a kill between the link and the rename of a save; the next
 * save removes them, and after the final save none is left.
 * Usage: test_kill_save [ROUNDS] (default 400). In the fault-injection build
 * a second variant runs with O_TMPFILE reported unsupported, so the named
 * temporary fallback is killed as well. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "rel_util.h"
#ifdef FAULT_BUILD
#include "fault.h"
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int rounds = argc > 1 ? atoi(argv[1]) : 400;
#ifdef FAULT_BUILD
    fault_no_tmpfile(1);
    printf("O_TMPFILE reported unsupported: the named temporary fallback is tested\n");
#endif
    char dir[256], path[512];
    make_temp_dir(dir, sizeof dir, "kill");
    snprintf(path, sizeof path, "%s/model.hosm", dir);
    hosm_config *cfg;
    hosm_model *a, *b;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=256 depth=3 seed=1"));
    MUST(hosm_model_new(&a, 16, cfg));
    MUST(hosm_config_set_int(cfg, HOSM_KEY_SEED, 2));
    MUST(hosm_model_new(&b, 16, cfg));
    int64_t na, nb;
    MUST(hosm_model_save_size(a, &na));
    MUST(hosm_model_save_size(b, &nb));
    uint8_t *ba = malloc((size_t)na), *bb = malloc((size_t)nb);
    MUST(hosm_model_save_mem(a, ba, na, NULL));
    MUST(hosm_model_save_mem(b, bb, nb, NULL));
    MUST(hosm_model_save(a, path));
    double t0 = now();
    for (int i = 0; i < 10; i++)
        MUST(hosm_model_save(i % 2 ? a : b, path));
    double per_save = (now() - t0) / 10;
    printf("a save of %lld bytes takes %.2f ms\n", (long long)na, 1e3 * per_save);
    int left_rounds = 0, bad = 0, max_temps = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (uint64_t i = 0;; i++)
                hosm_model_save(i % 2 ? a : b, path);
        }
        /* Kill somewhere in the first few saves (fork and start-up included). */
        double delay = 1e-3 + (double)(next() % 1000) / 1000.0 * 4 * per_save;
        struct timespec ts = {0, (long)(delay * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int ws;
        waitpid(pid, &ws, 0);
        size_t n = 0;
        uint8_t *got = slurp(path, &n);
        int ok = got && ((n == (size_t)na && !memcmp(got, ba, n)) ||
                         (n == (size_t)nb && !memcmp(got, bb, n)));
        free(got);
        hosm_model *m = NULL;
        ok = ok && hosm_model_load(&m, path) == HOSM_OK;
        hosm_model_free(m);
        if (!ok) {
            printf("FAIL round %d: the file is neither version (%zu bytes)\n", r, n);
            bad++;
        }
        int t = count_temps(dir);
        if (t > 0)
            left_rounds++;
        if (t > max_temps)
            max_temps = t;
    }
    /* One more save removes whatever a kill left. */
    MUST(hosm_model_save(a, path));
    int final_temps = count_temps(dir);
    printf("%d kill rounds: %d bad files; %d rounds left a temporary file (at most %d at "
           "once); %d left after the final save\n",
           rounds, bad, left_rounds, max_temps, final_temps);
    CHECK(bad == 0, "every kill left a whole old or new file");
    CHECK(final_temps == 0, "no temporary file after the final save");
    CHECK(max_temps <= 1, "leftovers do not accumulate");
    hosm_model_free(a);
    hosm_model_free(b);
    hosm_config_free(cfg);
    free(ba);
    free(bb);
    remove_tree(dir);
    printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
