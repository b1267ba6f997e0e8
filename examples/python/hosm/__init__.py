"""hosm: Python bindings of libhosm (ctypes + numpy).

A thin layer over the C API in include/hosm.h:

- data go in as numpy arrays (or nested lists) of shape (n, D), or (D,) for
  one point. libhosm computes in float32: inputs are converted to
  C-contiguous float32, and results come back as new arrays in the input's
  precision, float32 for float32 input and float64 for float64 (or integer)
  input, so float64 in gives float64 out with float32 accuracy;
- levels are integers indexing the noise ladder as Python indexes a list:
  0 is the largest sigma, -1 (the default) the smallest; a non-integer level
  raises TypeError, one outside [-L, L-1] HosmError (E_ARG);
- every status is checked: a failure raises HosmError(status, message), with
  libhosm's detailed message (hosm_last_errmsg);
- handles (Config, Model, Trainer, Sampler, Mixture) are freed by close(), by
  a ``with`` block, or when garbage-collected;
- argument-free queries are properties (model.dim, model.num_levels,
  model.sigmas, trainer.step_count); queries with arguments are methods
  (model.sigma(level) == model.sigmas[level], model.score(x, level));
- Trainer.fit() and Sampler.run() take a callback ``fn(step, value)`` (a true
  return value stops the run; an exception raised inside one stops the run
  and is re-raised) and progress=True for a progress bar on stderr (tqdm if
  installed); Ctrl-C stops them after the current step and raises
  KeyboardInterrupt, with the steps done kept;
- posterior queries clamp the covariance to be positive semidefinite unless
  clamp=False.

The shared library: the environment variable HOSM_LIBRARY (a path) always
wins. An installed package (``meson install``, or ``pip install`` of the
source tree) loads the libhosm it was installed with. From the source tree
(examples/python on PYTHONPATH) it is ctypes.util.find_library("hosm"),
else build/lib/libhosm.so of the source tree or of the working directory.

Example::

    import hosm
    with hosm.Config("hidden=64 levels=8 sigma_max=3 sigma_min=0.05 steps=2000") as cfg, \\
         hosm.Model(2, cfg) as model, hosm.Trainer(model, cfg) as trainer:
        trainer.fit(data, progress=True)
        trainer.copy_ema()
        s1 = model.score(points, level=-1)
"""

import ctypes
import ctypes.util
import enum
import operator
import os
import weakref
from ctypes import POINTER, byref, c_char_p, c_double, c_int, c_int64, c_uint64, c_void_p
from pathlib import Path

import numpy as np

from . import _progress

__all__ = [
    "HosmError", "Status", "Key", "Act", "Objective", "S2", "S2Objective", "SamplerKind",
    "Projection", "HessianSource", "OzakiSolver", "Parameterization", "GemmKernels", "LrSchedule", "S2Head", "Config", "Model", "Trainer", "Sampler", "Mixture",
    "version", "version_number", "strerror", "library_path",
]


# ---------------------------------------------------------------------------
# Constants (values from include/hosm.h; they never change)

class Status(enum.IntEnum):
    OK = 0
    STOPPED = 1
    E_NULL = -1
    E_ARG = -2
    E_KEY = -3
    E_RANGE = -4
    E_TYPE = -5
    E_NOMEM = -6
    E_NONFINITE = -7
    E_IO = -8
    E_FORMAT = -9
    E_VERSION = -10
    E_CORRUPT = -11
    E_TRUNCATED = -12
    E_MISMATCH = -13
    E_BUFFER = -14
    E_PARSE = -15
    E_UNSUPPORTED = -16


# The C names, for code that mirrors the C API: hosm.HOSM_E_KEY == -3.
for _s in Status:
    globals()["HOSM_" + _s.name] = _s
    __all__.append("HOSM_" + _s.name)


class Key(enum.IntEnum):
    HIDDEN = 1
    DEPTH = 2
    ACT = 3
    SIGMA = 4
    SIGMA_MAX = 5
    SIGMA_MIN = 6
    LEVELS = 7
    SEED = 8
    THREADS = 9
    OBJECTIVE = 10
    LR = 11
    BETA1 = 12
    BETA2 = 13
    ADAM_EPS = 14
    WEIGHT_DECAY = 15
    CLIP = 16
    EMA = 17
    BATCH = 18
    STEPS = 19
    EPOCHS = 20
    SAMPLER = 21
    STEP_SIZE = 22
    SAMPLE_STEPS = 23
    S2 = 24
    RANK = 25
    S2_HIDDEN = 26
    S2_DEPTH = 27
    S2_OBJECTIVE = 28
    W1 = 29
    FREEZE_S1 = 30
    STREAM = 31
    HESSIAN = 32
    L_MAX = 33
    OZAKI_SOLVER = 34
    LANCZOS_TOL = 35
    INIT_NOISE = 36
    FINAL_DENOISE = 37
    PROJECTIONS = 38
    PROJECTION = 39
    SSM_NOISE = 40
    RAW_HEAD = 41
    PARAMETERIZATION = 42
    GEMM_KERNELS = 43
    LR_SCHEDULE = 44
    WARMUP = 45
    S2_HEAD = 46
    NLL_MARGINAL = 47


class Act(enum.IntEnum):
    SOFTPLUS = 0
    SILU = 1
    TANH = 2
    ELU = 3


