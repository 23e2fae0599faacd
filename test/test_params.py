import pytest

from gc_perception.params import ParamSpec, check_all, index, rejects


def test_type_range_choice_and_custom_rules():
    rate = ParamSpec("rate_hz", 2.0, "rate", min_value=0.1, max_value=50.0)
    assert rate.check(5) is None  # ints are fine for float parameters
    assert "below the minimum" in rate.check(0.0)
    assert "above the maximum" in rate.check(51.0)
    assert "expected float" in rate.check("fast")
    flag = ParamSpec("enabled", True, "on/off")
    assert "expected bool" in flag.check(1)
    count = ParamSpec("threads", 1, "threads", min_value=1)
    assert "expected int" in count.check(True)
    mode = ParamSpec("mode", "a", "mode", choices=("a", "b"))
    assert "is not one of" in mode.check("c")
    even = ParamSpec("n", 2, "even", validator=lambda v: None if v % 2 == 0 else "must be even")
    assert even.check(3) == "n: must be even"


def test_check_all_reports_first_problem_and_ignores_foreign_names():
    specs = index([ParamSpec("a", 1, "a", min_value=0), ParamSpec("b", "x", "b", read_only=True)])
    assert check_all(specs, {"a": 3, "use_sim_time": True}) is None
    assert "below the minimum" in check_all(specs, {"a": -1})
    assert check_all(specs, {"b": "y"}) == "b is read-only"


def test_duplicate_specs_are_refused():
    with pytest.raises(ValueError, match="twice"):
        index([ParamSpec("a", 1, "a"), ParamSpec("a", 2, "a")])


def test_rejects_turns_a_loader_error_into_the_reason():
    def load(path: str) -> str:
        if path != "good":
            raise FileNotFoundError(f"{path} not found")
        return path

    spec = ParamSpec("file", "", "a file", validator=rejects(load))
    assert spec.check("good") is None and spec.check("") is None
    assert spec.check("bad") == "file: bad not found"
    strict = ParamSpec("file", "x", "a file", validator=rejects(load, allow_empty=False))
    assert strict.check("") == "file:  not found"
