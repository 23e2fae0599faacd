"""Keyword spotting on stream windows: stage 0 (energy), log-mel features, the gated model, and
refractory debouncing so one spoken word gives one event.

The gate chain per window: stage 0 stops windows whose loudest 100 ms block is quieter than
`stage0_min_dbfs` (nearly free; -inf switches it off); then stage A's gate may stop early;
only then stage B scores the labels.
A window is a keyword candidate when its best label is a positive label (not e.g. "unknown" or
"silence") with score >= `score_threshold`; KeywordDebouncer turns the candidates of one spoken
word into one event.
The same code runs in the audio_detector node and in bench/bench_audio.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gc_perception.gating.audio_features import model_input, parse_spec
from gc_perception.gating.audio_stream import peak_block_dbfs
from gc_perception.gating.gated_model import InferenceResult

STAGE0_BLOCKS_PER_S = 10  # stage 0 looks at 100 ms blocks
DEFAULT_STAGE0_DBFS = -45.0  # above quiet-room noise (-55 dBFS), below speech (-30 .. -15)
Infer = Callable[[np.ndarray], InferenceResult | None]


@dataclass(frozen=True)
class SpotterSettings:
    stage0_min_dbfs: float = float("-inf")
    score_threshold: float = 0.5
    refractory_s: float = 1.2  # 1.0 let a word's tail in the next window count as a new word
    hold_s: float = 0.3


@dataclass(frozen=True)
class KeywordEvent:
    """The best window of one spoken word: its label, score, stream span and model result."""

    keyword: str
    score: float
    start_s: float
    end_s: float
    dbfs: float
    result: InferenceResult


@dataclass(frozen=True)
class WindowOutcome:
    """What one window gave. `result` is None when stage 0 stopped it (or there was no model);
    `candidate` is set when the window itself scores a keyword; `events` are the keywords
    decided at this window (usually none; see KeywordDebouncer)."""

    start_s: float
    end_s: float
    dbfs: float
    stage0_stopped: bool
    result: InferenceResult | None
    candidate: KeywordEvent | None
    events: list[KeywordEvent]
    features_ms: float
    total_ms: float

    @property
    def early_stopped(self) -> bool:
        return self.stage0_stopped or (self.result is not None and self.result.early_stopped)


class KeywordDebouncer:
    """One event per spoken word.

    A word scores in several overlapping windows, and the first of them often holds only part
    of it (and so the wrong label). From the first window above threshold, the best-scoring
    window within `hold_s` is the event (decided `hold_s` later); then no window starting
    within `refractory_s` of the event's window can start another.
    """

    def __init__(self, hold_s: float, refractory_s: float) -> None:
        self.hold_s, self.refractory_s = hold_s, refractory_s
        self._best: KeywordEvent | None = None
        self._since = 0.0
        self._quiet_until = float("-inf")

    def add(self, time_s: float, candidate: KeywordEvent | None) -> list[KeywordEvent]:
        """Feed every window (candidate None when it is no keyword); returns decided events."""
        events = self._decide(time_s)
        if candidate is not None and candidate.start_s >= self._quiet_until:
            if self._best is None:
                self._best, self._since = candidate, time_s
            elif candidate.score > self._best.score:
                self._best = candidate
        return events + self._decide(time_s)

    def _decide(self, time_s: float) -> list[KeywordEvent]:
        if self._best is None or time_s - self._since < self.hold_s:
            return []
        event, self._best = self._best, None
        self._quiet_until = event.start_s + self.refractory_s
        return [event]


def best_keyword(scores: Mapping[str, float] | None, positive_labels: Sequence[str],
                 score_threshold: float) -> tuple[str, float] | None:
    """(label, score) when the top label is a positive label scoring >= score_threshold."""
    if not scores:
        return None
    label, score = max(scores.items(), key=lambda item: item[1])
    if label in positive_labels and score >= score_threshold:
        return label, score
    return None


class KeywordSpotter:
    """Turns stream windows into outcomes with one model's input spec and labels."""

    def __init__(self, infer: Infer, input_spec: Mapping[str, Any],
                 positive_labels: Sequence[str], settings: SpotterSettings) -> None:
        self.spec = parse_spec(input_spec)
        self.positive_labels = tuple(positive_labels)
        self._infer = infer
        self.settings = settings
        self._debouncer = KeywordDebouncer(settings.hold_s, settings.refractory_s)

    def update(self, settings: SpotterSettings) -> None:
        self.settings = settings
        self._debouncer.hold_s = settings.hold_s
        self._debouncer.refractory_s = settings.refractory_s

    def process(self, samples: np.ndarray, start: int) -> WindowOutcome:
        """One window of int16 samples starting at stream sample `start`."""
        started = time.perf_counter()
        rate = self.spec.sample_rate
        start_s, end_s = start / rate, (start + samples.size) / rate
        dbfs = peak_block_dbfs(samples, rate // STAGE0_BLOCKS_PER_S)
        if dbfs < self.settings.stage0_min_dbfs:
            events = self._debouncer.add(start_s, None)
            return WindowOutcome(start_s, end_s, dbfs, True, None, None, events, 0.0,
                                 _ms_since(started))
        tensor = model_input(samples, self.spec)
        features_ms = _ms_since(started)
        result = self._infer(tensor)
        found = best_keyword(result.scores if result else None, self.positive_labels,
                             self.settings.score_threshold)
        candidate = KeywordEvent(*found, start_s, end_s, dbfs, result) if found else None
        events = self._debouncer.add(start_s, candidate)
        return WindowOutcome(start_s, end_s, dbfs, False, result, candidate, events,
                             features_ms, _ms_since(started))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1e3