class Parameterization(enum.IntEnum):
    SCORE = 0
    ENERGY = 1
    DENOISER = 2


class GemmKernels(enum.IntEnum):
    AUTO = 0
    BLIS = 1


class Objective(enum.IntEnum):
    DSM = 0
    DSM_VR = 1
    SSM = 2
    SSM_VR = 3
    EXACT_SM = 4


class S2(enum.IntEnum):
    NONE = 0
    DIAG = 1
    LOWRANK = 2
    FULL = 3


class S2Objective(enum.IntEnum):
    D2SM = 0
    D2SM_VR = 1
    D2SM_RES = 2
    D2SM_RES_VR = 3
    D2SM_RES_NLL = 4


class SamplerKind(enum.IntEnum):
    LANGEVIN = 0
    ANNEALED = 1
    OZAKI = 2
    MALA = 3
    MH_OZAKI = 4
    ANNEALED_OZAKI = 5


class Projection(enum.IntEnum):
    RADEMACHER = 0
    GAUSSIAN = 1


class HessianSource(enum.IntEnum):
    S2 = 0
    JACOBIAN = 1
    AVERAGE = 2


class LrSchedule(enum.IntEnum):
    CONSTANT = 0
    COSINE = 1


class S2Head(enum.IntEnum):
    LINEAR = 0
    LOGVAR = 1


class OzakiSolver(enum.IntEnum):
    AUTO = 0
    EIG = 1
    LANCZOS = 2


_TYPE_INT, _TYPE_DOUBLE = 1, 2
_ENUM_KEYS = {Key.ACT: Act, Key.OBJECTIVE: Objective, Key.SAMPLER: SamplerKind, Key.S2: S2,
              Key.S2_OBJECTIVE: S2Objective, Key.PROJECTION: Projection,
              Key.HESSIAN: HessianSource, Key.OZAKI_SOLVER: OzakiSolver,
              Key.PARAMETERIZATION: Parameterization, Key.GEMM_KERNELS: GemmKernels,
              Key.LR_SCHEDULE: LrSchedule, Key.S2_HEAD: S2Head}


# ---------------------------------------------------------------------------
# Loading the library

def _installed_library():
    """The library this package was installed with, from the _config module
    that meson writes at install time (absent in the source tree): the path
    of a wheel's bundled copy relative to the package, or the absolute path
    of the libhosm that ``meson install`` put beside it. None when not
    installed; OSError when installed but the library is gone."""
    try:
        from . import _config
    except ImportError:
        return None
    here = Path(__file__).resolve().parent
    tried = []
    for candidate in _config.LIBRARY_CANDIDATES:
        path = Path(os.path.normpath(here / candidate))  # an absolute one replaces here
        if path.exists():
            return str(path)
        tried.append(str(path))
    raise OSError("libhosm not found where this package was installed with it: "
                  + ", ".join(tried) + " (set HOSM_LIBRARY to override)")


def _find_library():
    env = os.environ.get("HOSM_LIBRARY")
    if env:
        return env
    installed = _installed_library()
    if installed:
        return installed
    # Not installed (the package used from the source tree): the system's
    # libhosm, else a build directory of the source tree.
    found = ctypes.util.find_library("hosm")
    if found:
        return found
    here = Path(__file__).resolve().parent
    for build in (here.parents[2] / "build", Path.cwd() / "build", Path.cwd()):
        for name in ("lib/libhosm.so", "libhosm.so", "lib/libhosm.dylib", "lib/hosm.dll"):
            if (build / name).exists():
                return str(build / name)
    raise OSError("libhosm not found: set HOSM_LIBRARY to the path of libhosm.so, "
                  "install it, or build it in ./build")


library_path = _find_library()
_lib = ctypes.CDLL(library_path)

PROGRESS = ctypes.CFUNCTYPE(c_int, c_int64, c_double, c_void_p)
"""The C type of a progress callback: int (*)(int64_t step, double value, void *)."""


class HosmError(Exception):
    """A libhosm call failed. ``status`` is the Status code (negative) and
    ``message`` libhosm's detailed message."""

    def __init__(self, status, message):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message
        super().__init__(f"{strerror(status)} ({int(status)}): {message}")


def _errcheck(result, func, args):
    if result < 0:
        msg = _lib.hosm_last_errmsg()
        raise HosmError(result, msg.decode("utf-8", "replace") if msg else "")
    return result


def _declare(name, argtypes, restype=c_int, status=True):
    """Set a C function's prototype; functions that return a status
    (restype int, status=True) raise HosmError on a negative one."""
    fn = getattr(_lib, name)
    fn.argtypes = argtypes
    fn.restype = restype
    if restype is c_int and status:
        fn.errcheck = _errcheck
    return fn


_P = c_void_p  # opaque handles and data pointers
_PP = POINTER(c_void_p)
_I64P = POINTER(c_int64)
_DP = POINTER(c_double)

_declare("hosm_version_string", [], c_char_p)
_declare("hosm_version_number", [], c_int, status=False)
_declare("hosm_strerror", [c_int], c_char_p)
_declare("hosm_last_errmsg", [], c_char_p)

