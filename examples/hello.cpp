// hello.cpp: libhosm from C++.
//
// Trains a small score model on draws from one 2-D Gaussian N(mu, Sigma),
// whose noise-perturbed score is known in closed form:
//     s1(x) = -(Sigma + sigma^2 I)^-1 (x - mu),
// then queries the model and compares. The C API is wrapped in a few lines:
// handles live in std::unique_ptr with a deleter that calls hosm_X_free(), and
// every failing status becomes a hosm::error exception that carries the
// status code and libhosm's detailed message.
#include <hosm.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace hosm {

// A failed libhosm call: status() is the HOSM_E_* code.
class error : public std::runtime_error {
public:
    error(int status, const std::string &call)
        : std::runtime_error(call + ": " + hosm_strerror(status) + ": " + hosm_last_errmsg()),
          status_(status)
    {
    }
    int status() const noexcept { return status_; }

private:
    int status_;
};

// Negative statuses throw; HOSM_OK and HOSM_STOPPED are returned.
inline int check(int status, const char *call)
{
    if (status < 0)
        throw error(status, call);
    return status;
}

// One deleter for every handle type.
struct free_handle {
    void operator()(hosm_config *p) const noexcept { hosm_config_free(p); }
    void operator()(hosm_model *p) const noexcept { hosm_model_free(p); }
    void operator()(hosm_trainer *p) const noexcept { hosm_trainer_free(p); }
    void operator()(hosm_sampler *p) const noexcept { hosm_sampler_free(p); }
    void operator()(hosm_mixture *p) const noexcept { hosm_mixture_free(p); }
};
template <class T> using handle = std::unique_ptr<T, free_handle>;

inline handle<hosm_config> make_config(const std::string &text)
{
    hosm_config *raw = nullptr;
    check(hosm_config_new(&raw), "hosm_config_new");
    handle<hosm_config> cfg(raw);
    check(hosm_config_parse(cfg.get(), text.c_str()), "hosm_config_parse");
    return cfg;
}

inline handle<hosm_model> make_model(std::int64_t dim, const hosm_config *cfg)
{
    hosm_model *raw = nullptr;
    check(hosm_model_new(&raw, dim, cfg), "hosm_model_new");
    return handle<hosm_model>(raw);
}

inline handle<hosm_trainer> make_trainer(hosm_model *model, const hosm_config *cfg)
{
    hosm_trainer *raw = nullptr;
    check(hosm_trainer_new(&raw, model, cfg), "hosm_trainer_new");
    return handle<hosm_trainer>(raw);
}

inline handle<hosm_mixture> make_mixture(const std::vector<double> &weights, std::int64_t dim,
                                         const std::vector<double> &means,
                                         const std::vector<double> &covs)
{
    hosm_mixture *raw = nullptr;
    check(hosm_mixture_new(&raw, static_cast<std::int64_t>(weights.size()), dim, weights.data(),
                           means.data(), covs.data()),
          "hosm_mixture_new");
    return handle<hosm_mixture>(raw);
}

// s1 of n points (n x dim, row-major) at noise level index `level`.
inline std::vector<float> score(const hosm_model *model, std::int64_t level,
                                const std::vector<float> &x, std::int64_t dim)
{
    std::vector<float> out(x.size());
    check(hosm_model_score(model, level, x.data(), static_cast<std::int64_t>(x.size()) / dim,
                           out.data()),
          "hosm_model_score");
    return out;
}

} // namespace hosm

