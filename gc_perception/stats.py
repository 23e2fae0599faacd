"""Rolling statistics for diagnostics: latency percentiles and event rates over a time window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np


class RollingWindow:
    """The last `size` samples of a quantity, with percentiles (for p50/p95 latencies)."""

    def __init__(self, size: int = 200) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self._samples: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._samples.append(float(value))

    def __len__(self) -> int:
        return len(self._samples)

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0-100) of the window, None when empty."""
        if not self._samples:
            return None
        return float(np.percentile(np.fromiter(self._samples, dtype=float), q))

    def mean(self) -> float | None:
        return float(np.mean(self._samples)) if self._samples else None


class RateMeter:
    """Events per second over the last `window_s` seconds."""

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._stamps: deque[float] = deque()

    def tick(self) -> None:
        self._stamps.append(self._clock())

    def rate(self) -> float:
        now = self._clock()
        while self._stamps and now - self._stamps[0] > self._window_s:
            self._stamps.popleft()
        return len(self._stamps) / self._window_s