_declare("hosm_config_new", [_PP])
_declare("hosm_config_free", [_P], None)
_declare("hosm_config_set_int", [_P, c_int, c_int64])
_declare("hosm_config_set_double", [_P, c_int, c_double])
_declare("hosm_config_get_int", [_P, c_int, _I64P])
_declare("hosm_config_get_double", [_P, c_int, _DP])
_declare("hosm_config_parse", [_P, c_char_p])
_declare("hosm_config_key_from_name", [c_char_p, POINTER(c_int)])
_declare("hosm_config_key_name", [c_int], c_char_p)
_declare("hosm_config_key_type", [c_int, POINTER(c_int)])
_declare("hosm_config_int_bounds", [c_int, _I64P, _I64P, _I64P])
_declare("hosm_config_double_bounds", [c_int, _DP, _DP, _DP])

_declare("hosm_model_new", [_PP, c_int64, _P])
_declare("hosm_model_free", [_P], None)
_declare("hosm_model_dim", [_P, _I64P])
_declare("hosm_model_num_levels", [_P, _I64P])
_declare("hosm_model_sigma", [_P, c_int64, _DP])
_declare("hosm_model_num_params", [_P, _I64P])
_declare("hosm_model_get_params", [_P, _P, c_int64])
_declare("hosm_model_set_params", [_P, _P, c_int64])
_declare("hosm_model_get_config", [_P, _P])
_declare("hosm_model_set_config", [_P, _P])
_declare("hosm_model_at_sigma", [_PP, _P, c_double])
_declare("hosm_model_score", [_P, c_int64, _P, c_int64, _P])
_declare("hosm_model_denoise", [_P, c_int64, _P, c_int64, _P])
_declare("hosm_model_log_density_unnormalized", [_P, c_int64, _P, c_int64, _P])
_declare("hosm_model_s2_structure", [_P, POINTER(c_int), _I64P])
for _q in ("hessian", "hessian_diag", "score_jacobian_diag"):
    _declare("hosm_model_" + _q, [_P, c_int64, _P, c_int64, _P])
_declare("hosm_model_hessian_factors", [_P, c_int64, _P, c_int64, _P, _P])
_declare("hosm_model_hvp", [_P, c_int64, _P, _P, c_int64, _P])
_declare("hosm_model_score_jacobian", [_P, c_int64, _P, c_int64, c_int, _P])
_declare("hosm_model_hessian_estimate", [_P, c_int64, _P, c_int64, c_int, _P])
_declare("hosm_model_posterior_cov", [_P, c_int64, _P, c_int64, c_int, _P])
_declare("hosm_model_posterior_var", [_P, c_int64, _P, c_int64, c_int, _P])
_declare("hosm_model_posterior_topk", [_P, c_int64, _P, c_int64, c_int64, c_int, _P, _P])
_declare("hosm_model_save", [_P, c_char_p])
_declare("hosm_model_load", [_PP, c_char_p])
_declare("hosm_model_save_size", [_P, _I64P])
_declare("hosm_model_save_mem", [_P, _P, c_int64, _I64P])
_declare("hosm_model_load_mem", [_PP, c_char_p, c_int64])

_declare("hosm_trainer_new", [_PP, _P, _P])
_declare("hosm_trainer_free", [_P], None)
_declare("hosm_trainer_step", [_P, _P, c_int64, _DP])
_declare("hosm_trainer_fit", [_P, _P, c_int64, PROGRESS, _P])
_declare("hosm_trainer_gradient", [_P, _P, _P, _P, c_int64, _DP, _P])
_declare("hosm_trainer_step_count", [_P, _I64P])
_declare("hosm_trainer_copy_ema", [_P, _P])
_declare("hosm_trainer_save", [_P, c_char_p])
_declare("hosm_trainer_load", [_P, c_char_p])
_declare("hosm_trainer_save_size", [_P, _I64P])
_declare("hosm_trainer_save_mem", [_P, _P, c_int64, _I64P])
_declare("hosm_trainer_load_mem", [_P, c_char_p, c_int64])

_declare("hosm_sampler_new", [_PP, _P, _P])
_declare("hosm_sampler_free", [_P], None)
_declare("hosm_sampler_run", [_P, _P, c_int64, PROGRESS, _P])

_declare("hosm_mixture_new", [_PP, c_int64, c_int64, _P, _P, _P])
_declare("hosm_mixture_free", [_P], None)
_declare("hosm_mixture_dim", [_P, _I64P])
_declare("hosm_mixture_sample", [_P, c_uint64, c_int64, _P])
for _q in ("log_density", "score", "hessian", "posterior_mean", "posterior_cov"):
    _declare("hosm_mixture_" + _q, [_P, c_double, _P, c_int64, _P])


def version():
    """The library's version string, e.g. "0.1.0"."""
    return _lib.hosm_version_string().decode()


def version_number():
    """The library's version as MAJOR * 10000 + MINOR * 100 + PATCH."""
    return _lib.hosm_version_number()


def strerror(status):
    """Static text for a status code."""
    return _lib.hosm_strerror(int(status)).decode()


# ---------------------------------------------------------------------------
# Helpers

def _path(path):
    return os.fsencode(os.fspath(path))


def _points(x, dim, name="x"):
    """x as a C-contiguous float32 array of shape (n, dim), whether it was a
    single point of shape (dim,), and the dtype of the results: float32 for
    float32 (and float16) input, float64 for float64, integer and bool input
    (and Python lists of floats), as numpy promotes. libhosm computes in
    float32 in every case."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, not {arr.dtype}")
    out_dtype = (np.result_type(arr.dtype, np.float32) if arr.dtype.kind == "f"
                 else np.dtype(np.float64))
    a = np.ascontiguousarray(arr, dtype=np.float32)
    single = a.ndim == 1
    if single:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != dim:
        raise ValueError(f"{name} must have shape (n, {dim}) or ({dim},), not {np.shape(x)}")
    return a, single, out_dtype


def _result(out, single, dtype):
    """A float32 result in the caller's dtype, one point unwrapped."""
    if out.dtype != dtype:
        out = out.astype(dtype)
    return out[0] if single else out


