"""The demo's tally: what the suite did, from its own topics (events + last diagnostics).

Pure: the demo's recorder feeds it events and diagnostic values; it gives the live progress
line, the final table and the JSON written to runs/demo/summary.json.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

DETECTOR_FIGURES = {
    "branch": "branch",
    "inputs": "inputs",
    "early_stop_rate": "early_stop_rate",
    "latency_p50_ms": "latency_total_p50_ms",
    "latency_p95_ms": "latency_total_p95_ms",
    "energy_mj_per_input": "energy_mj_per_input",
    "energy_mj_total": "energy_mj_total",
    "dropped": "dropped_frames",
    "rejected_inputs": "rejected_inputs",
}


def number(text: str | None) -> float | str | None:
    """A diagnostics value back as a number where it is one ('n/a' -> None)."""
    if text is None or text == "n/a":
        return None
    try:
        return float(text)
    except ValueError:
        return text


class SuiteTally:
    """Counts per node, fed from the suite's topics."""

    def __init__(self, detector_nodes: list[str]) -> None:
        self.detector_nodes = detector_nodes
        self.detections: Counter[str] = Counter()  # node -> frames with >= 1 detection
        self.labels: dict[str, Counter[str]] = defaultdict(Counter)
        self.keywords: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.decisions: list[dict[str, Any]] = []
        self.diagnostics: dict[str, dict[str, str]] = {}  # status name -> values
        self.device_state: dict[str, Any] | None = None

    def on_detection(self, event: dict[str, Any]) -> None:
        if event.get("detections"):
            self.detections[event["node"]] += 1
            self.labels[event["node"]].update(d["label"] for d in event["detections"])

    def on_keyword(self, event: dict[str, Any]) -> None:
        self.keywords[event["node"]].append(
            {"keyword": event["keyword"], "score": round(float(event["score"]), 3),
             "stamp": event.get("stamp")}
        )

    def on_decision(self, event: dict[str, Any]) -> None:
        self.decisions.append(event)

    def on_diagnostics(self, name: str, values: dict[str, str]) -> None:
        self.diagnostics[name] = values

    def detector_values(self, node: str) -> dict[str, str] | None:
        return self.diagnostics.get(f"{node.lstrip('/')}: detector")

    def reporting(self) -> list[str]:
        """Detector nodes that have published diagnostics (i.e. are up)."""
        return [node for node in self.detector_nodes if self.detector_values(node) is not None]

    def rows(self, restarts: dict[str, int] | None = None) -> list[dict[str, Any]]:
        restarts = restarts or {}
        rows = []
        for node in self.detector_nodes:
            values = self.detector_values(node) or {}
            row: dict[str, Any] = {"node": node, "task": values.get("task")}
            row.update({key: number(values.get(src)) for key, src in DETECTOR_FIGURES.items()})
            row["detections"] = self.detections[node]
            row["labels"] = dict(self.labels[node])
            row["keywords"] = [k["keyword"] for k in self.keywords.get(node, [])]
            row["branch_switches"] = sum(1 for d in self.decisions
                                         if d.get("node") == node and _switched_branch(d))
            row["restarts"] = restarts.get(node, 0)
            rows.append(row)
        return rows

    def progress_line(self, elapsed_s: float) -> str:
        parts = [f"t={elapsed_s:5.1f}s"]
        for node in self.detector_nodes:
            values = self.detector_values(node) or {}
            found = len(self.keywords[node]) if node in self.keywords else self.detections[node]
            parts.append(
                f"{node.rsplit('/', 1)[-1]}: {values.get('inputs', '0')} in, "
                f"ESR {_short(values.get('early_stop_rate'))}, {found} hits, "
                f"{values.get('branch', '?')}"
            )
        parts.append(f"decisions {len(self.decisions)}")
        return " | ".join(parts)


def _switched_branch(decision: dict[str, Any]) -> bool:
    before, after = decision.get("from") or {}, decision.get("to") or {}
    return before.get("branch") != after.get("branch")


def _short(text: str | None) -> str:
    value = number(text)
    return f"{value:.2f}" if isinstance(value, float) else "n/a"


COLUMNS = (
    ("node", "node", "{}"), ("task", "task", "{}"), ("inputs", "inputs", "{:.0f}"),
    ("ESR", "early_stop_rate", "{:.2f}"), ("hits", "detections", "{}"),
    ("p50 ms", "latency_p50_ms", "{:.1f}"), ("p95 ms", "latency_p95_ms", "{:.1f}"),
    ("switches", "branch_switches", "{}"), ("branch", "branch", "{}"),
    ("mJ/input*", "energy_mj_per_input", "{:.2f}"), ("restarts", "restarts", "{}"),
)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table; hits = frames with a detection, or keyword events."""
    cells = [[title for title, _, _ in COLUMNS]]
    for row in rows:
        shown = dict(row)
        if row["keywords"]:
            shown["detections"] = len(row["keywords"])
        cells.append([_cell(shown.get(key), fmt) for _, key, fmt in COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "n/a"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)
