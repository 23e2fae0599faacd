"""Benchmark report (issue 9): the raw results of every bench -> REPORT.md and the README block.

Pure (no ROS, no plotting, no files): `bench.run_all` hands in report.json's content, which keeps
every bench's raw results.json unchanged under "results", plus the run's "meta"; everything shown
is computed here from those raw figures, so the committed report.json regenerates the README
block exactly (`bench.readme_sync --check`). Repeated figures are shown as median [min-max];
ratios are taken repeat by repeat, then summarised the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

OVERHEAD_TARGET_MS = 2.0  # node over raw onnxruntime, median per input, vision branches
GATING_TARGET = 0.3  # gated / ungated CPU time on the 90%-negative stream
GATING_STREAM = "90%"
AUDIO_STREAM = "10%"  # 10% speech = 90% negatives
NOT_RUN = "not run"
PLOTS = {"runtime.png": "Runtime limit per branch", "gating.png": "CPU per input, gated vs "
         "ungated", "branches.png": "Branches: latency vs accuracy", "transport.png":
         "Transport latency", "footprint.png": "Footprint per node",
         "adascale_eval_timeline.png": "AdaScale timeline (bench.adascale_eval)"}


# --- figures ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spread:
    """median [min-max] of repeated measurements."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread | None:
        """None when no finite value is left (a bench that measured nothing)."""
        array = np.asarray([v for v in values if v is not None], dtype=float)
        array = array[np.isfinite(array)]
        if array.size == 0:
            return None
        return cls(float(np.median(array)), float(array.min()), float(array.max()), array.size)

    def text(self, fmt: str = ".1f", unit: str = "") -> str:
        if self.n == 1:
            return f"{self.median:{fmt}}{unit}"
        return f"{self.median:{fmt}}{unit} [{self.low:{fmt}}-{self.high:{fmt}}]"


def cell(values: Iterable[float | None] | None, fmt: str = ".1f", unit: str = "") -> str:
    spread = Spread.of(values or [])
    return "n/a" if spread is None else spread.text(fmt, unit)


def pairwise(a: Sequence[float] | None, b: Sequence[float] | None,
             op: Callable[[float, float], float]) -> list[float]:
    """op(a_i, b_i) for each repeat measured on both sides (ratios, differences)."""
    return [op(x, y) for x, y in zip(a or [], b or [], strict=False)
            if x is not None and y not in (None, 0)]


def ratios(numerators: Sequence[float] | None, denominators: Sequence[float] | None) -> list[float]:
    return pairwise(numerators, denominators, lambda x, y: x / y)


def differences(a: Sequence[float] | None, b: Sequence[float] | None) -> list[float]:
    return pairwise(a, b, lambda x, y: x - y)


def median(values: Iterable[float | None] | None) -> float | None:
    spread = Spread.of(values or [])
    return None if spread is None else spread.median


# --- tables -------------------------------------------------------------------------------------
@dataclass
class Table:
    """One comparison: what was compared, its rows, and what the reader must know."""

    title: str
    what: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"**{self.title}**: {self.what}", ""]
        if self.rows:
            lines += ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
            lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        else:
            lines.append(f"_{NOT_RUN}_")
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines)