def _ptr(a):
    return a.ctypes.data


def _integer(value, what):
    """value as a Python int; TypeError for anything but an integer (bool,
    0.5 and 2.0 included: levels and counts are never rounded)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__} "
                        f"{value!r}") from None


class _Progress:
    """The C progress callback of one long call (training or sampling).

    It is always passed (never NULL), so that Ctrl-C is seen between steps.
    It calls the user's fn(step, value) (a true return value stops the run;
    an exception stops it and is re-raised by finish()), updates a progress
    bar, and stops the run when SIGINT arrived. Use as::

        with _Progress(fn, progress, total, ...) as run:
            status = c_call(..., run.c_fn, None)
        run.finish()   # re-raises, or raises KeyboardInterrupt
    """

    def __init__(self, fn=None, progress=None, total=None, desc="", unit="step", start=0,
                 label=None):
        self.fn = fn
        self.bar = _progress.make_bar(progress, total, desc, unit, start)
        self.own_bar = progress is True
        self.label = label
        self.last = start
        self.error = None
        self.guard = _progress.SigintGuard()
        self.c_fn = PROGRESS(self._call)

    def __enter__(self):
        self.guard.__enter__()
        return self

    def __exit__(self, *exc):
        self.guard.__exit__(*exc)
        if self.bar is not None and self.own_bar:
            self.bar.close()

    def _call(self, step, value, _user_data):
        try:
            if self.bar is not None:
                self.bar.update(step - self.last)
                if self.label:
                    self.bar.set_postfix_str(f"{self.label}={value:.4g}", refresh=False)
            self.last = step
            stop = bool(self.fn(step, value)) if self.fn is not None else False
        except BaseException as e:  # noqa: B902 - stop the C loop, re-raise later
            self.error = e
            return 1
        return 1 if stop or self.guard.interrupted else 0

    def finish(self):
        """After the C call: re-raise the callback's exception, else hand a
        SIGINT to the previous handler (KeyboardInterrupt by default)."""
        if self.error is not None:
            error, self.error = self.error, None
            self.guard.interrupted = False
            raise error
        self.guard.deliver()


class _Handle:
    """An owned C handle: close() frees it (idempotent); also a context manager."""

    _free = None

    def __init__(self, handle):
        self._handle = handle

    @property
    def handle(self):
        """The raw C pointer (an int); ValueError once closed."""
        if not self._handle:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._handle

    @property
    def closed(self):
        return not self._handle

    def close(self):
        h, self._handle = getattr(self, "_handle", None), None
        if h and _lib is not None:
            type(self)._free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _new(fn, *args):
    out = c_void_p()
    fn(byref(out), *args)
    return out.value


# ---------------------------------------------------------------------------
# Config

class Config(_Handle):
    """Typed, keyed settings. Create from text and/or keyword arguments:
    ``Config("hidden=64 act=silu", levels=8, sigma_max=3.0)``. Enum keys take
    their names ("silu", "dsm_vr", "annealed") or integer values."""

    _free = _lib.hosm_config_free

    def __init__(self, text=None, **settings):
        super().__init__(_new(_lib.hosm_config_new))
        if text:
            self.parse(text)
        for name, value in settings.items():
            self[name] = value

    def parse(self, text):
        """Apply whitespace-separated name=value pairs (all or nothing)."""
        _lib.hosm_config_parse(self.handle, text.encode())
        return self

    @staticmethod
    def key(name):
        """The integer key of a name (or a Key / int, returned as is)."""
        if isinstance(name, str):
            k = c_int()
            _lib.hosm_config_key_from_name(name.encode(), byref(k))
            return k.value
        return int(name)

    @staticmethod
    def key_name(key):
        """The text name of a key."""
        name = _lib.hosm_config_key_name(Config.key(key))
        if name is None:
            raise HosmError(Status.E_KEY, f"unknown key {key!r}")
        return name.decode()

    @staticmethod
    def key_type(key):
        """int or float: the Python type of a key's value."""
        t = c_int()
        _lib.hosm_config_key_type(Config.key(key), byref(t))
        return int if t.value == _TYPE_INT else float

    @staticmethod
    def bounds(key):
        """(low, high, default) of a key."""
        k = Config.key(key)
        if Config.key_type(k) is int:
            lo, hi, d = c_int64(), c_int64(), c_int64()
            _lib.hosm_config_int_bounds(k, byref(lo), byref(hi), byref(d))
        else:
            lo, hi, d = c_double(), c_double(), c_double()
            _lib.hosm_config_double_bounds(k, byref(lo), byref(hi), byref(d))
        return lo.value, hi.value, d.value

    def set(self, key, value):
        """Set a key by name or number; strings go through the text form."""
        if isinstance(value, str):
            return self.parse(f"{self.key_name(key)}={value}")
        k = self.key(key)
        if self.key_type(k) is int:
            if isinstance(value, float) and not value.is_integer():
                raise HosmError(Status.E_TYPE, f"key '{self.key_name(k)}' takes an integer")
            _lib.hosm_config_set_int(self.handle, k, int(value))
        else:
            _lib.hosm_config_set_double(self.handle, k, float(value))
        return self

    def get(self, key):
        """The value of a key (int or float)."""
        k = self.key(key)
        if self.key_type(k) is int:
            v = c_int64()
            _lib.hosm_config_get_int(self.handle, k, byref(v))
        else:
            v = c_double()
            _lib.hosm_config_get_double(self.handle, k, byref(v))
        return v.value

    __getitem__ = get
    __setitem__ = set

    @staticmethod
    def all_keys():
        """Every key the loaded library knows (it may know more than Key)."""
        return [k for k in range(1, 1024) if _lib.hosm_config_key_name(k) is not None]

    def to_dict(self):
        """Every key's current value, by name."""
        return {Config.key_name(k): self.get(k) for k in self.all_keys()}

    def text(self):
        """The settings in the text form parse() reads, enum keys by name."""
        items = []
        for k in self.all_keys():
            v = self.get(k)
            if k in _ENUM_KEYS:
                v = _ENUM_KEYS[k](v).name.lower()
            items.append(f"{Config.key_name(k)}={v!r}" if isinstance(v, float)
                         else f"{Config.key_name(k)}={v}")
        return " ".join(items)

    def __repr__(self):
        return "Config(<closed>)" if self.closed else f"Config({self.text()!r})"


