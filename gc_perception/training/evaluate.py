"""The evaluation command: writes models/EVALUATION.md and plots from every shipped model.

    .venv/bin/python -m gc_perception.training.evaluate            # re-evaluate, then render
    .venv/bin/python -m gc_perception.training.evaluate --render   # render existing JSON only

Re-evaluation runs gc_perception.training.evaluate_vision / evaluate_kws, which write
models/<id>/evaluation.json from held-out data (needs the [train] extra and its data cache).
Rendering reads those JSON files and each manifest's provenance; the targets are the issue's:
early-stop rate on negatives >= 0.8 at >= 0.97 pass of the full model's positives, gated
precision/recall within 1 point of ungated.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gc_perception.adascale.energy import FORMULA

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
ESR_TARGET, PASS_TARGET, POINT = 0.8, 0.97, 0.01


def load_evaluations(models_dir: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(evaluation, manifest) per model folder that has both."""
    pairs = []
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        evaluation, manifest = folder / "evaluation.json", folder / "manifest.json"
        if evaluation.is_file() and manifest.is_file():
            pairs.append((json.loads(evaluation.read_text()), json.loads(manifest.read_text())))
    return pairs


def verdict(gate: dict[str, float]) -> str:
    """Which targets a branch meets, and by how much it misses the others."""
    misses = []
    if gate["esr"] < ESR_TARGET:
        misses.append(f"ESR {gate['esr']:.2f} < {ESR_TARGET}")
    if gate["pass_rate"] < PASS_TARGET:
        misses.append(f"pass {gate['pass_rate']:.3f} < {PASS_TARGET}")
    for metric in ("precision", "recall"):
        drop = gate[f"{metric}_ungated"] - gate[f"{metric}_gated"]
        if drop > POINT:
            misses.append(f"{metric} -{drop * 100:.1f} pt")
    return "meets all" if not misses else "misses: " + ", ".join(misses)


def branch_rows(evaluation: dict[str, Any]) -> list[str]:
    rows = []
    for name, branch in evaluation["branches"].items():
        gate, cpu = branch["gate"], branch["cpu_ms_per_input"]
        energy = branch["energy_mj_per_input"]
        rows.append(
            f"| {name} | {gate['esr']:.3f} | {gate['pass_rate']:.3f} | "
            f"{gate['precision_gated']:.3f} / {gate['precision_ungated']:.3f} | "
            f"{gate['recall_gated']:.3f} / {gate['recall_ungated']:.3f} | "
            f"{branch['sparsity']:.3f} | {branch['handoff_bytes_mean']:.0f} / "
            f"{branch['handoff_dense_bytes']} | {cpu['gated']:.2f} / {cpu['ungated']:.2f} | "
            f"{energy['gated']:.2f} / {energy['ungated']:.2f} | {verdict(gate)} |"
        )
    return rows


def model_section(evaluation: dict[str, Any], manifest: dict[str, Any], plots: list[str]) -> str:
    data, provenance = evaluation["data"], manifest.get("provenance", {})
    lines = [
        f"## {evaluation['model_id']} ({evaluation['task']})", "",
        f"- Data ({data['kind'].upper()}): {data['description']}",
        f"- Held out: {data['held_out']}; {data['n_positives']} positives, "
        f"{data['n_negatives']} negatives.",
        f"- Built by: `{provenance.get('build_command', 'n/a')}`; source weights: "
        f"{provenance.get('source_weights', 'n/a')}; teacher: {provenance.get('teacher', 'n/a')}.",
        "",
        "| branch | ESR (negatives) | pass (full positives) | precision gated / ungated | "
        "recall gated / ungated | sparsity | handoff bytes sparse / dense | CPU ms gated / "
        "ungated | energy mJ* gated / ungated | targets |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *branch_rows(evaluation), "",
        *[f"![{name}](plots/{name})" for name in plots], "",
    ]
    return "\n".join(lines)


def plot(evaluation: dict[str, Any], plots_dir: Path) -> list[str]:
    """ESR/pass bars and CPU gated/ungated bars per branch; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(evaluation["branches"])
    branches = [evaluation["branches"][n] for n in names]
    figure, (rates, cpu) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = range(len(names))
    rates.bar([i - 0.2 for i in x], [b["gate"]["esr"] for b in branches], 0.4, label="ESR")
    rates.bar([i + 0.2 for i in x], [b["gate"]["pass_rate"] for b in branches], 0.4,
              label="pass rate")
    rates.axhline(ESR_TARGET, color="grey", linestyle="--", linewidth=1)
    rates.set_xticks(list(x), names, rotation=20)
    rates.set_ylim(0, 1.05)
    rates.set_title("gate: early stops on negatives, passes of positives")
    rates.legend(loc="lower right")
    cpu.bar([i - 0.2 for i in x], [b["cpu_ms_per_input"]["gated"] for b in branches], 0.4,
            label="gated")
    cpu.bar([i + 0.2 for i in x], [b["cpu_ms_per_input"]["ungated"] for b in branches], 0.4,
            label="ungated")
    cpu.set_xticks(list(x), names, rotation=20)
    cpu.set_title("CPU ms per input (held-out mix)")
    cpu.legend()
    figure.suptitle(evaluation["model_id"])
    figure.tight_layout()
    name = f"{evaluation['model_id']}.png"
    plots_dir.mkdir(exist_ok=True)
    figure.savefig(plots_dir / name, dpi=90)
    plt.close(figure)
    return [name]


def render(models_dir: Path = MODELS_DIR, with_plots: bool = True) -> Path:
    sections = []
    for evaluation, manifest in load_evaluations(models_dir):
        plots = plot(evaluation, models_dir / "plots") if with_plots else []
        sections.append(model_section(evaluation, manifest, plots))
    text = "\n".join([
        "# Model evaluation", "",
        "Written by `python -m gc_perception.training.evaluate`. Every figure is measured on "
        "held-out data, gated side by side with the ungated baseline on the same model. "
        "ESR = early-stop rate on negatives; pass = share of the full model's positives the "
        "gate lets through; sparsity = share of zeros handed to stage B; handoff bytes "
        "(sparse) = bitmap + non-zero values. CPU ms: onnxruntime, 1 thread, this machine.",
        "",
        f"*Energy is an ESTIMATE: {FORMULA}, stage A on 'efficiency', stage B on "
        "'performance' cores, power figures from config/device.yaml (not measured).",
        "", "The gate formulation is ours; the GC papers publish none.", "",
        *sections,
    ])
    path = models_dir / "EVALUATION.md"
    path.write_text(text)
    return path


def rerun() -> None:
    from gc_perception.training import evaluate_kws, evaluate_vision

    for task in ("person", "dog"):
        evaluate_vision.main(["--task", task])
    for keywords in ("10", "35"):
        evaluate_kws.main(["--keywords", keywords])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--render", action="store_true", help="only render existing JSON")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    if not args.render:
        rerun()
    print(f"wrote {render(with_plots=not args.no_plots)}")


if __name__ == "__main__":
    main()
