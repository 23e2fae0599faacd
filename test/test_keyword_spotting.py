"""Keyword spotting core: stage-0 energy stop, model input, best keyword, one event per word."""

from types import SimpleNamespace

import numpy as np
import pytest

from gc_perception.gating.keyword_spotting import (
    KeywordDebouncer,
    KeywordEvent,
    KeywordSpotter,
    SpotterSettings,
    best_keyword,
)

INPUT_SPEC = {
    "kind": "audio", "sample_rate": 16000, "clip_samples": 16000, "layout": "N1FT",
    "features": {"type": "log_mel", "n_mels": 40, "n_fft": 512, "win_length": 480,
                 "hop_length": 160, "fmin": 20, "fmax": 7600, "log_floor": 1e-6},
}
POSITIVE = ("yes", "no")


def noise(dbfs: float, size: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(0)
    samples = rng.standard_normal(size) * 32768 * 10 ** (dbfs / 20)
    return np.clip(samples, -32768, 32767).astype(np.int16)


class FakeModel:
    """Stands in for GatedDetectorNode.infer: returns queued scores, records its inputs."""

    def __init__(self, *scores: dict | None) -> None:
        self.queue = list(scores)
        self.inputs = []

    def __call__(self, tensor):
        self.inputs.append(tensor)
        scores = self.queue.pop(0)
        return SimpleNamespace(scores=scores, early_stopped=scores is None)


def candidate(keyword: str, score: float, start_s: float) -> KeywordEvent:
    return KeywordEvent(keyword, score, start_s, start_s + 1.0, -20.0, result=None)


def test_best_keyword_needs_a_positive_top_label_above_threshold():
    assert best_keyword({"yes": 0.8, "unknown": 0.2}, POSITIVE, 0.5) == ("yes", 0.8)
    assert best_keyword({"yes": 0.4, "unknown": 0.6}, POSITIVE, 0.3) is None
    assert best_keyword({"yes": 0.45, "no": 0.4}, POSITIVE, 0.5) is None
    assert best_keyword(None, POSITIVE, 0.5) is None


def test_debouncer_picks_the_best_window_of_a_word_then_stays_quiet():
    debouncer = KeywordDebouncer(hold_s=0.3, refractory_s=1.0)
    windows = [(0.0, candidate("go", 0.6, 0.0)),  # partial word: wrong label, first
               (0.1, candidate("down", 0.8, 0.1)), (0.2, candidate("down", 0.9, 0.2)),
               (0.3, candidate("down", 0.7, 0.3)),  # hold over: decides 'down' @ 0.2
               (0.4, candidate("down", 0.95, 0.4)), (1.1, None),  # within refractory of 0.2
               (1.2, candidate("yes", 0.7, 1.2)), (1.3, None), (1.4, None), (1.5, None)]
    decided = [(t, [(e.keyword, e.start_s) for e in debouncer.add(t, c)]) for t, c in windows]
    assert [(t, d) for t, d in decided if d] == [(0.3, [("down", 0.2)]), (1.5, [("yes", 1.2)])]


def test_debouncer_without_hold_decides_at_once():
    debouncer = KeywordDebouncer(hold_s=0.0, refractory_s=0.0)
    assert [e.keyword for e in debouncer.add(0.0, candidate("yes", 0.7, 0.0))] == ["yes"]
    assert [e.keyword for e in debouncer.add(0.1, candidate("no", 0.7, 0.1))] == ["no"]


def test_quiet_windows_stop_at_stage_0_without_the_model():
    model = FakeModel()
    spotter = KeywordSpotter(model, INPUT_SPEC, POSITIVE, SpotterSettings(stage0_min_dbfs=-50.0))
    outcome = spotter.process(noise(-70.0), start=32000)
    assert outcome.stage0_stopped and outcome.early_stopped and outcome.result is None
    assert outcome.dbfs == pytest.approx(-70.0, abs=0.5)
    assert (outcome.start_s, outcome.end_s) == (2.0, 3.0)
    assert model.inputs == []


def test_stage_0_off_runs_the_model_even_on_digital_silence():
    model = FakeModel({"yes": 0.1, "unknown": 0.9})
    spotter = KeywordSpotter(model, INPUT_SPEC, POSITIVE, SpotterSettings())
    outcome = spotter.process(np.zeros(16000, np.int16), start=0)
    assert not outcome.stage0_stopped and outcome.candidate is None and outcome.events == []
    assert model.inputs[0].shape == (1, 1, 40, 98) and model.inputs[0].dtype == np.float32


def test_spotter_turns_a_word_over_several_hops_into_one_event():
    word, better = {"yes": 0.8, "unknown": 0.2}, {"yes": 0.9, "unknown": 0.1}
    model = FakeModel(word, better, word, None, {"no": 0.8, "unknown": 0.2})
    settings = SpotterSettings(stage0_min_dbfs=-60.0, score_threshold=0.5, refractory_s=1.0,
                               hold_s=0.2)
    spotter = KeywordSpotter(model, INPUT_SPEC, POSITIVE, settings)
    loud, quiet = noise(-20.0), noise(-80.0)
    outcomes = [spotter.process(loud, start) for start in (0, 1600, 3200, 4800)]
    outcomes.append(spotter.process(quiet, 6400))  # stage 0 stops it; decisions still flow
    assert [o.candidate is not None for o in outcomes] == [True, True, True, False, False]
    assert outcomes[3].early_stopped and outcomes[4].stage0_stopped
    decided = [e for o in outcomes for e in o.events]
    assert [(e.keyword, e.score, e.start_s) for e in decided] == [("yes", 0.9, 0.1)]
    assert outcomes[2].events == decided
