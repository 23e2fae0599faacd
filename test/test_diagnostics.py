from gc_perception.diagnostics import Level, Status, format_value


def test_values_become_strings_diagnostic_tools_can_show():
    status = Status("node: part", Level.WARN, "slow", {"p50_ms": 12.3456, "cpus": [0, 1],
                                                      "missing": None, "frames": 7})
    assert status.string_values() == [("p50_ms", "12.35"), ("cpus", "0,1"),
                                      ("missing", "n/a"), ("frames", "7")]
    assert int(status.level) == 1
    assert format_value(True) == "True"