def runtime_tables(vision: dict | None) -> list[Table]:
    """Comparison 1: raw onnxruntime vs GatedModel vs the node, and where the node's time goes."""
    limits = Table("1. Runtime limit", "per-input wall time (ms, p50 of each repeat) of raw "
                   "onnxruntime on stage A alone and on the full model (A then B), of "
                   "preprocess + GatedModel in-process, and through a vision_detector node "
                   "(publish 640x480 bgr8 Image -> detection received); overhead = node - raw "
                   "A+B.", ["model", "branch", "raw A", "raw A+B", "in-process", "node",
                            "node overhead ms", "node / raw A+B"])
    parts = Table("1b. Node time breakdown", "median ms per input of each part of the node "
                  "path (from the detection event's own timings).",
                  ["model", "branch", *NODE_PARTS_SHOWN.values(), "stages - raw A+B"])
    for model_id, branch, figures in runtime_branches(vision):
        overhead = differences(figures.get("node"), figures["raw_full"])
        limits.rows.append([model_id, branch, *(cell(figures.get(k), ".2f") for k in (
            "raw_stage_a", "raw_full", "direct", "node")), cell(overhead, ".2f"),
            cell(ratios(figures.get("node"), figures["raw_full"]), ".2f", "x")])
        node_parts = figures.get("node_parts", {})
        if node_parts:
            parts.rows.append([model_id, branch, *(cell(node_parts.get(p), ".2f")
                                                   for p in NODE_PARTS_SHOWN),
                               cell(_stage_excess(figures), ".2f")])
    if vision:
        limits.notes.append(f"Frames {vision['frame_size'][0]}x{vision['frame_size'][1]} "
                            f"(shipped photos resized), {vision['frames_per_block']} inputs per "
                            f"block, {vision['repeats']} repeats; every input after a 70 ms "
                            "pause (a ~15 Hz stream) in all four columns; node runs ungated so "
                            "both stages run, as in raw A+B; 1 onnxruntime thread per stage.")
        parts.notes.append(PARTS_NOTE)
    return [limits, parts]


NODE_PARTS_SHOWN = {"publish": "publish", "in": "in", "preprocess": "preprocess",
                    "stage_a": "stage A", "stage_b": "stage B", "other": "other", "out": "out"}
PARTS_NOTE = ("publish = the sender's publish() call (message to C, serialise, shared "
              "memory; a camera pays it too); in = publish returned -> the node's worker "
              "starts (DDS, take, executor, hand-off to the worker; includes the node's "
              "bookkeeping before publishing); preprocess = resize 640x480 -> branch size + "
              "scale; other = decode + GatedModel's stage hand-offs and per-thread CPU-clock "
              "reads; out = detection JSON, publish, DDS, the bench's own callback. 'stages - "
              "raw A+B' = the same inference run slower inside the node than in the raw loop "
              "(cache, contention). Raw onnxruntime gets a prepared tensor, so preprocessing "
              "counts as node overhead.")


def runtime_branches(vision: dict | None) -> Iterator[tuple[str, str, dict]]:
    """(model, branch, figures) of every branch whose runtime limit was measured."""
    for model_id, entry in (vision or {}).get("models", {}).items():
        for branch, figures in entry["branches"].items():
            if figures.get("raw_full"):
                yield model_id, branch, figures


def _stage_excess(figures: dict) -> list[float]:
    parts = figures.get("node_parts", {})
    stages = [a + b for a, b in zip(parts.get("stage_a", []), parts.get("stage_b", []),
                                    strict=False)]
    return differences(stages, figures["raw_full"])


def vision_gating_table(vision: dict | None) -> Table:
    table = Table("2a. Gating, vision", "process CPU ms per frame (preprocess + stages, all "
                  "threads) on streams of real photos with 50/90/99% negatives: gated, ungated "
                  "(stage B on every frame) and ideal (stage A alone on every frame: the floor "
                  "of any gate at this split).",
                  ["model", "branch", "negatives", "gated", "ungated", "ideal", "gated/ungated",
                   "ideal/ungated", "early-stopped", "stage A share of MACs"])
    for model_id, entry in (vision or {}).get("models", {}).items():
        for branch, figures in entry["branches"].items():
            for stream, modes in figures.get("gating_cpu_ms", {}).items():
                stopped = figures.get("early_stopped_share", {}).get(stream)
                table.rows.append([
                    model_id, branch, stream, *(cell(modes[m], ".2f") for m in
                                                ("gated", "ungated", "ideal")),
                    cell(ratios(modes["gated"], modes["ungated"]), ".2f", "x"),
                    cell(ratios(modes["ideal"], modes["ungated"]), ".2f", "x"),
                    "n/a" if stopped is None else f"{stopped:.0%}",
                    f"{entry['stage_a_mac_share'][branch]:.0%}"])
    if vision:
        table.notes.append("Few photos repeated (3 negatives, 2-3 positives): a negative photo "
                           "the gate passes is passed every time, so 'early-stopped' is coarse.")
    return table