def _config_handle(config):
    if config is None:
        return None
    if isinstance(config, str):
        raise TypeError("pass a Config, not a string: Config(text)")
    return config.handle


# ---------------------------------------------------------------------------
# Model

class Model(_Handle):
    """A score model s1(x, level) for data of dimension dim. Closing a model
    also closes the trainers and samplers that use it."""

    _free = _lib.hosm_model_free

    def __init__(self, dim, config=None):
        super().__init__(_new(_lib.hosm_model_new, int(dim), _config_handle(config)))
        self._users = weakref.WeakSet()

    @classmethod
    def _adopt(cls, handle):
        model = cls.__new__(cls)
        _Handle.__init__(model, handle)
        model._users = weakref.WeakSet()
        return model

    @classmethod
    def load(cls, path):
        """Load a model file written by save()."""
        return cls._adopt(_new(_lib.hosm_model_load, _path(path)))

    @classmethod
    def from_bytes(cls, data):
        """Load a model from the bytes of to_bytes()."""
        data = bytes(data)
        return cls._adopt(_new(_lib.hosm_model_load_mem, data, len(data)))

    def at_sigma(self, sigma):
        """A new one-level Model answering at noise level sigma, anywhere in
        [smallest, largest] of this model's levels (its level embeddings
        interpolated in log sigma): queries and samplers at level 0 (or -1)
        then work at sigma."""
        return Model._adopt(_new(_lib.hosm_model_at_sigma, self.handle, float(sigma)))

    def close(self):
        for user in list(getattr(self, "_users", ())):
            user.close()
        super().close()

    def _int_query(self, fn):
        v = c_int64()
        fn(self.handle, byref(v))
        return v.value

    @property
    def dim(self):
        return self._int_query(_lib.hosm_model_dim)

    @property
    def num_levels(self):
        return self._int_query(_lib.hosm_model_num_levels)

    @property
    def num_params(self):
        return self._int_query(_lib.hosm_model_num_params)

    def level_index(self, level):
        """The index 0..L-1 of a level given as Python indexes a sequence:
        negative values count from the end (-1: the smallest sigma). TypeError
        for a non-integer (0.5 is not rounded), HosmError E_ARG outside
        [-L, L-1]."""
        L = self.num_levels
        i = _integer(level, "level")
        if not -L <= i < L:
            raise HosmError(Status.E_ARG, f"level {i} is outside [{-L}, {L - 1}]: "
                            f"the model has {L} level{'s' if L != 1 else ''}")
        return i + L if i < 0 else i

    def sigma(self, level=-1):
        """The noise level of one level: sigma(level) == sigmas[level]."""
        v = c_double()
        _lib.hosm_model_sigma(self.handle, self.level_index(level), byref(v))
        return v.value

    @property
    def sigmas(self):
        """All noise levels as a float64 array, largest first (level 0)."""
        return np.array([self.sigma(i) for i in range(self.num_levels)])

    def get_params(self):
        """A copy of all parameters (float32, layout of docs/format.md)."""
        p = np.empty(self.num_params, dtype=np.float32)
        _lib.hosm_model_get_params(self.handle, _ptr(p), p.size)
        return p

    def set_params(self, params):
        p = np.ascontiguousarray(params, dtype=np.float32).ravel()
        _lib.hosm_model_set_params(self.handle, _ptr(p), p.size)

    def get_config(self):
        """A Config holding the model's whole config: its architecture keys and
        the settings it was made with (stored in model files)."""
        cfg = Config()
        _lib.hosm_model_get_config(self.handle, cfg.handle)
        return cfg

    def set_config(self, cfg):
        """Store cfg's settings (every key but the architecture keys) in the model."""
        if not isinstance(cfg, Config):
            cfg = Config(cfg)
        _lib.hosm_model_set_config(self.handle, cfg.handle)

    def _query(self, fn, x, level):
        i = self.level_index(level)
        a, single, dtype = _points(x, self.dim)
        out = np.empty_like(a)
        fn(self.handle, i, _ptr(a), a.shape[0], _ptr(out))
        return _result(out, single, dtype)

    def score(self, x, level=-1):
        """s1 at a level (default: the smallest sigma) of points x (n, D) -> (n, D)."""
        return self._query(_lib.hosm_model_score, x, level)

    def denoise(self, x, level=-1):
        """The Tweedie posterior mean x + sigma^2 s1(x) -> (n, D)."""
        return self._query(_lib.hosm_model_denoise, x, level)

    def log_density_unnormalized(self, x, level=-1):
        """An energy model's log density up to a constant, -E(x) / sigma, of
        points (n, D) -> (n,) float64 (E_UNSUPPORTED for a score network)."""
        i = self.level_index(level)
        a, single, _ = _points(x, self.dim)
        out = np.empty(a.shape[0], dtype=np.float64)
        _lib.hosm_model_log_density_unnormalized(self.handle, i, _ptr(a), a.shape[0], _ptr(out))
        return _result(out, single, np.float64)

    # Second-order queries (HosmError E_UNSUPPORTED where the model's s2
    # structure cannot answer; the Jacobian of s1 works on every model).

    @property
    def s2_structure(self):
        """(S2 structure, effective rank: min(rank, D) for LOWRANK, else 0)."""
        structure, rank = c_int(), c_int64()
        _lib.hosm_model_s2_structure(self.handle, byref(structure), byref(rank))
        return S2(structure.value), rank.value

    def _matrix_query(self, fn, x, level, *flags):
        i = self.level_index(level)
        a, single, dtype = _points(x, self.dim)
        D = self.dim
        out = np.empty((a.shape[0], D, D), dtype=np.float32)
        fn(self.handle, i, _ptr(a), a.shape[0], *flags, _ptr(out))
        return _result(out, single, dtype)

    def hessian(self, x, level=-1):
        """The learned s2 as dense matrices (n, D, D)."""
        return self._matrix_query(_lib.hosm_model_hessian, x, level)

    def hessian_diag(self, x, level=-1):
        """The diagonal of the learned s2 (n, D)."""
        return self._query(_lib.hosm_model_hessian_diag, x, level)

    def hessian_factors(self, x, level=-1):
        """(U, d) of a LOWRANK s2 = U U^T + diag(d): shapes (n, D, r) and (n, D)."""
        i = self.level_index(level)
        a, single, dtype = _points(x, self.dim)
        r = self.s2_structure[1]
        u = np.empty((a.shape[0], self.dim, r), dtype=np.float32)
        d = np.empty_like(a)
        _lib.hosm_model_hessian_factors(self.handle, i, _ptr(a), a.shape[0], _ptr(u), _ptr(d))
        return _result(u, single, dtype), _result(d, single, dtype)

    def hvp(self, x, v, level=-1):
        """Hessian-vector products s2(x_i) v_i (n, D)."""
        i = self.level_index(level)
        a, single, dtype = _points(x, self.dim)
        b, _, vtype = _points(v, self.dim, "v")
        if b.shape != a.shape:
            raise ValueError("v must have the shape of x")
        out = np.empty_like(a)
        _lib.hosm_model_hvp(self.handle, i, _ptr(a), _ptr(b), a.shape[0], _ptr(out))
        return _result(out, single, np.promote_types(dtype, vtype))

    def score_jacobian(self, x, level=-1, symmetrize=False):
        """The exact Jacobian of s1 (n, D, D): out[i, a, b] = d s1_a / d x_b."""
        return self._matrix_query(_lib.hosm_model_score_jacobian, x, level, int(bool(symmetrize)))

    def hessian_estimate(self, x, source=HessianSource.AVERAGE, level=-1):
        """The Hessian estimate named by source (HessianSource or its name: the
        learned s2, the symmetrised Jacobian of s1, or their average) as dense
        matrices (n, D, D)."""
        if isinstance(source, str):
            names = {s.name.lower(): s for s in HessianSource}
            if source not in names:
                raise ValueError(f"source {source!r} is not one of {', '.join(names)}")
            source = names[source]
        return self._matrix_query(_lib.hosm_model_hessian_estimate, x, level, int(source))

    def score_jacobian_diag(self, x, level=-1):
        """The diagonal of the Jacobian of s1 (n, D)."""
        return self._query(_lib.hosm_model_score_jacobian_diag, x, level)

    # clamp=True (the default) makes the posterior covariance positive
    # semidefinite, as a covariance must be: the learned s2 is only an
    # estimate, and sigma^4 s2 + sigma^2 I can have negative eigenvalues where
    # it overshoots. clamp=False gives the raw estimate.

    def posterior_cov(self, x, level=-1, clamp=True):
        """The Tweedie posterior covariance sigma^4 s2 + sigma^2 I (n, D, D)."""
        return self._matrix_query(_lib.hosm_model_posterior_cov, x, level, int(bool(clamp)))

    def posterior_var(self, x, level=-1, clamp=True):
        """The posterior variances (n, D)."""
        i = self.level_index(level)
        a, single, dtype = _points(x, self.dim)
        out = np.empty_like(a)
        _lib.hosm_model_posterior_var(self.handle, i, _ptr(a), a.shape[0], int(bool(clamp)),
                                      _ptr(out))
        return _result(out, single, dtype)

    def posterior_topk(self, x, k, level=-1, clamp=True):
        """The k leading eigenpairs of the posterior covariance, largest first:
        (values (n, k), unit vectors (n, k, D))."""
        i = self.level_index(level)
        a, single, dtype = _points(x, self.dim)
        k = _integer(k, "k")
        vals = np.empty((a.shape[0], k), dtype=np.float32)
        vecs = np.empty((a.shape[0], k, self.dim), dtype=np.float32)
        _lib.hosm_model_posterior_topk(self.handle, i, _ptr(a), a.shape[0], k, int(bool(clamp)),
                                       _ptr(vals), _ptr(vecs))
        return _result(vals, single, dtype), _result(vecs, single, dtype)

    def save(self, path):
        """Write the model to a file (atomically)."""
        _lib.hosm_model_save(self.handle, _path(path))

    def to_bytes(self):
        """The model file's contents as bytes."""
        size = self._int_query(_lib.hosm_model_save_size)
        buf = ctypes.create_string_buffer(size)
        written = c_int64()
        _lib.hosm_model_save_mem(self.handle, buf, size, byref(written))
        return buf.raw[:written.value]

    def __repr__(self):
        if self.closed:
            return "Model(<closed>)"
        return (f"Model(dim={self.dim}, levels={self.num_levels}, "
                f"params={self.num_params})")


