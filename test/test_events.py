import numpy as np
import pytest

from gc_perception.events import EventError, make_event, parse_event, stamp_dict, to_json


def test_round_trip_keeps_fields_and_converts_numpy():
    event = make_event("detection", stamp=stamp_dict(3, 4), gate_score=np.float32(0.25),
                       cpus={"stage_a": (0,), "stage_b": frozenset({1, 0})})
    parsed = parse_event(to_json(event), "detection")
    assert parsed["schema"] == "gc_perception/detection" and parsed["schema_version"] == 1
    assert parsed["gate_score"] == 0.25
    assert parsed["cpus"] == {"stage_a": [0], "stage_b": [0, 1]}
    assert parsed["stamp"] == {"sec": 3, "nanosec": 4}


@pytest.mark.parametrize(("text", "reason"), [
    ("{not json", "not JSON"),
    ('{"a": 1}', "not a gc_perception event"),
    ('{"schema": "gc_perception/detection", "schema_version": 99}', "schema_version 99"),
    ('{"schema": "gc_perception/keyword", "schema_version": 1}', "expected a detection"),
])
def test_bad_events_are_refused_with_a_reason(text, reason):
    with pytest.raises(EventError, match=reason):
        parse_event(text, "detection")


def test_unknown_kinds_and_nan_are_refused():
    with pytest.raises(ValueError, match="unknown event kind"):
        make_event("alarm")
    with pytest.raises(ValueError):
        to_json(make_event("keyword", score=float("nan")))
