"""A chunked audio stream cut into overlapping windows, thread-safe: chunks in, windows out.

Keyword spotting must see every hop of the stream: a skipped hop can cut a word in half. So
nothing is dropped while the backlog (audio received but not yet windowed) fits `max_backlog`
samples; beyond that the oldest audio is skipped in whole hops and counted, so a detector that
falls behind a live stream for long loses old audio visibly instead of growing without bound.

Positions are sample indices since the first sample pushed. Each chunk may carry the time of
its last sample (ns); a window's stamp is the time of its last sample, derived from the chunk
holding it.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """`samples` [window] int16 starting at stream sample `start`; `behind`: samples already
    waiting after it when taken (how far the consumer trails the stream)."""

    start: int
    samples: np.ndarray
    stamp_ns: int | None
    behind: int


def energy_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to int16 full scale (a full-scale square wave is 0 dBFS,
    a full-scale sine -3 dBFS, digital silence -inf)."""
    if samples.size == 0:
        return float("-inf")
    scaled = samples.astype(np.float64) / 32768.0
    power = float(np.dot(scaled, scaled)) / samples.size
    return 10.0 * np.log10(power) if power > 0 else float("-inf")


def peak_block_dbfs(samples: np.ndarray, block: int) -> float:
    """RMS level (dBFS) of the loudest of the window's whole `block`-sample blocks, counted
    from its newest sample: the nearly free stage-0 check. A short word in a long quiet window
    is diluted in the window's mean level, not here."""
    if samples.size <= block:
        return energy_dbfs(samples)
    blocks = samples[samples.size % block :].astype(np.float64).reshape(-1, block) / 32768.0
    power = float((blocks * blocks).mean(axis=1).max())
    return 10.0 * np.log10(power) if power > 0 else float("-inf")


class WindowedStream:
    """push(chunk) from a subscription; take() on a worker returns each window in turn."""

    def __init__(self, window: int, hop: int, max_backlog: int, sample_rate: int) -> None:
        self._condition = threading.Condition()
        self._data = np.zeros(0, np.int16)
        self._base = 0  # stream index of _data[0]
        self._next = 0  # start of the next window
        self._stamps: deque[tuple[int, int]] = deque()  # (end index, ns) per chunk
        self._closed = False
        self.sample_rate = sample_rate
        self.received = 0
        self.dropped = 0
        self.max_behind = 0
        self.configure(window, hop, max_backlog)

    def configure(self, window: int, hop: int, max_backlog: int) -> None:
        """New window/hop/backlog sizes; audio already received is kept."""
        if window < 1 or hop < 1 or max_backlog < 0:
            raise ValueError(f"need window >= 1, hop >= 1, max_backlog >= 0; got "
                             f"{window}, {hop}, {max_backlog}")
        with self._condition:
            self.window, self.hop, self.max_backlog = window, hop, max_backlog
            self._condition.notify_all()

    def push(self, chunk: np.ndarray, stamp_ns: int | None = None) -> None:
        with self._condition:
            self._data = np.concatenate([self._data, chunk.astype(np.int16, copy=False)])
            self.received += chunk.size
            if stamp_ns is not None:
                self._stamps.append((self.received, stamp_ns))
            self._skip_overflow()
            self._condition.notify_all()

    def take(self, timeout: float | None = None) -> Window | None:
        """The next full window, or None on timeout or after close()."""
        with self._condition:
            self._condition.wait_for(lambda: self._ready() or self._closed, timeout)
            if self._closed or not self._ready():
                return None
            offset = self._next - self._base
            samples = self._data[offset : offset + self.window].copy()
            window = Window(self._next, samples, self._stamp_of(self._next + self.window),
                            self.received - self._next - self.window)
            self.max_behind = max(self.max_behind, window.behind)
            self._next += self.hop
            self._trim()
            return window

    @property
    def backlog(self) -> int:
        """Samples received after the end of the next window: how far the consumer trails."""
        with self._condition:
            return max(0, self.received - self._next - self.window)

    def clear(self) -> None:
        """Forget buffered audio (e.g. while disabled); positions keep counting."""
        with self._condition:
            self._next = self._base = self.received
            self._data = np.zeros(0, np.int16)
            self._stamps.clear()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def _ready(self) -> bool:
        return self.received - self._next >= self.window

    def _skip_overflow(self) -> None:
        excess = self.received - self._next - self.window - self.max_backlog
        if excess > 0:
            skip = -(-excess // self.hop) * self.hop  # whole hops keep windows on the hop grid
            self._next += skip
            self.dropped += skip
            self._trim()

    def _trim(self) -> None:
        keep_from = min(self._next, self.received)
        if keep_from > self._base:
            self._data = self._data[keep_from - self._base :]
            self._base = keep_from
        while self._stamps and self._stamps[0][0] <= self._base:
            self._stamps.popleft()

    def _stamp_of(self, end: int) -> int | None:
        """Time of stream sample `end - 1` from the chunk that holds it."""
        for chunk_end, stamp_ns in self._stamps:
            if chunk_end >= end:
                return stamp_ns - round((chunk_end - end) * 1e9 / self.sample_rate)
        return None


class LossCounter:
    """Counts chunks lost in transport from each publisher's publication sequence numbers.

    A number that goes backwards is a publisher restart (not a loss); one that is unknown
    (None: the middleware does not report it) counts nothing.
    """

    def __init__(self) -> None:
        self._last: dict[bytes, int] = {}
        self.lost = 0

    def see(self, publisher: bytes, sequence: int | None) -> int:
        """Record one received chunk; returns how many were lost just before it."""
        if sequence is None:
            return 0
        last = self._last.get(publisher)
        self._last[publisher] = sequence
        gap = sequence - last - 1 if last is not None and sequence > last else 0
        self.lost += gap
        return gap