# ---------------------------------------------------------------------------
# Trainer

class Trainer(_Handle):
    """Trains a model (which it keeps alive) with Adam on the config's objective."""

    _free = _lib.hosm_trainer_free

    def __init__(self, model, config=None):
        super().__init__(_new(_lib.hosm_trainer_new, model.handle, _config_handle(config)))
        self.model = model
        model._users.add(self)
        # The step target of fit(), for the progress display (libhosm has no
        # query for it): the trainer reads "steps", "epochs" and "batch" once.
        self._target = {k: (config.get(k) if config is not None else Config.bounds(k)[2])
                        for k in ("steps", "epochs", "batch")}

    def target(self, n):
        """The step count fit() trains up to on a data set of n points: "steps",
        or "epochs" * ceil(n / "batch") if "epochs" is set."""
        t = self._target
        if t["epochs"] > 0:
            return t["epochs"] * -(-_integer(n, "n") // t["batch"])
        return t["steps"]

    def step(self, x):
        """One Adam step on a batch x (n, D); returns the batch loss."""
        a, _, _ = _points(x, self.model.dim)
        loss = c_double()
        _lib.hosm_trainer_step(self.handle, _ptr(a), a.shape[0], byref(loss))
        return loss.value

    def fit(self, data, callback=None, progress=False):
        """Train on data (n, D) up to the config's step (or epoch) target.

        callback(step, loss) is called after every step; a true return value
        stops. progress=True shows a progress bar on stderr (tqdm if it is
        installed, else a plain text bar); a tqdm-like object of your own
        (update(), set_postfix_str()) is updated instead. Returns True if the
        target was reached, False if the callback stopped it.

        Ctrl-C (SIGINT) stops training after the current step and raises
        KeyboardInterrupt; the steps done are kept (step_count) and the trainer
        and model stay usable: fit() again continues. An exception raised by
        the callback stops training the same way and is re-raised."""
        a, _, _ = _points(data, self.model.dim, "data")
        start = self.step_count
        with _Progress(callback, progress, total=self.target(a.shape[0]), desc="fit",
                       start=start, label="loss") as run:
            status = _lib.hosm_trainer_fit(self.handle, _ptr(a), a.shape[0], run.c_fn, None)
        run.finish()
        return status == Status.OK

    def gradient(self, x, noise, levels=None):
        """(loss, grad) at the current weights for given noise and levels,
        without changing any state."""
        D = self.model.dim
        a, _, _ = _points(x, D)
        z, _, _ = _points(noise, D, "noise")
        if z.shape != a.shape:
            raise ValueError("noise must have the shape of x")
        lv = None
        if levels is not None:
            lv = np.asarray(levels)
            if lv.dtype.kind not in "iu":
                raise TypeError(f"levels must be integers, not {lv.dtype}")
            if lv.shape != (a.shape[0],):
                raise ValueError(f"levels must have shape ({a.shape[0]},)")
            L = self.model.num_levels
            if lv.size and not (lv.min() >= -L and lv.max() < L):
                raise HosmError(Status.E_ARG, f"levels must lie in [{-L}, {L - 1}]")
            lv = np.ascontiguousarray(np.where(lv < 0, lv + L, lv), dtype=np.int64)
        grad = np.empty(self.model.num_params, dtype=np.float32)
        loss = c_double()
        _lib.hosm_trainer_gradient(self.handle, _ptr(a), _ptr(z),
                                   None if lv is None else _ptr(lv), a.shape[0], byref(loss),
                                   _ptr(grad))
        return loss.value, grad

    @property
    def step_count(self):
        v = c_int64()
        _lib.hosm_trainer_step_count(self.handle, byref(v))
        return v.value

    def copy_ema(self, dst=None):
        """Copy the EMA of the weights into dst (default: the trained model)."""
        _lib.hosm_trainer_copy_ema(self.handle, (dst or self.model).handle)

    def save(self, path):
        """Write a checkpoint (weights, Adam state, step count, RNG, EMA)."""
        _lib.hosm_trainer_save(self.handle, _path(path))

    def load(self, path):
        """Restore a checkpoint; replaces the model's weights."""
        _lib.hosm_trainer_load(self.handle, _path(path))

    def to_bytes(self):
        size = c_int64()
        _lib.hosm_trainer_save_size(self.handle, byref(size))
        buf = ctypes.create_string_buffer(size.value)
        written = c_int64()
        _lib.hosm_trainer_save_mem(self.handle, buf, size.value, byref(written))
        return buf.raw[:written.value]

    def load_bytes(self, data):
        data = bytes(data)
        _lib.hosm_trainer_load_mem(self.handle, data, len(data))


# ---------------------------------------------------------------------------
# Sampler

class Sampler(_Handle):
    """Langevin or annealed Langevin chains over a model (kept alive)."""

    _free = _lib.hosm_sampler_free

    def __init__(self, model, config=None):
        super().__init__(_new(_lib.hosm_sampler_new, model.handle, _config_handle(config)))
        self.model = model
        model._users.add(self)
        # The steps of one run, for the progress display.
        get = (lambda k: config.get(k)) if config is not None else (lambda k: Config.bounds(k)[2])
        steps = get("sample_steps")
        self.run_steps = steps * model.num_levels if get("sampler") == SamplerKind.ANNEALED \
            else steps

    def run(self, x0, callback=None, progress=False):
        """Run one chain from each row of x0 (n, D); returns the final states
        as a new array (float64 for float64 x0, computed in float32).

        callback(step, sigma) is called after every step; a true return value
        stops early (the states reached are returned). progress is as for
        Trainer.fit(). Ctrl-C stops the run after the current step and raises
        KeyboardInterrupt; the sampler stays usable."""
        x, single, dtype = _points(x0, self.model.dim, "x0")
        if np.shares_memory(x, np.asarray(x0)):
            x = x.copy()
        with _Progress(callback, progress, total=self.run_steps, desc="sample",
                       label="sigma") as run:
            _lib.hosm_sampler_run(self.handle, _ptr(x), x.shape[0], run.c_fn, None)
        run.finish()
        return _result(x, single, dtype)


# ---------------------------------------------------------------------------
# Mixture

class Mixture(_Handle):
    """A Gaussian mixture sum_k w_k N(mu_k, Sigma_k) with exact scores of its
    noise-perturbed densities. weights (k,), means (k, D), covs (k, D, D)."""

    _free = _lib.hosm_mixture_free

    def __init__(self, weights, means, covs):
        w = np.ascontiguousarray(weights, dtype=np.float64).ravel()
        mu = np.ascontiguousarray(means, dtype=np.float64)
        k = w.size
        if mu.ndim != 2 or mu.shape[0] != k:
            raise ValueError(f"means must have shape ({k}, D)")
        D = mu.shape[1]
        cov = np.ascontiguousarray(covs, dtype=np.float64)
        if cov.shape != (k, D, D):
            raise ValueError(f"covs must have shape ({k}, {D}, {D})")
        super().__init__(_new(_lib.hosm_mixture_new, k, D, _ptr(w), _ptr(mu), _ptr(cov)))
        self.weights = w / w.sum()
        self.means = mu.copy()
        self.covs = cov.copy()

    @property
    def dim(self):
        v = c_int64()
        _lib.hosm_mixture_dim(self.handle, byref(v))
        return v.value

    @property
    def mean(self):
        """The mixture's mean, sum_k w_k mu_k."""
        return self.weights @ self.means

    @property
    def covariance(self):
        """The mixture's covariance, sum_k w_k (Sigma_k + mu_k mu_k^T) - mean mean^T."""
        m = self.mean
        second = np.einsum("k,kij->ij", self.weights,
                           self.covs + np.einsum("ki,kj->kij", self.means, self.means))
        return second - np.outer(m, m)

    def sample(self, n, seed=0):
        """n exact draws (n, D) as float32 (libhosm's precision); they depend
        only on seed."""
        out = np.empty((_integer(n, "n"), self.dim), dtype=np.float32)
        _lib.hosm_mixture_sample(self.handle, _integer(seed, "seed"), out.shape[0], _ptr(out))
        return out

    def _query(self, name, x, sigma, shape, dtype=None):
        a, single, in_dtype = _points(x, self.dim)
        out = np.empty((a.shape[0],) + shape, dtype=dtype or np.float32)
        getattr(_lib, "hosm_mixture_" + name)(self.handle, float(sigma), _ptr(a), a.shape[0],
                                               _ptr(out))
        return _result(out, single, dtype or in_dtype)

    def log_density(self, x, sigma=0.0):
        """log q_sigma of points (n, D) -> (n,) float64."""
        return self._query("log_density", x, sigma, (), np.float64)

    def score(self, x, sigma=0.0):
        """The exact s1 of q_sigma -> (n, D)."""
        return self._query("score", x, sigma, (self.dim,))

    def hessian(self, x, sigma=0.0):
        """The exact s2 of q_sigma -> (n, D, D)."""
        return self._query("hessian", x, sigma, (self.dim, self.dim))

    def posterior_mean(self, x, sigma):
        """E[x_clean | x] -> (n, D)."""
        return self._query("posterior_mean", x, sigma, (self.dim,))

    def posterior_cov(self, x, sigma):
        """Cov[x_clean | x] -> (n, D, D)."""
        return self._query("posterior_cov", x, sigma, (self.dim, self.dim))