AUDIO_MODES = ("ungated", "gate", "ideal", "gate+stage0")


def audio_gating_table(audio: dict | None) -> Table:
    table = Table("2b. Gating, audio", "detector core CPU ms per second of audio (log-mel "
                  "features + stages, every 0.1 s hop over 1 s windows) on SYNTHETIC streams "
                  "(festival TTS words over pink noise) with 10/1/0.1% speech.",
                  ["stream", *AUDIO_MODES, "gate/ungated", "ideal/ungated",
                   "gate+stage0/ungated"])
    for stream, entry in (audio or {}).get("core", {}).items():
        runs = {m: [v * 1e3 for v in entry[m]["cpu_s_per_audio_s_runs"]]
                for m in AUDIO_MODES if m in entry}
        table.rows.append([f"{stream} speech", *(cell(runs.get(m), ".2f") for m in AUDIO_MODES),
                           *(cell(ratios(runs.get(m), runs.get("ungated")), ".2f", "x")
                             for m in ("gate", "ideal", "gate+stage0"))])
    if audio:
        table.notes.append(f"Model {audio['model']} branch {audio['branch']}. ideal = stage A "
                           "alone on every window (the GC gate's floor); stage 0 = an energy "
                           "gate before the features (loudest 100 ms below -45 dBFS stops), "
                           "which is why it can beat that floor on quiet streams.")
    return table


def audio_node_table(audio: dict) -> Table:
    table = Table("2c. Gating, audio through the nodes", "audio_detector process CPU ms per "
                  "audio second (audio_source -> audio_detector, quiet 1% stream, as fast as "
                  "possible).", ["mode", "CPU ms / audio s", "/ ungated"])
    node = audio["node"]
    ungated = [v * 1e3 for v in node.get("ungated", {}).get("cpu_s_per_audio_s_runs", [])]
    for mode, entry in node.items():
        runs = [v * 1e3 for v in entry["cpu_s_per_audio_s_runs"]]
        table.rows.append([mode, cell(runs, ".2f"), cell(ratios(runs, ungated), ".2f", "x")])
    return table


def branches_table(branches: dict | None) -> Table:
    classes = _classes(branches)
    table = Table("3. Branches", "every branch of every shipped model, both stages (ungated), "
                  "per core class: latency = A+B wall p50 ms; memory MB; accuracy from the "
                  "model's held-out evaluation; energy = ESTIMATE mJ per input.",
                  ["model", "branch", *(f"latency {c}" for c in classes), "memory MB",
                   "accuracy", *(f"energy {c}" for c in classes),
                   "latency / first branch"])
    for model_id, entry in (branches or {}).get("models", {}).items():
        reference = next(iter(entry["branches"].values()))
        for name, figures in entry["branches"].items():
            cost = figures["classes"]
            accuracy = figures.get("accuracy")
            ratio_class = _ratio_class(classes)
            table.rows.append([
                model_id, name, *(cell(cost.get(c, {}).get("latency_ms"), ".2f")
                                  for c in classes),
                cell(figures["memory_mb"], ".1f"),
                "n/a" if accuracy is None else f"{accuracy:.3f}",
                *(cell(cost.get(c, {}).get("energy_mj"), ".2f") for c in classes),
                cell(ratios(cost.get(ratio_class, {}).get("latency_ms"),
                            reference["classes"].get(ratio_class, {}).get("latency_ms")),
                     ".2f", "x")])
    if branches:
        watts = ", ".join(f"{c} {w:g} W" for c, w in branches["power_watts"].items())
        table.notes.append(
            f"Energy estimate = CPU seconds x declared busy watts ({watts}; 'any' charged at the "
            "costliest class), not a measurement. Core classes "
            f"{_class_list(branches['core_classes'])} are DECLARED in config/device.yaml: this "
            "VM's cores are identical, so latency differs between classes only by noise and "
            "by threads ('any' = all CPUs, one thread). Accuracy is each model's own figure "
            "(F1 of the gated path on its held-out set), not measured in this run. Ratio "
            f"column: on '{_ratio_class(classes)}', against the model's first branch.")
    return table


