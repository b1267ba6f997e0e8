/* write_files CONFIG DIM MODEL CHECKPOINT: saves a model and a checkpoint
 * (after two training steps) for check_format.py and prints the parameter
 * and level counts. */
#include <stdio.h>
#include <stdlib.h>

#include <hosm.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: write_files CONFIG DIM MODEL CHECKPOINT\n");
        return 2;
    }
    const int64_t dim = atoi(argv[2]);
    hosm_config *cfg = NULL;
    hosm_model *model = NULL;
    hosm_trainer *trainer = NULL;
    float x[4 * 8];
    for (int i = 0; i < 4 * 8; i++)
        x[i] = (float)(i % 7) * 0.25f - 0.5f;
    int64_t P = 0, L = 0;
    int st = hosm_config_new(&cfg);
    if (!st)
        st = hosm_config_parse(cfg, argv[1]);
    if (!st)
        st = hosm_model_new(&model, dim, cfg);
    if (!st)
        st = hosm_trainer_new(&trainer, model, cfg);
    for (int k = 0; k < 2 && !st; k++)
        st = hosm_trainer_step(trainer, x, 4, NULL);
    if (!st)
        st = hosm_model_save(model, argv[3]);
    if (!st)
        st = hosm_trainer_save(trainer, argv[4]);
    if (!st)
        st = hosm_model_num_params(model, &P);
    if (!st)
        st = hosm_model_num_levels(model, &L);
    if (st)
        fprintf(stderr, "write_files: %s: %s\n", hosm_strerror(st), hosm_last_errmsg());
    else
        printf("%lld %lld\n", (long long)P, (long long)L);
    hosm_trainer_free(trainer);
    hosm_model_free(model);
    hosm_config_free(cfg);
    return st ? 1 : 0;
}
