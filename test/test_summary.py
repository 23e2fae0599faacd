from gc_perception.suite.summary import SuiteTally, format_table, number

PERSON = "/cam_a/person_detector"
KWS = "/cam_a/keyword_detector"


def diagnostics(inputs: str, esr: str, branch: str) -> dict[str, str]:
    return {"task": "person", "inputs": inputs, "early_stop_rate": esr, "branch": branch,
            "latency_total_p50_ms": "12.5", "latency_total_p95_ms": "20", "energy_mj_per_input":
            "n/a", "dropped_frames": "3"}


def test_rows_combine_last_diagnostics_and_counted_events():
    tally = SuiteTally([PERSON, KWS])
    assert tally.reporting() == []
    tally.on_diagnostics("cam_a/person_detector: detector", diagnostics("10", "0.4", "fp32"))
    tally.on_diagnostics("cam_a/person_detector: detector", diagnostics("20", "0.5", "int8"))
    assert tally.reporting() == [PERSON]
    tally.on_detection({"node": PERSON, "detections": [{"label": "person", "score": 0.9}]})
    tally.on_detection({"node": PERSON, "detections": []})
    tally.on_keyword({"node": KWS, "keyword": "yes", "score": 0.91234})
    tally.on_decision({"node": PERSON, "from": {"branch": "fp32"}, "to": {"branch": "int8"}})
    tally.on_decision({"node": PERSON, "from": {"branch": "int8"}, "to": {"branch": "int8"}})
    person, kws = tally.rows({PERSON: 1})
    assert person["inputs"] == 20.0 and person["early_stop_rate"] == 0.5
    assert person["branch"] == "int8" and person["energy_mj_per_input"] is None
    assert person["detections"] == 1 and person["labels"] == {"person": 1}
    assert person["branch_switches"] == 1 and person["restarts"] == 1
    assert kws["keywords"] == ["yes"] and kws["inputs"] is None
    table = format_table([person, kws])
    assert "person_detector" in table and "0.50" in table and "n/a" in table
    assert "int8" in tally.progress_line(3.0)


def test_number_parsing():
    assert number("n/a") is None and number("1.5") == 1.5 and number("fp32") == "fp32"