def _classes(branches: dict | None) -> list[str]:
    names: dict[str, None] = {}
    for entry in (branches or {}).get("models", {}).values():
        for figures in entry["branches"].values():
            names.update(dict.fromkeys(figures["classes"]))
    return list(names)


def _ratio_class(classes: list[str]) -> str:
    return "performance" if "performance" in classes else (classes[0] if classes else "")


def _class_list(core_classes: dict[str, list[int]]) -> str:
    return ", ".join(f"{name} = CPU {cpus}" for name, cpus in core_classes.items())


def transport_table(transport: dict | None) -> Table:
    table = Table("4. Transport", "camera_source -> another process over localhost DDS "
                  "(shared memory, 4 MiB segment): header stamp -> arrival p50 ms (includes JPEG "
                  "encoding for CompressedImage) and achieved rate.",
                  ["size", "Hz", "Image p50 ms", "Compressed p50 ms", "Compressed / Image",
                   "Image p95 ms", "Compressed p95 ms", "Image Hz", "Compressed Hz"])
    rows = {(r["size"], r["target_hz"], r["transport"]): r["runs"]
            for r in (transport or {}).get("rows", [])}
    for size, hz in dict.fromkeys((s, h) for s, h, _ in rows):
        image, compressed = rows.get((size, hz, "Image"), []), rows.get(
            (size, hz, "CompressedImage"), [])

        def values(runs: list[dict], key: str) -> list[float | None]:
            return [run[key] for run in runs]

        table.rows.append([
            size, f"{hz:g}", cell(values(image, "latency_ms_p50"), ".1f"),
            cell(values(compressed, "latency_ms_p50"), ".1f"),
            cell(ratios(values(compressed, "latency_ms_p50"), values(image, "latency_ms_p50")),
                 ".2f", "x"),
            cell(values(image, "latency_ms_p95"), ".1f"),
            cell(values(compressed, "latency_ms_p95"), ".1f"),
            cell(values(image, "achieved_hz"), ".1f"), cell(values(compressed, "achieved_hz"),
                                                           ".1f")])
    if transport:
        table.notes.append(f"{transport['repeats']} runs of {transport['seconds']:g} s each; "
                           "generated video (moving gradient), JPEG quality 90. The receiver is "
                           "a plain rclpy subscription, which converts each message to Python "
                           "(~1 ms for a 640x480 Image); vision_detector takes frames "
                           "serialized instead (see 1b).")
    return table


ADASCALE_KEYS = ("frames", "miss_rate", "latency_p50_ms", "accuracy_proxy", "energy_mj_per_frame")


def adascale_tables(adascale: dict | None) -> list[Table]:
    """Comparison 5, from bench.adascale_eval's results.json (one run: no spread)."""
    configs = (adascale or {}).get("configs", {})
    best = (adascale or {}).get("best_static")
    table = Table("5. Adaptation", "the suite under AdaScale against every static branch, "
                  "through the same phases (one run; the scenario, decisions and timeline: "
                  "[adascale_eval.md](adascale_eval.md)).",
                  ["config", "frames", "deadline misses", "latency p50 ms", "accuracy proxy",
                   "energy mJ/frame*", "energy / best static"])
    best_energy = configs.get(best, {}).get("energy_mj_per_frame")
    for name, row in configs.items():
        table.rows.append([
            name + (" (best static)" if name == best else ""), _num(row.get("frames"), "d"),
            _pct(row.get("miss_rate")), _num(row.get("latency_p50_ms"), ".1f"),
            _num(row.get("accuracy_proxy"), ".3f"), _num(row.get("energy_mj_per_frame"), ".2f"),
            "n/a" if not best_energy or row.get("energy_mj_per_frame") is None else
            f"{row['energy_mj_per_frame'] / best_energy:.2f}x"])
    reactions = Table("5b. Reaction time", "seconds from each change of conditions to the "
                      "manager's decision and to the first frame on the new branch.",
                      ["change", "decision s", "first frame s", "to"])
    for row in (adascale or {}).get("reactions", []):
        reactions.rows.append([str(row.get("change")), _num(row.get("decision_s"), ".1f"),
                               _num(row.get("first_frame_s"), ".1f"),
                               str(row.get("to") or "no change")])
    if adascale:
        budget = adascale.get("budget_ms")
        table.notes += [f"Deadline = {_num(budget, 'g')} ms; model "
                        f"{adascale.get('model', 'n/a')}. *Energy is an estimate (CPU time x "
                        "declared power of the core class).", "",
                        *str(adascale.get("verdict", "")).splitlines()]
    return [table, reactions]