int main()
{
    constexpr std::int64_t dim = 2;
    const std::vector<double> mu = {1.0, -2.0};
    const std::vector<double> cov = {2.0, 0.6, 0.6, 0.5};

    try {
        std::printf("libhosm %s from C++\n", hosm_version_string());

        // Training data: exact draws from the Gaussian (a one-component mixture).
        auto gauss = hosm::make_mixture({1.0}, dim, mu, cov);
        constexpr std::int64_t n = 8000;
        std::vector<float> data(n * dim);
        hosm::check(hosm_mixture_sample(gauss.get(), 42, n, data.data()), "hosm_mixture_sample");

        // One noise level sigma = 0.3; DSM-VR with Adam. The EMA of the weights
        // starts at the initial weights, so a short run wants a short EMA
        // (0.99: about 100 steps) rather than the default 0.999.
        auto cfg = hosm::make_config("hidden=32 depth=2 act=silu sigma=0.3 objective=dsm_vr "
                                     "lr=3e-3 batch=128 steps=1500 ema=0.99 seed=1");
        auto model = hosm::make_model(dim, cfg.get());
        auto trainer = hosm::make_trainer(model.get(), cfg.get());

        // A capture-less lambda is a plain C callback; state goes via user_data.
        double last_loss = 0.0;
        auto progress = [](std::int64_t step, double loss, void *user) -> int {
            *static_cast<double *>(user) = loss;
            if (step % 500 == 0)
                std::printf("  step %4lld  loss %8.4f\n", static_cast<long long>(step), loss);
            return 0; // continue
        };
        hosm::check(hosm_trainer_fit(trainer.get(), data.data(), n, progress, &last_loss),
                    "hosm_trainer_fit");
        hosm::check(hosm_trainer_copy_ema(trainer.get(), model.get()), "hosm_trainer_copy_ema");

        // Query a few points and compare with -(Sigma + sigma^2 I)^-1 (x - mu).
        double sigma = 0.0;
        hosm::check(hosm_model_sigma(model.get(), 0, &sigma), "hosm_model_sigma");
        const double c00 = cov[0] + sigma * sigma, c01 = cov[1], c11 = cov[3] + sigma * sigma;
        const double det = c00 * c11 - c01 * c01;
        const std::vector<float> x = {1.0f, -2.0f, 2.0f, -1.5f, -0.5f, -2.5f, 1.5f, -3.0f};
        const std::vector<float> s = hosm::score(model.get(), 0, x, dim);
        std::printf("\n        x               learned s1            exact s1\n");
        double num = 0.0, den = 0.0;
        for (std::size_t i = 0; i < x.size() / dim; i++) {
            const double dx = x[2 * i] - mu[0], dy = x[2 * i + 1] - mu[1];
            const double e0 = -(c11 * dx - c01 * dy) / det, e1 = -(-c01 * dx + c00 * dy) / det;
            std::printf("  (%5.2f, %5.2f)   (%7.3f, %7.3f)   (%7.3f, %7.3f)\n", x[2 * i],
                        x[2 * i + 1], s[2 * i], s[2 * i + 1], e0, e1);
            num += (s[2 * i] - e0) * (s[2 * i] - e0) + (s[2 * i + 1] - e1) * (s[2 * i + 1] - e1);
            den += e0 * e0 + e1 * e1;
        }
        std::printf("relative error %.3f (last loss %.4f)\n", std::sqrt(num / den), last_loss);

        // The same question on noisy data points, against the oracle.
        std::mt19937_64 rng(7);
        std::normal_distribution<float> normal;
        std::vector<float> noisy(data.begin(), data.begin() + 2000 * dim), exact(noisy.size());
        for (float &v : noisy)
            v += static_cast<float>(sigma) * normal(rng);
        hosm::check(hosm_mixture_score(gauss.get(), sigma, noisy.data(), 2000, exact.data()),
                    "hosm_mixture_score");
        const std::vector<float> learned = hosm::score(model.get(), 0, noisy, dim);
        num = den = 0.0;
        for (std::size_t i = 0; i < exact.size(); i++) {
            num += (learned[i] - exact[i]) * (learned[i] - exact[i]);
            den += exact[i] * exact[i];
        }
        std::printf("relative error on 2000 noisy points: %.3f\n", std::sqrt(num / den));

        // Round trip through memory.
        std::int64_t bytes = 0;
        hosm::check(hosm_model_save_size(model.get(), &bytes), "hosm_model_save_size");
        std::vector<unsigned char> buf(static_cast<std::size_t>(bytes));
        hosm::check(hosm_model_save_mem(model.get(), buf.data(), bytes, nullptr),
                    "hosm_model_save_mem");
        hosm_model *raw = nullptr;
        hosm::check(hosm_model_load_mem(&raw, buf.data(), bytes), "hosm_model_load_mem");
        hosm::handle<hosm_model> copy(raw);
        const bool same = hosm::score(copy.get(), 0, x, dim) == s;
        std::printf("saved %lld bytes to memory and reloaded: scores %s\n",
                    static_cast<long long>(bytes), same ? "identical" : "DIFFER");

        // Errors are exceptions that carry the status.
        try {
            hosm::make_config("hidden=0");
        } catch (const hosm::error &e) {
            std::printf("expected failure (status %d): %s\n", e.status(), e.what());
        }
        return same ? 0 : 1;
    } catch (const hosm::error &e) {
        std::fprintf(stderr, "hello_cpp: %s\n", e.what());
        return 1;
    }
}
