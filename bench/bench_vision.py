"""Vision detector benchmark (issue 4): node latency vs direct calls; CPU per frame gated vs
ungated on streams with 50/90/99% negatives.

    .venv/bin/python -m bench.bench_vision [--model person_lite0] [--frames 60] [--repeats 3]

1. direct: preprocess + GatedModel.infer in a loop, per branch (1 thread per stage), on frames
   that pass the gate (so both stages run): wall latency p50.
2. node: a vision_detector process; this process publishes the same frames as sensor_msgs/Image
   at 4 Hz (no drops) and times publish -> detection arrival (header stamp to receipt).
   Overhead = node p50 - direct p50 (decode, preprocessing, DDS both ways, JSON).
3. gating: process CPU time per frame (preprocess + both stages, all threads) on streams of
   shipped real photos (media/images: '<task>_*' positives, 'empty_*' negatives) with 50, 90
   and 99% negatives, gated vs ungated, and the ideal (stage A alone on every frame).
Media are few real photos repeated: the figures measure cost, not accuracy.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from bench.common import bench_environment, command_line, machine, run_folder, spread
from gc_perception.gating.gated_model import GatedModel
from gc_perception.gating.image_preprocess import preprocess_image
from gc_perception.resources import find_media, find_model_manifest

NEGATIVE_SHARES = (0.5, 0.9, 0.99)


def load_frames(task: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    folder = find_media("images")
    positives = [cv2.imread(str(p)) for p in sorted(folder.glob(f"{task}_*.jpg"))]
    negatives = [cv2.imread(str(p)) for p in sorted(folder.glob("empty_*.jpg"))]
    if not positives or not negatives:
        raise SystemExit(f"media/images needs {task}_*.jpg and empty_*.jpg")
    return positives, negatives


def prepare(model: GatedModel, frame: np.ndarray) -> np.ndarray:
    size = model.manifest.branches[model.branch].input_shape[2:4]
    return preprocess_image(frame, model.manifest.input, size)


def direct_latency_ms(model: GatedModel, frames: list[np.ndarray], count: int) -> list[float]:
    times = []
    for index in range(count):
        started = time.perf_counter()
        model.infer(prepare(model, frames[index % len(frames)]), gated=False)
        times.append((time.perf_counter() - started) * 1e3)
    return times


def stream(positives, negatives, negative_share: float, length: int) -> list[np.ndarray]:
    """`length` frames, exactly round(length x share) of them negatives, positives spread out."""
    n_positive = max(1, round(length * (1 - negative_share)))
    every = length / n_positive
    positive_at = {int(i * every) for i in range(n_positive)}
    return [positives[i % len(positives)] if i in positive_at else negatives[i % len(negatives)]
            for i in range(length)]


def cpu_ms_per_frame(model: GatedModel, frames: list[np.ndarray], mode: str) -> float:
    """Process CPU time per frame: 'gated', 'ungated', or 'ideal' (stage A only)."""
    threshold = 1.0 if mode == "ideal" else None  # stop after stage A (unless a score is 1.0)
    started = time.process_time()
    for frame in frames:
        model.infer(prepare(model, frame), gated=mode != "ungated", gate_threshold=threshold)
    return (time.process_time() - started) * 1e3 / len(frames)


def gating_figures(model, positives, negatives, frames: int, repeats: int) -> dict:
    figures = {}
    for share in NEGATIVE_SHARES:
        frames_list = stream(positives, negatives, share, max(frames, 100))
        runs = {mode: [cpu_ms_per_frame(model, frames_list, mode) for _ in range(repeats)]
                for mode in ("gated", "ungated", "ideal")}
        stops = [model.infer(prepare(model, f)).early_stopped for f in frames_list]
        figures[f"{int(share * 100)}%"] = {
            **{mode: float(np.median(v)) for mode, v in runs.items()},
            "spread": {mode: spread(v) for mode, v in runs.items()},
            "ratio_gated_ungated": float(np.median(runs["gated"]) / np.median(runs["ungated"])),
            "early_stopped_share": float(np.mean(stops)),
        }
    return figures


def node_latency_ms(model_arg: str, branch: str, frames, count: int, run_dir: Path) -> list[float]:
    """publish -> detection arrival through a vision_detector process."""
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from gc_perception.imaging import encode_raw
    from gc_perception.nodes.background import BackgroundNode
    from gc_perception.suite.runner import SuiteRunner
    from gc_perception.suite.spec import NodeSpec

    spec = NodeSpec("vision_detector", "bench_detector", "/bench", "vision",
                    {"model": model_arg, "branch": branch, "publish_overlay": False})
    runner = SuiteRunner([spec], run_dir / f"node-{branch}", stream=None, report=lambda t: None)
    probe = BackgroundNode("bench_vision_probe")
    arrivals: dict[tuple[int, int], float] = {}
    arrived = threading.Condition()

    def on_detection(message) -> None:
        stamp = json.loads(message.data)["stamp"]
        with arrived:
            arrivals[(stamp["sec"], stamp["nanosec"])] = time.time()
            arrived.notify_all()

    probe.node.create_subscription(String, "/bench/bench_detector/detections", on_detection, 50)
    publisher = probe.node.create_publisher(Image, "/bench/image_raw", qos_profile_sensor_data)
    runner.start()
    latencies: list[float] = []
    try:
        warm = 0
        while len(latencies) < count and warm < count + 40:
            frame = frames[warm % len(frames)]
            height, width, step, data = encode_raw(frame)
            message = Image(height=height, width=width, encoding="bgr8", step=step, data=data)
            sent = time.time()
            message.header.stamp.sec, message.header.stamp.nanosec = int(sent), int(sent % 1 * 1e9)
            key = (message.header.stamp.sec, message.header.stamp.nanosec)
            publisher.publish(message)
            with arrived:
                arrived.wait_for(lambda k=key: k in arrivals, timeout=3.0 if warm < 10 else 1.0)
            if key in arrivals:
                latencies.append((arrivals[key] - sent) * 1e3)
            warm += 1
            time.sleep(0.25)
    finally:
        runner.stop()
        probe.close()
    return latencies[2:]  # the first frames include discovery and session warm-up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="person_lite0")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-node", action="store_true")
    args = parser.parse_args(argv)
    run_dir = run_folder("vision")
    bench_environment(run_dir)
    manifest_path = find_model_manifest(args.model)
    model = GatedModel(manifest_path)
    positives, negatives = load_frames(model.manifest.task)
    results: dict = {"command": command_line(), "machine": machine(), "model": args.model,
                     "branches": {}}
    for branch in model.manifest.branches:
        model.set_branch(branch)
        direct = direct_latency_ms(model, positives, args.frames)
        entry = {"direct_ms_p50": float(np.median(direct)),
                 "direct_ms_p95": float(np.percentile(direct, 95)),
                 "gating_cpu_ms_per_frame": gating_figures(model, positives, negatives,
                                                           args.frames, args.repeats)}
        if not args.skip_node:
            node = node_latency_ms(args.model, branch, positives, args.frames // 2, run_dir)
            entry.update(node_ms_p50=float(np.median(node)), node_ms_p95=float(
                np.percentile(node, 95)), node_frames=len(node))
            entry["node_overhead_ms_p50"] = entry["node_ms_p50"] - entry["direct_ms_p50"]
        results["branches"][branch] = entry
    model.close()
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    print_report(results)
    print(f"\nraw figures: {run_dir / 'results.json'}")
    return 0


def print_report(results: dict) -> None:
    print(f"# {results['command']}\n# {results['machine']}\n")
    print("| branch | direct p50 ms | node p50 ms | node overhead ms | "
          + " | ".join(f"CPU ms/frame gated/ungated/ideal @{s} neg (ratio)"
                       for s in ("50%", "90%", "99%")) + " |")
    print("|" + "---|" * 7)
    for branch, entry in results["branches"].items():
        cells = [branch, f"{entry['direct_ms_p50']:.1f}",
                 f"{entry.get('node_ms_p50', float('nan')):.1f}",
                 f"{entry.get('node_overhead_ms_p50', float('nan')):.1f}"]
        for share in ("50%", "90%", "99%"):
            g = entry["gating_cpu_ms_per_frame"][share]
            cells.append(f"{g['gated']:.1f}/{g['ungated']:.1f}/{g['ideal']:.1f} "
                         f"({g['ratio_gated_ungated']:.2f})")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
