"""The server process's heaps: C heap memory back to the system, Python's heap frozen.

glibc's malloc keeps freed memory in its arenas for reuse; its dynamic mmap threshold
(raised to the size of each large block freed, up to 32 MiB) moves tensors of a few MiB
from `mmap` onto those arenas after the first ones are freed. Without trimming, a
30-minute soak of the shipped model grew 5.6 % in its last 20 minutes, in steps that
never came back down, and `malloc_trim(0)` in a process that had translated varied
batches gave back 39 MiB (docs/RESULTS.md; our reading is arena growth at new batch x
length high-water marks, not a measured fact). `malloc_trim(0)`
returns every arena's free whole pages (glibc >= 2.8 walks all arenas, not only the top
of the main heap). It costs about 3 ms on the shipped model's heap, so `HeapTrimmer` calls
it at most once per interval, from the thread that just freed a batch's tensors.

Pinning the mmap threshold instead (`MALLOC_MMAP_THRESHOLD_=262144`) made beam-5
decoding 2.6x slower (every step's log-probabilities went through mmap, page faults and
zeroing), so the allocator's fast path is left alone and trimmed after the fact.
Elsewhere than glibc (musl, macOS) there is no `malloc_trim` and trimming is a no-op.

Python's cyclic garbage collector, for its part, periodically walks every container
object of the oldest generation, and a process that has imported torch, FastAPI and
pydantic and loaded a model holds hundreds of thousands of them. On the 2-core
development machine that walk was about half the main thread's time per translation
request (350 -> 178 us per request through the app with an instant translator,
docs/RESULTS.md), and on the batched service the main thread's time is time the model
waits between batches. `freeze_startup_objects` moves everything alive once the model is
loaded and warm into the permanent generation (`gc.freeze`), which collections skip;
objects made later are collected as before. The frozen objects live for the process's
life anyway (modules, the model, the app).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Trim = Callable[[], bool]  # returns whether memory was released


def glibc_malloc_trim() -> Trim | None:
    """`malloc_trim(0)` of the process's C library, or None where it has none (not glibc)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        malloc_trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int

    def trim() -> bool:
        return bool(malloc_trim(0))

    return trim


class HeapTrimmer:
    """Calls `trim` when `maybe_trim` finds at least `interval_s` seconds since the last call.

    interval_s: seconds, > 0 (ValueError otherwise). A trimmer without a trim function
    (`trim=None`, e.g. off glibc) never trims.
    """

    def __init__(
        self,
        interval_s: float,
        trim: Trim | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self._interval = interval_s
        self._trim = trim
        self._clock = clock
        self._last = clock()
        self.trims = 0

    @classmethod
    def for_this_process(cls, interval_s: float) -> HeapTrimmer:
        """A trimmer over this process's `malloc_trim`, if its C library has one."""
        trim = glibc_malloc_trim()
        if trim is None:
            log.info("no malloc_trim in this C library: freed heap memory stays with malloc")
        return cls(interval_s, trim)

    @property
    def active(self) -> bool:
        """Whether this trimmer can trim at all."""
        return self._trim is not None

    def maybe_trim(self) -> bool:
        """Trim if the interval has passed; True when a trim ran."""
        if self._trim is None:
            return False
        now = self._clock()
        if now - self._last < self._interval:
            return False
        self._trim()
        self._last = self._clock()
        self.trims += 1
        return True


def freeze_startup_objects() -> int:
    """Collect garbage, then exempt every object alive now from later collections.

    Returns how many objects were frozen (`gc.get_freeze_count`). Call it once start-up
    is done (model loaded, first translation run); see the module docstring.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