def _num(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def footprint_table(footprint: dict | None, monitor: dict | None) -> Table:
    table = Table("6. Footprint", "start-up = spawn -> first /diagnostics (alone; all 7 at "
                  "once); CPU % of one core and RSS MB with the sources paused (idle) and at "
                  "the demo's input rates (load).",
                  ["node", "start-up alone s", "start-up in suite s", "idle CPU %",
                   "idle RSS MB", "load CPU %", "load RSS MB", "load / idle CPU"])
    if footprint:
        for node, alone in footprint["startup_alone_s"].items():
            idle, load = footprint["idle"].get(node, {}), footprint["load"].get(node, {})
            table.rows.append([
                node, cell(alone, ".1f"), cell(footprint["startup_suite_s"].get(node), ".1f"),
                cell(idle.get("cpu_percent"), ".1f"), cell(idle.get("rss_mb"), ".0f"),
                cell(load.get("cpu_percent"), ".1f"), cell(load.get("rss_mb"), ".0f"),
                cell(ratios(load.get("cpu_percent"), idle.get("cpu_percent")), ".1f", "x")])
        table.rows.append(["whole suite (last node reporting)", "", cell(
            footprint["suite_startup_s"], ".1f"), "", "", "", "", ""])
        table.notes.append(f"CPU and RSS over windows of {footprint['window_s']:g} s; start-ups "
                           "repeated; the suite's processes compete for 2 cores at start.")
    if monitor:
        running, paused = monitor["node"]["running"], monitor["node"]["paused"]
        table.notes.append(
            f"resource_monitor alone at {monitor['rate_hz']:g} Hz: "
            f"{cell(running['cpu_percent'], '.2f')}% of a core (paused: "
            f"{cell(paused['cpu_percent'], '.2f')}%), RSS {cell(running['rss_mb'], '.0f')} MB; "
            f"{cell(monitor['core_tick_ms'], '.2f')} ms CPU per sample in-process.")
    return table


# --- targets ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    name: str
    met: bool | None  # None: not measured
    verdict: str
    why: str = ""

    def markdown(self) -> str:
        state = {True: "MET", False: "MISSED", None: NOT_RUN.upper()}[self.met]
        return f"- **{self.name}: {state}.** {self.verdict}" + (f" {self.why}" if self.why else "")


def overhead_target(vision: dict | None) -> Target:
    name = f"Node overhead over raw onnxruntime <= {OVERHEAD_TARGET_MS:g} ms median (vision)"
    overheads = {(m, b): median(differences(f.get("node"), f["raw_full"]))
                 for m, b, f in runtime_branches(vision)}
    overheads = {k: v for k, v in overheads.items() if v is not None}
    if not overheads:
        return Target(name, None, "The node path was not measured.")
    worst, best = max(overheads, key=overheads.get), min(overheads, key=overheads.get)
    missed = {k: v - OVERHEAD_TARGET_MS for k, v in overheads.items() if v > OVERHEAD_TARGET_MS}
    verdict = (f"Overhead {overheads[best]:.1f} ms ({' '.join(best)}) to {overheads[worst]:.1f} "
               f"ms ({' '.join(worst)})")
    if not missed:
        return Target(name, True, verdict + f" on all {len(overheads)} branches.")
    return Target(name, False, verdict + f": missed on {len(missed)} of {len(overheads)} "
                  f"branches, by {min(missed.values()):.1f} to {max(missed.values()):.1f} ms.",
                  "Where it goes (median over branches): " + _parts_text(vision) + ". "
                  + REDUCED)


OVERHEAD_GROUPS = {  # what a part of the node path is the price of
    "the ROS path of a 640x480 frame and its result (publish + in + out)": ("publish", "in", "out"),
    "preprocessing, which raw onnxruntime is spared": ("preprocess",),
    "decode and GatedModel's per-stage worker threads (stage placement)": ("other",),
}


REDUCED = ("Reduced in issue 9 (measured while developing): frames read in place from the "
           "serialized message instead of rclpy's copy into a Python message, and a single-"
           "threaded executor (in: ~3 -> ~1.5 ms); preprocessing scaled per channel plane "
           "(-0.9 ms at 224 px).")


def _parts_text(vision: dict | None) -> str:
    """The node's overhead by cause: medians over branches of each part's per-repeat medians."""
    def part(name: str) -> float:
        return median([median(f["node_parts"].get(name)) for _, _, f in
                       runtime_branches(vision)]) or 0.0

    sums = {label: sum(part(p) for p in parts) for label, parts in OVERHEAD_GROUPS.items()}
    excess = median([median(_stage_excess(f)) for _, _, f in runtime_branches(vision)]) or 0.0
    text = "; ".join(f"{label} {value:.1f} ms" for label, value in sums.items())
    ros = next(iter(sums.values()))
    return text + f"; the stage runs themselves {excess:+.1f} ms against raw" + (
        f". The ROS path alone ({ros:.1f} ms) is over the {OVERHEAD_TARGET_MS:g} ms target"
        if ros > OVERHEAD_TARGET_MS else "")


def gating_target(vision: dict | None, audio: dict | None) -> Target:
    name = (f"Gated CPU <= {GATING_TARGET:g}x ungated on the 90%-negative stream")
    vision_rows = [(m, b, median(ratios(g["gated"], g["ungated"])),
                    median(ratios(g["ideal"], g["ungated"])), e["stage_a_mac_share"][b])
                   for m, e in (vision or {}).get("models", {}).items()
                   for b, f in e["branches"].items()
                   if (g := f.get("gating_cpu_ms", {}).get(GATING_STREAM))]
    audio_rows = _audio_ratios(audio)
    if not vision_rows and not audio_rows:
        return Target(name, None, "Gating was not measured.")
    verdicts, met = [], []
    if vision_rows:
        best = min(vision_rows, key=lambda r: r[2])
        floor = min(vision_rows, key=lambda r: r[3])
        met.append(best[2] <= GATING_TARGET)
        verdicts.append(
            f"Vision: best {best[2]:.2f}x ({best[0]} {best[1]}), missed by "
            f"{best[2] - GATING_TARGET:.2f}x or more. Why: even the ideal gate (stage A alone "
            f"on every frame) costs {floor[3]:.2f}x at best ({floor[0]} {floor[1]}), because "
            f"the GC layer sits after MBConv block 11/12 of EfficientNet-lite0, so stage A is "
            f"{min(r[4] for r in vision_rows):.0%}-{max(r[4] for r in vision_rows):.0%} of the "
            "MACs, and every frame also pays preprocessing. Meeting 0.3x needs an earlier split "
            "(a retrained gate), which this issue does not do."
            if best[2] > GATING_TARGET else
            f"Vision: best {best[2]:.2f}x ({best[0]} {best[1]}).")
    for stream, mode, ratio in audio_rows:
        met.append(ratio <= GATING_TARGET)
        verdicts.append(f"Audio ({stream} {AUDIO_STREAM} speech, {mode}): {ratio:.2f}x "
                        + ("(met)." if ratio <= GATING_TARGET else
                           f"(missed by {ratio - GATING_TARGET:.2f}x)."))
    return Target(name, all(met), " ".join(verdicts))


def _audio_ratios(audio: dict | None) -> list[tuple[str, str, float]]:
    rows = []
    for stream, entry in (audio or {}).get("core", {}).items():
        background, share = stream.split(" ", 1)
        if share != AUDIO_STREAM:
            continue
        ungated = entry["ungated"]["cpu_s_per_audio_s_runs"]
        for mode in ("gate", "gate+stage0"):
            value = median(ratios(entry[mode]["cpu_s_per_audio_s_runs"], ungated))
            if value is not None:
                rows.append((background, mode, value))
    return rows


# --- documents ----------------------------------------------------------------------------------
def tables(report: dict, sections: Iterable[str] = ("1", "2", "3", "4", "5", "6")) -> list[Table]:
    results = report.get("results", {})
    builders: dict[str, Callable[[], list[Table]]] = {
        "1": lambda: runtime_tables(results.get("vision")),
        "2": lambda: [vision_gating_table(results.get("vision")),
                      audio_gating_table(results.get("audio")),
                      *([audio_node_table(results["audio"])]
                        if (results.get("audio") or {}).get("node") else [])],
        "3": lambda: [branches_table(results.get("branches"))],
        "4": lambda: [transport_table(results.get("transport"))],
        "5": lambda: adascale_tables(results.get("adascale")),
        "6": lambda: [footprint_table(results.get("footprint"),
                                      results.get("resource_monitor"))],
    }
    return [table for section in sections for table in builders[section]()]


def targets(report: dict) -> list[Target]:
    results = report.get("results", {})
    return [overhead_target(results.get("vision")),
            gating_target(results.get("vision"), results.get("audio"))]


def header(report: dict) -> list[str]:
    meta = report["meta"]
    return [f"Machine: {meta['machine']} (load average {_loads(meta)} at start; shared, noisy). "
            f"Date: {meta['started']}. Command: `{meta['command']}`"
            + (" (QUICK mode: short runs, not for the record)" if meta.get("quick") else "")
            + f". Total: {meta['duration_s'] / 60:.1f} min.",
            "Figures are median [min-max] over repeats within this run (ratios taken repeat "
            "by repeat); one value = one run."]


def _loads(meta: dict) -> str:
    return "/".join(f"{v:.2f}" for v in meta.get("load_average", [])) or "n/a"


def bench_status(report: dict) -> list[str]:
    lines = ["| bench | status | seconds | command |", "|---|---|---|---|"]
    for name, run in report["meta"]["benches"].items():
        lines.append(f"| {name} | {run['status']} | {run.get('duration_s', 0):.0f} | "
                     f"`{run.get('command', '')}` |")
    return lines


def render_report(report: dict, plots: Iterable[str] = ()) -> str:
    """REPORT.md: header, targets, every comparison, the benches run, the plots."""
    lines = ["# gc_perception benchmark report", "", *header(report), "", "## Targets", ""]
    lines += [t.markdown() for t in targets(report)]
    lines += ["", "## Comparisons", ""]
    for table in tables(report):
        lines += [table.markdown(), ""]
    lines += ["## What is measured and what is not", "", *HONESTY, "", "## Benches run", "",
              *bench_status(report), ""]
    plots = list(plots)
    if plots:
        lines += ["## Plots", ""] + [f"![{PLOTS.get(p, p)}]({p})" for p in plots] + [""]
    return "\n".join(lines)


HONESTY = [
    "- Measured here: every latency, CPU time, RSS, start-up time and rate above.",
    "- Estimated: energy (CPU time x power figures declared in config/device.yaml; no power "
    "meter), and AdaScale's accuracy proxy (evaluation figures of the branch in use).",
    "- Declared, not real: the 'efficiency' and 'performance' core classes of this homogeneous VM.",
    "- Media: a few real photos (media/images) repeated, and SYNTHETIC speech (TTS) over "
    "generated noise; they measure cost, not accuracy.",
    "- The machine is a shared 2-core VM: other work runs at the same time, hence the spreads; "
    "where two figures' ranges overlap (e.g. gated and ideal), their order is noise.",
]


def readme_block(report: dict) -> str:
    """The README's generated results (comparisons 1-4 and 6), from report.json alone."""
    lines = [*header(report), ""]
    lines += [t.markdown() for t in targets(report)] + [""]
    for table in tables(report, ("1", "2", "3", "4", "6")):
        lines += [table.markdown(), ""]
    return "\n".join(lines).rstrip() + "\n"
