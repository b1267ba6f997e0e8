"""Long C calls (training, sampling): Ctrl-C and a progress display.

libhosm calls a progress callback after every step of hosm_trainer_fit() and
hosm_sampler_run(); the binding always passes one, so Python gets control
back between steps. While a call runs, SIGINT only sets a flag (a
KeyboardInterrupt raised inside a ctypes callback would be printed and
swallowed, and the C loop would go on); the callback then asks the C loop to
stop, and KeyboardInterrupt is raised once the C call has returned, with the
handles intact and the steps done kept.
"""

import signal
import sys
import threading
import time


class SigintGuard:
    """While active (a ``with`` block in the main thread), SIGINT sets
    ``interrupted`` instead of raising. On exit the previous handler is put
    back; ``deliver()`` then hands an interruption to it (the default handler
    raises KeyboardInterrupt). Outside the main thread, or when SIGINT is
    ignored or left to the system default, the guard does nothing."""

    def __init__(self):
        self.interrupted = False
        self._previous = None
        self._installed = False

    def _handler(self, signum, frame):
        self.interrupted = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def deliver(self):
        """Call the previous SIGINT handler if a SIGINT arrived (after exit)."""
        if self.interrupted:
            self.interrupted = False
            self._previous(signal.SIGINT, None)


class TextBar:
    """A minimal tqdm-like bar on stderr: ``desc  42% |####      | 420/1000
    [00:03<00:04, 120.5 it/s, loss=0.123]``, redrawn at most 10 times a
    second."""

    def __init__(self, total=None, desc="", unit="it", initial=0, file=None, width=30):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.file = file or sys.stderr
        self.width = width
        self.n = self.initial = initial
        self.postfix = ""
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = None

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text

    def update(self, k=1):
        self.n += k
        now = time.monotonic()
        if now - self._last_draw >= 0.1 or (self.total and self.n >= self.total):
            self._last_draw = now
            self._draw(now)

    @staticmethod
    def _clock(seconds):
        m, s = divmod(int(seconds), 60)
        h, m = divmod(m, 60)
        return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"

    def _draw(self, now):
        self._drawn = (self.n, self.postfix)
        elapsed = now - self._start
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        parts = [self.desc + ":" if self.desc else ""]
        if self.total:
            frac = min(1.0, self.n / self.total)
            filled = int(frac * self.width)
            eta = (self.total - self.n) / rate if rate > 0 else 0.0
            parts.append(f"{frac:4.0%} |{'#' * filled}{' ' * (self.width - filled)}| "
                         f"{self.n}/{self.total} [{self._clock(elapsed)}<{self._clock(eta)}, "
                         f"{rate:.1f} {self.unit}/s")
        else:
            parts.append(f"{self.n} {self.unit} [{self._clock(elapsed)}, {rate:.1f} {self.unit}/s")
        line = " ".join(p for p in parts if p)
        line += f", {self.postfix}]" if self.postfix else "]"
        self.file.write("\r" + line)
        self.file.flush()

    def close(self):
        if self._drawn != (self.n, self.postfix):
            self._draw(time.monotonic())
        self.file.write("\n")
        self.file.flush()


def make_bar(progress, total, desc, unit, initial=0):
    """A bar for progress=True (tqdm if it is installed, else TextBar), the
    caller's own tqdm-like object, or None for progress=False/None."""
    if progress is None or progress is False:
        return None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return TextBar(total=total, desc=desc, unit=unit, initial=initial)
        return tqdm(total=total, desc=desc, unit=unit, initial=initial)
    return progress  # an object with update(), set_postfix_str(), close()
