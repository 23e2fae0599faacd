"""Branches (issue 9, comparison 3): latency, memory, accuracy and energy estimate of every branch
of every shipped model, on each core class.

    .venv/bin/python -m bench.bench_branches [--models person_lite0,dog_lite0,kws10,kws35]
                                             [--runs 10] [--repeats 3] [--out DIR]

Each repeat profiles every model with the AdaScale profiler (gc_perception.adascale.profiler:
per branch, both stages pinned to each core class of config/device.yaml, and "any" = all CPUs,
one thread; ungated inferences on fixed random input, `--runs` timed runs after a warm-up).
latency = stage A + stage B wall p50; memory = max(RSS delta of loading the branch, ONNX bytes);
accuracy = the branch's figure from the model's evaluation.json (held-out data, not measured
here); energy = ESTIMATE per input with both stages: CPU ms x busy watts of the class
(config/device.yaml; "any" charged at the costliest class, as the detectors do).
On a homogeneous VM the core classes are declared, not real: every class is the same silicon.
"""

from __future__ import annotations

import argparse

from bench.common import append_repeat, facts, open_run, spread, write_results
from gc_perception.adascale.energy import (
    CorePower,
    default_device_config,
    load_power_table,
    stage_energy_joules,
)
from gc_perception.adascale.profiler import measure_model
from gc_perception.adascale.profiles import BranchProfile, with_evaluation
from gc_perception.adascale.topology import load_topology
from gc_perception.gating.manifest import load_manifest
from gc_perception.resources import find_model_manifest

MODELS = "person_lite0,dog_lite0,kws10,kws35"


def both_stages(branch: BranchProfile, core_class: str, figure: str) -> float:
    """A StageCost figure summed over stage A and stage B (one input that passes the gate)."""
    return sum(getattr(branch.cost(stage, core_class), figure) for stage in ("a", "b"))


def energy_mj(branch: BranchProfile, core_class: str, power: dict[str, CorePower]) -> float:
    """ESTIMATE of one input through both stages on `core_class`."""
    charged = core_class if core_class in power else max(power, key=lambda c: power[c].busy)
    cpu_s = both_stages(branch, core_class, "cpu_ms") / 1e3
    return stage_energy_joules(cpu_s, charged, power) * 1e3


def branch_figures(branch: BranchProfile, power: dict[str, CorePower]) -> dict:
    """One repeat's figures of one branch, per core class."""
    return {"memory_mb": branch.memory_bytes / 2**20, "classes": {
        core_class: {"latency_ms": both_stages(branch, core_class, "wall_ms"),
                     "latency_p95_ms": both_stages(branch, core_class, "wall_p95_ms"),
                     "cpu_ms": both_stages(branch, core_class, "cpu_ms"),
                     "energy_mj": energy_mj(branch, core_class, power)}
        for core_class in sorted(branch.core_classes())}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per branch and class")
    parser.add_argument("--repeats", type=int, default=3)
    args, run_dir = open_run("branches", parser, argv)
    topology = load_topology(default_device_config())
    power = load_power_table(default_device_config())
    models: dict[str, dict] = {}
    for repeat in range(args.repeats):
        for model_id in args.models.split(","):
            path = find_model_manifest(model_id)
            profile = with_evaluation(measure_model(path, topology, "bench", args.runs),
                                      load_manifest(path))
            entry = models.setdefault(model_id, {"branches": {}})
            for name, branch in profile.branches.items():
                figures = entry["branches"].setdefault(name, {
                    "accuracy": branch.accuracy, "accuracy_source": branch.accuracy_source})
                append_repeat(figures, branch_figures(branch, power))
        print(f"  repeat {repeat + 1}/{args.repeats} done", flush=True)
    results = {**facts(), "runs": args.runs,
               "repeats": args.repeats, "core_classes": topology.classes,
               "power_watts": {c: p.busy for c, p in power.items()}, "models": models}
    print_report(results)
    print(f"raw figures: {write_results(run_dir, results)}")
    return 0


def print_report(results: dict) -> None:
    print(f"# {results['command']}\n# {results['machine']}\n")
    print("| model | branch | class | latency p50 ms | memory MB | accuracy | energy mJ* |")
    print("|---|---|---|---|---|---|---|")
    for model_id, entry in results["models"].items():
        for name, figures in entry["branches"].items():
            for core_class, cost in figures["classes"].items():
                accuracy = "n/a" if figures["accuracy"] is None else f"{figures['accuracy']:.3f}"
                print(f"| {model_id} | {name} | {core_class} | {spread(cost['latency_ms'])} | "
                      f"{spread(figures['memory_mb'])} | {accuracy} | "
                      f"{spread(cost['energy_mj'])} |")
    print("\n* estimate: CPU ms x declared busy watts of the class")


if __name__ == "__main__":
    raise SystemExit(main())
