"""PNG plots of the benchmark report (matplotlib, headless): one figure per comparison, drawn
from the same report.json figures as the tables (bench.report), bars at the median with min-max
whiskers over repeats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.report import (
    AUDIO_MODES,
    GATING_STREAM,
    Spread,
    runtime_branches,
)


def grouped_bars(ax, labels: list[str], series: dict[str, list[Spread | None]], ylabel: str,
                 log: bool = False) -> None:
    """Bars at each series' median per label, whiskers from min to max."""
    width = 0.8 / max(1, len(series))
    for index, (name, spreads) in enumerate(series.items()):
        xs = [i + (index - (len(series) - 1) / 2) * width for i in range(len(labels))]
        heights = [s.median if s else 0.0 for s in spreads]
        errors = [[s.median - s.low if s else 0.0 for s in spreads],
                  [s.high - s.median if s else 0.0 for s in spreads]]
        ax.bar(xs, heights, width, yerr=errors, capsize=2, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def plot_runtime(report: dict, ax_row) -> bool:
    rows = list(runtime_branches(report["results"].get("vision")))
    if not rows:
        return False
    keys = {"raw A": "raw_stage_a", "raw A+B": "raw_full", "in-process": "direct",
            "node": "node"}
    grouped_bars(ax_row[0], [f"{m.split('_')[0]} {b}" for m, b, _ in rows],
                 {name: [Spread.of(f.get(key, [])) for _, _, f in rows]
                  for name, key in keys.items()}, "ms per input (p50)")
    ax_row[0].set_title("Raw onnxruntime vs node, per branch")
    return True


def plot_gating(report: dict, ax_row) -> bool:
    vision = report["results"].get("vision") or {}
    rows = [(f"{m.split('_')[0]} {b}", f["gating_cpu_ms"][GATING_STREAM])
            for m, e in vision.get("models", {}).items() for b, f in e["branches"].items()
            if GATING_STREAM in f.get("gating_cpu_ms", {})]
    audio = (report["results"].get("audio") or {}).get("core", {})
    if not rows and not audio:
        return False
    if rows:
        grouped_bars(ax_row[0], [label for label, _ in rows],
                     {mode: [Spread.of(g[mode]) for _, g in rows]
                      for mode in ("gated", "ungated", "ideal")}, "CPU ms per frame")
        ax_row[0].set_title(f"Vision, {GATING_STREAM} negatives")
    if audio:
        grouped_bars(ax_row[1], list(audio),
                     {mode: [Spread.of([v * 1e3 for v in e[mode]["cpu_s_per_audio_s_runs"]])
                             for e in audio.values()] for mode in AUDIO_MODES},
                     "CPU ms per audio second", log=True)
        ax_row[1].set_title("Audio (synthetic speech share)")
    return True


def plot_branches(report: dict, ax_row) -> bool:
    models = (report["results"].get("branches") or {}).get("models", {})
    if not models:
        return False
    for ax, (model_id, entry) in zip(ax_row, models.items(), strict=False):
        for core_class in next(iter(entry["branches"].values()))["classes"]:
            points = [(Spread.of(f["classes"][core_class]["latency_ms"]), f.get("accuracy"), b)
                      for b, f in entry["branches"].items()]
            points = [(s.median, a, b) for s, a, b in points if s and a is not None]
            ax.scatter([p[0] for p in points], [p[1] for p in points], label=core_class, s=18)
            if core_class == "performance":
                for x, y, name in points:
                    ax.annotate(name, (x, y), fontsize=6)
        ax.set_title(model_id, fontsize=9)
        ax.set_xlabel("latency ms (A+B p50)", fontsize=8)
        ax.set_ylabel("accuracy (evaluation)", fontsize=8)
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
    return True


def plot_transport(report: dict, ax_row) -> bool:
    rows = (report["results"].get("transport") or {}).get("rows", [])
    if not rows:
        return False
    configs = list(dict.fromkeys((r["size"], r["target_hz"]) for r in rows))
    by_key = {(r["size"], r["target_hz"], r["transport"]): r["runs"] for r in rows}
    grouped_bars(ax_row[0], [f"{s} @{h:g} Hz" for s, h in configs],
                 {kind: [Spread.of([run["latency_ms_p50"] for run in by_key.get((s, h, kind), [])])
                         for s, h in configs] for kind in ("Image", "CompressedImage")},
                 "stamp -> arrival ms (p50)")
    ax_row[0].set_title("Image vs CompressedImage")
    return True


def plot_footprint(report: dict, ax_row) -> bool:
    footprint = report["results"].get("footprint")
    if not footprint:
        return False
    nodes = list(footprint["startup_alone_s"])
    labels = [n.rsplit("/", 1)[-1] for n in nodes]
    for ax, figure, unit in ((ax_row[0], "cpu_percent", "CPU % of one core"),
                             (ax_row[1], "rss_mb", "RSS MB")):
        grouped_bars(ax, labels, {phase: [Spread.of(footprint[phase].get(n, {}).get(figure, []))
                                          for n in nodes] for phase in ("idle", "load")}, unit)
    ax_row[0].set_title("Per node, idle vs load")
    return True


PLOTTERS: dict[str, tuple[Callable[[dict, list], bool], int, tuple[float, float]]] = {
    "runtime.png": (plot_runtime, 1, (10, 4)),
    "gating.png": (plot_gating, 2, (12, 4)),
    "branches.png": (plot_branches, 4, (14, 3.6)),
    "transport.png": (plot_transport, 1, (8, 4)),
    "footprint.png": (plot_footprint, 2, (12, 4)),
}


def write_plots(report: dict, folder: Path) -> list[str]:
    """Every plot that has data, written into `folder`; returns the file names."""
    written = []
    for name, (plotter, columns, size) in PLOTTERS.items():
        figure, axes = plt.subplots(1, columns, figsize=size, squeeze=False)
        if plotter(report, list(axes[0])):
            figure.tight_layout()
            figure.savefig(folder / name, dpi=90)
            written.append(name)
        plt.close(figure)
    return written
