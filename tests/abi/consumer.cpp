// A C++ application built against an installed libhosm with nothing but
// `pkg-config --cflags --libs hosm` (see install_test.py): the header's
// extern "C" block, handles owned by std::unique_ptr, and a model round trip
// through memory.
//
// usage: consumer-cxx VERSION
#include <hosm.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

struct ConfigFree {
    void operator()(hosm_config *p) const { hosm_config_free(p); }
};
struct ModelFree {
    void operator()(hosm_model *p) const { hosm_model_free(p); }
};
using Config = std::unique_ptr<hosm_config, ConfigFree>;
using Model = std::unique_ptr<hosm_model, ModelFree>;

int failures = 0;

void check(bool ok, const char *what, int line)
{
    if (!ok) {
        std::fprintf(stderr, "FAIL consumer.cpp:%d: %s (last error: %s)\n", line, what,
                     hosm_last_errmsg());
        ++failures;
    }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

Config make_config(const char *text)
{
    hosm_config *raw = nullptr;
    CHECK(hosm_config_new(&raw) == HOSM_OK);
    Config cfg(raw);
    if (cfg)
        CHECK(hosm_config_parse(cfg.get(), text) == HOSM_OK);
    return cfg;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s VERSION\n", argv[0]);
        return 2;
    }
    CHECK(std::string(hosm_version_string()) == argv[1]);
    CHECK(hosm_version_number() == HOSM_VERSION_NUMBER);

    Config cfg = make_config("hidden=8 depth=1 act=silu levels=3 sigma_max=1 sigma_min=0.1 seed=3");
    if (!cfg)
        return 1;
    std::int64_t levels = 0;
    CHECK(hosm_config_get_int(cfg.get(), HOSM_KEY_LEVELS, &levels) == HOSM_OK && levels == 3);

    const std::int64_t dim = 2, n = 5;
    hosm_model *raw = nullptr;
    CHECK(hosm_model_new(&raw, dim, cfg.get()) == HOSM_OK);
    Model model(raw);
    if (!model)
        return 1;
    double sigma0 = 0.0, sigma2 = 0.0;
    CHECK(hosm_model_sigma(model.get(), 0, &sigma0) == HOSM_OK && std::fabs(sigma0 - 1.0) < 1e-12);
    CHECK(hosm_model_sigma(model.get(), 2, &sigma2) == HOSM_OK && std::fabs(sigma2 - 0.1) < 1e-12);

    std::vector<float> x(static_cast<std::size_t>(n * dim));
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = 0.1f * static_cast<float>(i) - 0.4f;
    std::vector<float> s(x.size()), s_loaded(x.size());
    CHECK(hosm_model_score(model.get(), 1, x.data(), n, s.data()) == HOSM_OK);
    for (float v : s)
        CHECK(std::isfinite(v));

    // save to memory and load again: the same scores
    std::int64_t size = 0, written = 0;
    CHECK(hosm_model_save_size(model.get(), &size) == HOSM_OK && size > 0);
    std::vector<unsigned char> buf(static_cast<std::size_t>(size));
    CHECK(hosm_model_save_mem(model.get(), buf.data(), size, &written) == HOSM_OK &&
          written == size);
    raw = nullptr;
    CHECK(hosm_model_load_mem(&raw, buf.data(), size) == HOSM_OK);
    Model loaded(raw);
    if (!loaded)
        return 1;
    CHECK(hosm_model_score(loaded.get(), 1, x.data(), n, s_loaded.data()) == HOSM_OK);
    CHECK(s == s_loaded);

    if (failures) {
        std::fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("OK: C++ consumer\n");
    return 0;
}
