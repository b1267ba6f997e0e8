"""Tests of the Python package (examples/python/hosm) against the built libhosm.

Run by meson (suite 'python') with HOSM_LIBRARY set, or by hand:
    HOSM_LIBRARY=build/lib/libhosm.so /usr/bin/python3 examples/python/test_python.py
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hosm  # noqa: E402

# A 2-D mixture of three Gaussians with unequal weights.
WEIGHTS = [0.5, 0.3, 0.2]
MEANS = [[-2.0, -1.0], [2.0, -1.0], [0.0, 2.0]]
COVS = [[[0.5, 0.2], [0.2, 0.3]], [[0.3, -0.1], [-0.1, 0.4]], [[0.6, 0.0], [0.0, 0.2]]]

# Model, trainer and sampler settings, one text for all three handles.
SETTINGS = ("hidden=64 depth=2 act=silu levels=8 sigma_max=3 sigma_min=0.05 "
            "objective=dsm_vr lr=3e-3 batch=256 steps=3000 ema=0.99 "
            "sampler=annealed step_size=5e-4 sample_steps=60 seed=3")


class ConfigTest(unittest.TestCase):
    def test_parse_get_set(self):
        with hosm.Config("hidden=32 act=tanh sigma=0.25", depth=3, lr=0.01) as cfg:
            self.assertEqual(cfg["hidden"], 32)
            self.assertEqual(cfg["act"], hosm.Act.TANH)
            self.assertEqual(cfg[hosm.Key.DEPTH], 3)
            self.assertAlmostEqual(cfg["sigma"], 0.25)
            self.assertAlmostEqual(cfg["lr"], 0.01)
            cfg["sampler"] = "annealed"
            self.assertEqual(cfg["sampler"], hosm.SamplerKind.ANNEALED)
            with hosm.Config(cfg.text()) as copy:
                self.assertEqual(copy.to_dict(), cfg.to_dict())
        lo, hi, default = hosm.Config.bounds("hidden")
        self.assertEqual((lo, hi, default), (1, 65536, 128))

    def test_every_key_and_enum_value(self):
        # Key names every key the library knows, and every enum key's values
        # have names (text() of a config that uses the last of each).
        self.assertEqual(sorted(hosm.Config.all_keys()), sorted(int(k) for k in hosm.Key))
        for k in hosm.Key:
            self.assertEqual(hosm.Config.key_name(k), k.name.lower())
        with hosm.Config("sampler=annealed_ozaki objective=exact_sm projection=gaussian "
                         "hessian=jacobian ozaki_solver=lanczos") as cfg:
            with hosm.Config(cfg.text()) as copy:
                self.assertEqual(copy.to_dict(), cfg.to_dict())

    def test_errors(self):
        with hosm.Config() as cfg:
            with self.assertRaises(hosm.HosmError) as ctx:
                cfg.parse("hidden=64 no_such_key=1")
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_KEY)
            self.assertIn("no_such_key", ctx.exception.message)
            self.assertEqual(cfg["hidden"], 128, "a failed parse must change nothing")
            with self.assertRaises(hosm.HosmError) as ctx:
                cfg["no_such_key"] = 1
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_KEY)
            with self.assertRaises(hosm.HosmError) as ctx:
                cfg["hidden"] = 0
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_RANGE)
            self.assertIn("hidden", ctx.exception.message)
            with self.assertRaises(hosm.HosmError) as ctx:
                cfg.parse("lr=fast")
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_PARSE)
            with self.assertRaises(hosm.HosmError) as ctx:
                cfg.parse("act=relu")
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_RANGE)
        self.assertIn("key", hosm.strerror(hosm.HOSM_E_KEY))
        self.assertTrue(str(hosm.HosmError(hosm.HOSM_E_KEY, "detail")).endswith(": detail"))

    def test_closed_handle(self):
        cfg = hosm.Config()
        cfg.close()
        cfg.close()  # idempotent
        with self.assertRaises(ValueError):
            cfg["hidden"]


class MixtureTest(unittest.TestCase):
    def test_score_is_gradient_of_log_density(self):
        with hosm.Mixture(WEIGHTS, MEANS, COVS) as mix:
            x = mix.sample(50, seed=5).astype(np.float64)
            h = 1e-3
            for sigma in (0.0, 0.5):
                s = mix.score(x, sigma)
                fd = np.empty_like(s)
                for j in range(2):
                    e = np.zeros(2)
                    e[j] = h
                    fd[:, j] = (mix.log_density(x + e, sigma) - mix.log_density(x - e, sigma)) / (2 * h)
                # float32 inputs: steps of 1e-3 carry ~1e-4 relative rounding.
                np.testing.assert_allclose(s, fd, rtol=2e-2, atol=2e-2)

    def test_sample_is_reproducible(self):
        with hosm.Mixture(WEIGHTS, MEANS, COVS) as mix:
            np.testing.assert_array_equal(mix.sample(100, seed=9), mix.sample(100, seed=9))
            self.assertFalse(np.array_equal(mix.sample(100, seed=9), mix.sample(100, seed=10)))

    def test_bad_covariance(self):
        with self.assertRaises(hosm.HosmError) as ctx:
            hosm.Mixture([1.0], [[0.0, 0.0]], [[[1.0, 2.0], [2.0, 1.0]]])
        self.assertEqual(ctx.exception.status, hosm.HOSM_E_ARG)


class TrainSampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mix = hosm.Mixture(WEIGHTS, MEANS, COVS)
        cls.cfg = hosm.Config(SETTINGS)
        cls.model = hosm.Model(2, cls.cfg)
        cls.data = cls.mix.sample(10000, seed=1)
        losses = []
        with hosm.Trainer(cls.model, cls.cfg) as trainer:
            done = trainer.fit(cls.data, lambda step, loss: losses.append(loss))
            assert done and trainer.step_count == 3000 and len(losses) == 3000
            trainer.copy_ema()
        cls.losses = losses

    @classmethod
    def tearDownClass(cls):
        cls.model.close()
        cls.cfg.close()
        cls.mix.close()

    def test_loss_decreases(self):
        self.assertLess(np.mean(self.losses[-200:]), np.mean(self.losses[:200]))

    def test_score_close_to_oracle(self):
        # Held-out points with noise at a middle level of the ladder.
        level = 4
        sigma = self.model.sigma(level)
        rng = np.random.default_rng(0)
        x = self.mix.sample(2000, seed=2) + sigma * rng.standard_normal((2000, 2))
        learned = self.model.score(x, level)
        exact = self.mix.score(x, sigma)
        err = np.linalg.norm(learned - exact) / np.linalg.norm(exact)
        print(f"\nscore relative error at sigma {sigma:.3f}: {err:.3f}")
        self.assertLess(err, 0.3)

    def test_langevin_sample_mean(self):
        # 1000 chains from a broad N(0, 3^2 I), annealed over the ladder, then
        # one Tweedie denoising step at the smallest level.
        rng = np.random.default_rng(1)
        x0 = 3.0 * rng.standard_normal((1000, 2))
        sigmas = []

        def progress(step, sigma):
            sigmas.append(sigma)
            return False  # continue

        with hosm.Sampler(self.model, self.cfg) as sampler:
            x = sampler.run(x0, progress)
        self.assertEqual(len(sigmas), 8 * 60)
        self.assertTrue(np.all(np.diff(sigmas) <= 0), "sigma must decrease")
        x = self.model.denoise(x, level=-1)
        # The mixture's sd is about 1.7 per coordinate, so the mean of 1000
        # samples has a standard error of about 0.055; allow 0.25 for that,
        # the model's error and the sampler's bias.
        tol = 0.25
        mean = x.mean(axis=0)
        print(f"sample mean {mean}, mixture mean {self.mix.mean}, tolerance {tol}")
        np.testing.assert_allclose(mean, self.mix.mean, atol=tol)
        cov = np.cov(x.T)
        np.testing.assert_allclose(cov, self.mix.covariance, atol=0.5)
        # Every mode is visited in about the right proportion.
        nearest = np.argmin(((x[:, None, :] - np.array(MEANS)[None]) ** 2).sum(-1), axis=1)
        frac = np.bincount(nearest, minlength=3) / len(x)
        print(f"mode fractions {frac}, weights {WEIGHTS}")
        np.testing.assert_allclose(frac, WEIGHTS, atol=0.08)

    def test_at_sigma(self):
        x = self.mix.sample(50, seed=4)
        s = self.model.sigmas
        with self.model.at_sigma(s[2]) as at:
            self.assertEqual(at.num_levels, 1)
            np.testing.assert_allclose(at.score(x), self.model.score(x, 2), rtol=1e-5, atol=1e-5)
        mid = float(np.sqrt(s[2] * s[3]))
        with self.model.at_sigma(mid) as at:
            self.assertAlmostEqual(at.sigmas[0], mid)
            self.assertTrue(np.isfinite(at.denoise(x)).all())
        with self.assertRaises(hosm.HosmError) as ctx:
            self.model.at_sigma(s[0] * 1.01)
        self.assertEqual(ctx.exception.status, hosm.HOSM_E_RANGE)

    def test_save_load_round_trip(self):
        x = self.mix.sample(100, seed=3)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.hosm")
            self.model.save(path)
            with hosm.Model.load(path) as loaded:
                self.assertEqual(loaded.num_levels, 8)
                np.testing.assert_array_equal(loaded.score(x, 2), self.model.score(x, 2))
                np.testing.assert_array_equal(loaded.get_params(), self.model.get_params())
                arch = ("hidden", "depth", "act", "levels", "sigma_max", "sigma_min", "s2")
                with loaded.get_config() as a, self.model.get_config() as b:
                    self.assertEqual([a[k] for k in arch], [b[k] for k in arch])
                    self.assertEqual(a.text(), b.text())
                    hidden = a["hidden"]
                # Settings travel in the file (format version 3); the
                # architecture keys stay the model's own.
                loaded.set_config("hidden=3 sampler=annealed step_size=0.0005")
                loaded.save(path)
                with hosm.Model.load(path) as again, again.get_config() as c:
                    self.assertEqual((c["sampler"], c["step_size"], c["hidden"]),
                                     (hosm.SamplerKind.ANNEALED, 0.0005, hidden))
            with self.assertRaises(hosm.HosmError) as ctx:
                hosm.Model.load(os.path.join(tmp, "missing.hosm"))
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_IO)
        data = self.model.to_bytes()
        with hosm.Model.from_bytes(data) as loaded:
            np.testing.assert_array_equal(loaded.score(x), self.model.score(x))
        with self.assertRaises(hosm.HosmError) as ctx:
            hosm.Model.from_bytes(data[: len(data) // 2])
        self.assertEqual(ctx.exception.status, hosm.HOSM_E_TRUNCATED)
        with self.assertRaises(hosm.HosmError) as ctx:
            hosm.Model.from_bytes(b"not a model file at all, just some bytes")
        self.assertEqual(ctx.exception.status, hosm.HOSM_E_FORMAT)


class SecondOrderTest(unittest.TestCase):
    def test_learned_hessian_of_a_gaussian(self):
        # One Gaussian: s2 = -(Sigma + sigma^2 I)^-1 everywhere.
        cov = np.array([[1.0, 0.4], [0.4, 0.5]])
        sigma = 0.3
        with hosm.Mixture([1.0], [[0.5, -0.5]], [cov]) as gauss, \
                hosm.Config(f"hidden=32 depth=2 act=silu sigma={sigma} s2=full "
                            "s2_objective=d2sm_vr lr=3e-3 batch=256 steps=1500 ema=0.99 "
                            "seed=2") as cfg, \
                hosm.Model(2, cfg) as model, hosm.Trainer(model, cfg) as trainer:
            self.assertEqual(model.s2_structure, (hosm.S2.FULL, 0))
            trainer.fit(gauss.sample(5000, seed=1))
            trainer.copy_ema()
            x = gauss.sample(200, seed=2) + sigma * np.random.default_rng(3).standard_normal((200, 2))
            h = model.hessian(x, 0)
            self.assertEqual(h.shape, (200, 2, 2))
            exact = gauss.hessian(x, sigma)
            err = np.linalg.norm(h - exact) / np.linalg.norm(exact)
            print(f"\nlearned s2 relative error {err:.3f}")
            self.assertLess(err, 0.3)
            v = np.random.default_rng(4).standard_normal((200, 2))
            np.testing.assert_allclose(model.hvp(x, v, 0), np.einsum("nij,nj->ni", h, v),
                                       rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(model.hessian_diag(x, 0), np.diagonal(h, axis1=1, axis2=2),
                                       rtol=1e-5, atol=1e-5)
            post = model.posterior_cov(x, 0, clamp=False)
            np.testing.assert_allclose(post, sigma**4 * h + sigma**2 * np.eye(2), rtol=1e-4,
                                       atol=1e-5)
            # The default clamps: positive semidefinite, as a covariance is.
            clamped = model.posterior_cov(x, 0)
            np.testing.assert_array_equal(clamped, model.posterior_cov(x, 0, clamp=True))
            self.assertGreaterEqual(np.linalg.eigvalsh(clamped.astype(np.float64)).min(), -1e-6)
            np.testing.assert_allclose(model.posterior_var(x, 0),
                                       np.diagonal(clamped, axis1=1, axis2=2), rtol=1e-4,
                                       atol=1e-6)
            vals, vecs = model.posterior_topk(x[:3], 1, 0)
            self.assertEqual((vals.shape, vecs.shape), ((3, 1), (3, 1, 2)))
            # The autodiff baseline: the Jacobian of the learned s1.
            jac = model.score_jacobian(x, 0, symmetrize=True)
            err = np.linalg.norm(jac - exact) / np.linalg.norm(exact)
            self.assertLess(err, 0.3)
            # The estimates by name: the learned s2, the Jacobian, their average.
            np.testing.assert_array_equal(model.hessian_estimate(x, "s2", 0), h)
            np.testing.assert_array_equal(
                model.hessian_estimate(x, hosm.HessianSource.JACOBIAN, 0), jac)
            with self.assertRaises(ValueError):
                model.hessian_estimate(x, "mean", 0)
            with self.assertRaises(hosm.HosmError) as ctx:
                model.hessian_estimate(x, 7, 0)
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_ARG)
            half = np.float32(0.5)
            np.testing.assert_array_equal(model.hessian_estimate(x, level=0),
                                          half * h.astype(np.float32) +
                                          half * jac.astype(np.float32))

    def test_likelihood_matches_the_queries(self):
        # d2sm_res_nll's loss is the Gaussian negative log-likelihood of the
        # denoiser's residual under the posterior covariance the queries
        # report: (log det A + rho^T A^-1 rho) / sigma^4, A = cov / sigma^2,
        # rho = (denoise(x + sigma z) - x) / sigma, for both structures;
        # nll_marginal = w adds w sum_a (log A_aa + rho_a^2 / A_aa) / sigma^4.
        D, sig = 12, 0.5
        rng = np.random.default_rng(5)
        x = (rng.standard_normal((16, D)) * np.linspace(0.2, 1.5, D)).astype(np.float32)
        z = rng.standard_normal((16, D)).astype(np.float32)
        for s2, w in (("diag", 0), ("lowrank", 0), ("lowrank", 0.5)):
            cfg = hosm.Config(f"hidden=16 sigma={sig} s2={s2} rank=3 s2_head=logvar "
                              "s2_objective=d2sm_res_nll freeze_s1=1 lr=1e-2 batch=16 seed=2 "
                              f"nll_marginal={w}")
            with hosm.Model(D, cfg) as model, hosm.Trainer(model, cfg) as trainer:
                for _ in range(20):  # away from the initial weights
                    trainer.step(x)
                loss, _ = trainer.gradient(x, z)
                xt = x + sig * z
                rho = (model.denoise(xt).astype(np.float64) - x) / sig
                a = model.posterior_cov(xt, clamp=False).astype(np.float64) / sig**2
                nll = np.mean([(np.linalg.slogdet(a[i])[1] + rho[i] @ np.linalg.solve(a[i], rho[i]) +
                                w * np.sum(np.log(np.diag(a[i])) + rho[i]**2 / np.diag(a[i])))
                               for i in range(len(x))]) / sig**4
                self.assertAlmostEqual(loss / nll, 1.0, delta=1e-4, msg=f"{s2} {w}")

    def test_unsupported_on_first_order_model(self):
        with hosm.Model(2, hosm.Config("hidden=8")) as model:
            self.assertEqual(model.s2_structure, (hosm.S2.NONE, 0))
            with self.assertRaises(hosm.HosmError) as ctx:
                model.hessian(np.zeros((1, 2)))
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_UNSUPPORTED)
            self.assertEqual(model.score_jacobian(np.zeros(2)).shape, (2, 2))


class EnergyTest(unittest.TestCase):
    def test_parameterization_enum(self):
        self.assertEqual([(p.name, int(p)) for p in hosm.Parameterization],
                         [("SCORE", 0), ("ENERGY", 1), ("DENOISER", 2)])
        with hosm.Config("parameterization=energy") as cfg:
            self.assertEqual(cfg["parameterization"], hosm.Parameterization.ENERGY)
            self.assertIn("parameterization=energy", cfg.text())
        with hosm.Config() as cfg:
            self.assertEqual(cfg[hosm.Key.PARAMETERIZATION], hosm.Parameterization.SCORE)

    def test_log_density_unnormalized(self):
        # An energy ladder with random weights: at every level the values are
        # those of the C query, and their central differences along each
        # coordinate are the score (the log density's gradient).
        with hosm.Config("parameterization=energy hidden=8 depth=2 act=tanh levels=3 "
                         "sigma_max=1 sigma_min=0.1 seed=2") as cfg, \
                hosm.Model(2, cfg) as model:
            rng = np.random.default_rng(5)
            model.set_params(rng.uniform(-0.8, 0.8, model.num_params))
            x = rng.standard_normal((20, 2)).astype(np.float32)
            for level in range(3):
                ld = model.log_density_unnormalized(x, level)
                self.assertEqual((ld.shape, ld.dtype), ((20,), np.float64))
                direct = np.empty(20)
                hosm._lib.hosm_model_log_density_unnormalized(model.handle, level, x.ctypes.data,
                                                             20, direct.ctypes.data)
                np.testing.assert_array_equal(ld, direct)
                score = model.score(x, level).astype(np.float64)
                for j in range(2):
                    xp, xm = x.copy(), x.copy()
                    xp[:, j] += np.float32(1e-2)
                    xm[:, j] -= np.float32(1e-2)
                    step = xp[:, j].astype(np.float64) - xm[:, j]
                    fd = (model.log_density_unnormalized(xp, level)
                          - model.log_density_unnormalized(xm, level)) / step
                    np.testing.assert_allclose(fd, score[:, j], rtol=1e-3,
                                               atol=1e-3 * np.abs(score).max())
            # One point gives a scalar; the default level is the smallest sigma.
            one = model.log_density_unnormalized(x[0])
            self.assertEqual(np.shape(one), ())
            self.assertEqual(one, model.log_density_unnormalized(x, 2)[0])

    def test_score_network_has_no_log_density(self):
        with hosm.Config("hidden=8") as cfg, hosm.Model(2, cfg) as model:
            with self.assertRaises(hosm.HosmError) as ctx:
                model.log_density_unnormalized(np.zeros((3, 2)))
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_UNSUPPORTED)
            self.assertEqual(ctx.exception.status, hosm.Status.E_UNSUPPORTED)


class TrainerTest(unittest.TestCase):
    def setUp(self):
        self.mix = hosm.Mixture(WEIGHTS, MEANS, COVS)
        self.data = self.mix.sample(1000, seed=4)
        self.cfg = hosm.Config("hidden=16 levels=4 sigma_max=2 sigma_min=0.1 batch=64 steps=40")

    def tearDown(self):
        self.cfg.close()
        self.mix.close()

    def test_callback_stops_and_errors_propagate(self):
        with hosm.Model(2, self.cfg) as model, hosm.Trainer(model, self.cfg) as trainer:
            self.assertFalse(trainer.fit(self.data, lambda step, loss: step >= 10))
            self.assertEqual(trainer.step_count, 10)

            def broken(step, loss):
                raise KeyError("from the callback")

            with self.assertRaises(KeyError):
                trainer.fit(self.data, broken)
            self.assertEqual(trainer.step_count, 11)
            self.assertTrue(trainer.fit(self.data))
            self.assertEqual(trainer.step_count, 40)

    def test_checkpoint_continues_exactly(self):
        with hosm.Model(2, self.cfg) as model, hosm.Trainer(model, self.cfg) as trainer:
            trainer.fit(self.data, lambda step, loss: step >= 20)
            checkpoint = trainer.to_bytes()
            trainer.fit(self.data)
            final = model.get_params()
            trainer.load_bytes(checkpoint)
            self.assertEqual(trainer.step_count, 20)
            trainer.fit(self.data)
            np.testing.assert_array_equal(model.get_params(), final)

    def test_inputs(self):
        with hosm.Model(2, self.cfg) as model, hosm.Trainer(model, self.cfg) as trainer:
            # float64 and non-contiguous inputs are converted.
            wide = np.asfortranarray(self.data[:64].astype(np.float64))
            self.assertTrue(np.isfinite(trainer.step(wide)))
            self.assertEqual(model.score(wide[0]).shape, (2,))
            with self.assertRaises(TypeError):
                model.score(np.zeros((4, 2), dtype=complex))
            with self.assertRaises(ValueError):
                model.score(np.zeros((4, 3)))
            bad = self.data[:64].copy()
            bad[5, 1] = np.nan
            with self.assertRaises(hosm.HosmError) as ctx:
                trainer.step(bad)
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_NONFINITE)
            with self.assertRaises(hosm.HosmError) as ctx:
                model.score(self.data[:4], level=7)
            self.assertEqual(ctx.exception.status, hosm.HOSM_E_ARG)

    def test_dtypes(self):
        # float32 in, float32 out; float64 (and lists, integers) in, float64
        # out, with the float32 computation's values.
        with hosm.Model(2, self.cfg) as model, hosm.Trainer(model, self.cfg) as trainer:
            x32 = self.data[:16]
            x64 = x32.astype(np.float64)
            for query in (model.score, model.denoise, model.score_jacobian,
                          model.score_jacobian_diag, self.mix.score, self.mix.hessian):
                r32, r64 = query(x32), query(x64)
                self.assertEqual((r32.dtype, r64.dtype), (np.float32, np.float64), query)
                np.testing.assert_array_equal(r64, r32.astype(np.float64))
                self.assertEqual(query(x64[0]).dtype, np.float64)
            self.assertEqual(model.score(x32.tolist()).dtype, np.float64)
            self.assertEqual(model.score(np.array([[1, 2]])).dtype, np.float64)
            self.assertEqual(self.mix.log_density(x32).dtype, np.float64)
            with hosm.Sampler(model, self.cfg) as sampler:
                start = x64[:8].copy()
                out = sampler.run(start)
                self.assertEqual(out.dtype, np.float64)
                np.testing.assert_array_equal(start, x64[:8], "run() must not change x0")
                self.assertEqual(sampler.run(x32[:8]).dtype, np.float32)
            loss, grad = trainer.gradient(x64[:8], np.zeros((8, 2)), levels=[0, 1, 2, 3, -1, -2, 0, 0])
            self.assertTrue(np.isfinite(loss))
            self.assertEqual(grad.dtype, np.float32)  # parameters are float32

    def test_levels(self):
        with hosm.Model(2, self.cfg) as model, hosm.Trainer(model, self.cfg) as trainer:
            x = self.data[:4]
            self.assertEqual(model.sigmas.shape, (4,))
            for level in (0, 3, -1, -4, np.int64(2), np.int32(-2)):
                self.assertEqual(model.sigma(level), model.sigmas[level])
                np.testing.assert_array_equal(model.score(x, level),
                                              model.score(x, model.level_index(level)))
            for level in (0.5, 2.0, "1", True, None):
                with self.assertRaises(TypeError, msg=repr(level)):
                    model.score(x, level)
                with self.assertRaises(TypeError, msg=repr(level)):
                    model.sigma(level)
            for level in (4, -5, -11):
                with self.assertRaises(hosm.HosmError) as ctx:
                    model.score(x, level)
                self.assertEqual(ctx.exception.status, hosm.HOSM_E_ARG)
                self.assertIn(f"level {level} ", ctx.exception.message)
            with self.assertRaises(TypeError):
                trainer.gradient(x, np.zeros_like(x), levels=[0.5, 1, 2, 3])
            with self.assertRaises(hosm.HosmError):
                trainer.gradient(x, np.zeros_like(x), levels=[0, 1, 2, 4])

    def test_progress(self):
        with hosm.Model(2, self.cfg) as model, hosm.Trainer(model, self.cfg) as trainer:
            self.assertEqual(trainer.target(len(self.data)), 40)
            err = io.StringIO()
            with contextlib.redirect_stderr(err), mock_no_tqdm():
                trainer.fit(self.data, lambda step, loss: step >= 10, progress=True)
                trainer.fit(self.data, progress=True)
            text = err.getvalue()
            self.assertIn("10/40", text)
            self.assertIn("40/40", text)
            self.assertIn("loss=", text)

            class Bar:  # a tqdm-like object of the caller's
                n, postfix, closed = 0, "", False

                def update(self, k):
                    self.n += k

                def set_postfix_str(self, text, refresh=True):
                    self.postfix = text

                def close(self):
                    self.closed = True

            bar = Bar()
            with hosm.Sampler(model, self.cfg) as sampler:
                sampler.run(self.data[:16], progress=bar)
                self.assertEqual(bar.n, sampler.run_steps)
                self.assertTrue(bar.postfix.startswith("sigma="))
                self.assertFalse(bar.closed, "the caller's bar is the caller's to close")


@contextlib.contextmanager
def mock_no_tqdm():
    """Hide tqdm, if installed, so that the built-in text bar is tested."""
    saved = {k: sys.modules[k] for k in list(sys.modules) if k.split(".")[0] == "tqdm"}
    sys.modules["tqdm"] = None
    try:
        yield
    finally:
        del sys.modules["tqdm"]
        sys.modules.update(saved)

    def test_closing_the_model_closes_its_users(self):
        model = hosm.Model(2, self.cfg)
        trainer = hosm.Trainer(model, self.cfg)
        sampler = hosm.Sampler(model, self.cfg)
        model.close()
        self.assertTrue(trainer.closed and sampler.closed)
        with self.assertRaises(ValueError):
            trainer.step(self.data[:8])


if __name__ == "__main__":
    print(f"libhosm {hosm.version()} from {hosm.library_path}, package {hosm.__file__}")
    unittest.main(verbosity=2)
