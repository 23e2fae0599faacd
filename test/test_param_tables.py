"""docs/parameters.md is what scripts/param_tables.py makes from the nodes' ParamSpecs."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("param_tables", ROOT / "scripts/param_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_parameter_docs_are_current():
    expected = load_script().parameter_tables()
    assert (ROOT / "docs/parameters.md").read_text() == expected, (
        "stale: .venv/bin/python scripts/param_tables.py > docs/parameters.md")

