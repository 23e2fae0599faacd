"""Write docs/parameters.md from the nodes' ParamSpecs, so the docs match the code
(test/test_param_tables.py checks that the committed file is current).

    .venv/bin/python scripts/param_tables.py > docs/parameters.md
"""

from __future__ import annotations

from gc_perception.nodes import (
    adascale_manager,
    audio_detector,
    audio_source,
    camera_source,
    resource_monitor,
    vision_detector,
)
from gc_perception.nodes.detector_base import detector_specs
from gc_perception.params import ParamSpec

TABLES = {
    "camera_source": camera_source.SPECS,
    "vision_detector and audio_detector (shared)": detector_specs("person_lite0 / kws10"),
    "vision_detector (own)": vision_detector.VISION_SPECS,
    "audio_detector (own)": audio_detector.AUDIO_SPECS,
    "audio_source": audio_source.SPECS,
    "resource_monitor": resource_monitor.SPECS,
    "adascale_manager": adascale_manager.SPECS,
}


def rule(spec: ParamSpec) -> str:
    parts = []
    if spec.choices is not None:
        parts.append(" / ".join(map(str, spec.choices)))
    if spec.min_value is not None or spec.max_value is not None:
        parts.append(f"{spec.min_value if spec.min_value is not None else ''} .. "
                     f"{spec.max_value if spec.max_value is not None else ''}")
    return "; ".join(parts)


HEADER = ("# Node parameters\n\nGenerated from the nodes' ParamSpecs by "
          "`.venv/bin/python scripts/param_tables.py`; every parameter is changeable at run time "
          "through `<node>/set_parameters` and validated (refusals carry a reason).")


def parameter_tables() -> str:
    """docs/parameters.md: one table per node."""
    lines = [HEADER]
    for title, specs in TABLES.items():
        lines += ["", f"**{title}**", "", "| parameter | default | valid | meaning |",
                  "|---|---|---|---|"]
        for spec in specs:
            default = f"`{spec.default!r}`" if spec.default != "" else "`''`"
            text = spec.description.replace("|", "/")
            lines.append(f"| `{spec.name}` | {default} | {rule(spec)} | {text} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(parameter_tables(), end="")


if __name__ == "__main__":
    main()
