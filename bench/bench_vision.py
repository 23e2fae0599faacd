"""Vision benchmark (issue 9, comparisons 1 and 2): the runtime limit per branch, and the CPU
that gating saves on streams with 50/90/99% negatives.

    .venv/bin/python -m bench.bench_vision [--models person_lite0,dog_lite0] [--frames 10]
        [--repeats 3] [--runtime-branches all] [--gating-branches default] [--skip-node]
        [--out DIR]

Frames: the shipped real photos (media/images: '<task>_*' positives, 'empty_*' negatives)
resized to 640x480, the reference camera frame. Few photos repeated: the figures measure cost,
not accuracy. Every figure is taken once per repeat (blocks interleaved over branches), so the
report gives median [min-max] over repeats.
1. runtime, per branch, on a prepared positive tensor (both stages run), per-input wall p50,
   every input after a 70 ms pause (a ~15 Hz stream; the node is fed the same way):
   raw_stage_a   plain onnxruntime session of stage A (the runtime's session options)
   raw_full      plain onnxruntime stage A then stage B: the limit for the full model
   direct        preprocess (640x480 frame) + GatedModel.infer(ungated) in this process
   node          publish sensor_msgs/Image -> ~/detections arrival through a vision_detector
                 process (ungated, so both stages run like raw_full), one frame at a time.
   Node overhead = node - raw_full; its parts come from the detection event's own timings:
   publish (this process's publish() call: the message to C, serialise, shared memory), in
   (publish returned -> the node's worker starts: DDS, take, executor, hand-off), preprocess,
   stage A, stage B, other (decode + GatedModel's stage hand-offs and CPU-clock reads), out
   (event JSON, publish, DDS, the bench's callback).
2. gating: process CPU time per frame (preprocess + stages, all threads) gated, ungated, and
   ideal (stage A only on every frame: the best any gate at this split can do).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from bench.common import append_repeat, facts, open_run, spread, write_results
from gc_perception.gating.gated_model import GatedModel
from gc_perception.gating.image_preprocess import preprocess_image
from gc_perception.gating.manifest import Manifest, read_verified
from gc_perception.gating.stage_executor import session_options
from gc_perception.resources import find_media, find_model_manifest

CAMERA = (640, 480)  # width, height of the reference camera frame
NEGATIVE_SHARES = (0.5, 0.9, 0.99)
GATING_FRAMES = 100  # a 99%-negative stream needs 100 frames for its one positive
NODE_PARTS = ("publish", "in", "preprocess", "stage_a", "stage_b", "other", "out")
INPUT_GAP_S = 0.07  # pause before each timed input (~15 Hz with the work): idle between inputs


def load_frames(task: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Positives and negatives, resized to the reference camera frame."""
    folder = find_media("images")

    def read(pattern: str) -> list[np.ndarray]:
        return [cv2.resize(cv2.imread(str(p)), CAMERA) for p in sorted(folder.glob(pattern))]

    positives, negatives = read(f"{task}_*.jpg"), read("empty_*.jpg")
    if not positives or not negatives:
        raise SystemExit(f"media/images needs {task}_*.jpg and empty_*.jpg")
    return positives, negatives


def prepare(model: GatedModel, frame: np.ndarray) -> np.ndarray:
    size = model.manifest.branches[model.branch].input_shape[2:4]
    return preprocess_image(frame, model.manifest.input, size)


class RawBranch:
    """Plain onnxruntime sessions of one branch: the floor any runtime can reach."""

    def __init__(self, manifest: Manifest, branch: str) -> None:
        spec = manifest.branch(branch)
        self.a, self.b = spec.stage_a, spec.stage_b
        self.session_a, self.session_b = (
            ort.InferenceSession(read_verified(manifest.file_path(s.file), s.sha256),
                                 session_options(1), providers=["CPUExecutionProvider"])
            for s in (self.a, self.b))

    def stage_a(self, tensor: np.ndarray) -> np.ndarray:
        return self.session_a.run([self.a.handoff_output], {self.a.input: tensor})[0]

    def full(self, tensor: np.ndarray) -> np.ndarray:
        return self.session_b.run([self.b.output], {self.b.input: self.stage_a(tensor)})[0]


def wall_ms(call, count: int) -> list[float]:
    """Wall time of `count` calls after one warm-up call, paced like the node's inputs: a
    back-to-back loop keeps caches and the vCPU hot and reads ~1.5 ms faster than any stream."""
    call()
    times = []
    for _ in range(count):
        time.sleep(INPUT_GAP_S)
        started = time.perf_counter()
        call()
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


def gating_block(model: GatedModel, positives, negatives) -> dict[str, dict[str, float]]:
    """One repeat: CPU ms per frame of each mode on each stream."""
    block = {}
    for share in NEGATIVE_SHARES:
        frames = stream(positives, negatives, share, GATING_FRAMES)
        block[share_name(share)] = {mode: cpu_ms_per_frame(model, frames, mode)
                                    for mode in ("gated", "ungated", "ideal")}
    return block


def early_stop_shares(model: GatedModel, positives, negatives) -> dict[str, float]:
    return {share_name(s): float(np.mean([model.infer(prepare(model, f)).early_stopped
                                          for f in stream(positives, negatives, s,
                                                          GATING_FRAMES)]))
            for s in NEGATIVE_SHARES}


def share_name(share: float) -> str:
    return f"{share * 100:g}%"


@dataclass
class NodeSample:
    end_to_end_ms: float
    parts: dict[str, float]


def node_sample(event: dict, sent: float, published: float, arrived: float) -> NodeSample:
    """End-to-end latency and its parts (see the module docstring) from a detection event."""
    latency = event["latency_ms"]
    stages = latency["preprocess"] + latency["stage_a"] + (latency["stage_b"] or 0.0)
    publish_ms = (published - sent) * 1e3
    parts = {"publish": publish_ms, "in": latency["since_stamp"] - latency["total"] - publish_ms,
             "preprocess": latency["preprocess"], "stage_a": latency["stage_a"],
             "stage_b": latency["stage_b"] or 0.0, "other": latency["total"] - stages,
             "out": (arrived - sent) * 1e3 - latency["since_stamp"]}
    return NodeSample((arrived - sent) * 1e3, parts)


class NodeUnderTest:
    """A vision_detector process (ungated, no overlay) fed one frame at a time by this one."""

    def __init__(self, model_arg: str, run_dir) -> None:
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        from gc_perception.nodes.background import BackgroundNode
        from gc_perception.suite.runner import SuiteRunner
        from gc_perception.suite.spec import NodeSpec

        spec = NodeSpec("vision_detector", "bench_detector", "/bench", "vision",
                        {"model": model_arg, "publish_overlay": False, "ungated": True})
        self.fqn = spec.fqn
        self.runner = SuiteRunner([spec], run_dir / f"node-{model_arg}", stream=None,
                                  report=lambda text: None)
        self.probe = BackgroundNode("bench_vision_probe")
        self.events: dict[tuple[int, int], tuple[dict, float]] = {}
        self.arrived = threading.Condition()
        self.probe.node.create_subscription(String, f"{self.fqn}/detections", self._receive, 50)
        self.publisher = self.probe.node.create_publisher(Image, "/bench/image_raw",
                                                          qos_profile_sensor_data)
        self.runner.start()

    def _receive(self, message) -> None:
        arrived = time.time()
        event = json.loads(message.data)
        with self.arrived:
            self.events[(event["stamp"]["sec"], event["stamp"]["nanosec"])] = (event, arrived)
            self.arrived.notify_all()

    def send(self, frame: np.ndarray, timeout: float) -> NodeSample | None:
        """Publish one frame (stamped now) and wait for its detection."""
        from sensor_msgs.msg import Image

        from gc_perception.imaging import encode_raw

        height, width, step, data = encode_raw(frame)
        message = Image(height=height, width=width, encoding="bgr8", step=step, data=data)
        sent = time.time()
        key = (int(sent), int(sent % 1 * 1e9))
        message.header.stamp.sec, message.header.stamp.nanosec = key
        self.publisher.publish(message)
        published = time.time()
        with self.arrived:
            if not self.arrived.wait_for(lambda: key in self.events, timeout):
                return None
            event, arrived = self.events.pop(key)
        return node_sample(event, sent, published, arrived)

    def samples(self, branch: str, frames: list[np.ndarray], count: int) -> list[NodeSample]:
        """`count` samples on `branch`, after warm-up frames (the first run of a session)."""
        results = self.probe.set_parameters(self.fqn, {"branch": branch}, timeout=30.0)
        if not results[0].successful:
            raise RuntimeError(f"branch {branch} refused: {results[0].reason}")
        samples: list[NodeSample] = []
        for index in range(count + 2):
            sample = self.send(frames[index % len(frames)], timeout=10.0)
            if sample is not None and index >= 2:
                samples.append(sample)
            time.sleep(INPUT_GAP_S)
        return samples

    def wait_ready(self, frame: np.ndarray, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.send(frame, timeout=1.0) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("vision_detector never answered; see its log")

    def close(self) -> None:
        self.runner.stop()
        self.probe.close()


def runtime_block(model: GatedModel, raw: RawBranch, positives, count: int) -> dict[str, float]:
    """One repeat of the in-process figures of one branch: per-input wall p50 (ms)."""
    tensor = prepare(model, positives[0])
    frames = iter(positives * count)
    return {"raw_stage_a": float(np.median(wall_ms(lambda: raw.stage_a(tensor), count))),
            "raw_full": float(np.median(wall_ms(lambda: raw.full(tensor), count))),
            "direct": float(np.median(wall_ms(
                lambda: model.infer(prepare(model, next(frames)), gated=False), count)))}


def node_block(samples: list[NodeSample]) -> dict:
    return {"node": float(np.median([s.end_to_end_ms for s in samples])),
            "node_parts": {p: float(np.median([s.parts[p] for s in samples]))
                           for p in NODE_PARTS},
            "node_frames": len(samples)}


def measure_model(model_id: str, args, run_dir) -> dict:
    """Every figure of one model, repeat by repeat over its branches."""
    model = GatedModel(find_model_manifest(model_id))
    manifest = model.manifest
    positives, negatives = load_frames(manifest.task)
    runtime = pick(args.runtime_branches, manifest)
    gating = pick(args.gating_branches, manifest)
    raw = {b: RawBranch(manifest, b) for b in runtime}
    node = None if args.skip_node else NodeUnderTest(model_id, run_dir)
    entry: dict = {"task": manifest.task, "default_branch": manifest.default_branch,
                   "stage_a_mac_share": {b: s.stage_a.macs / (s.stage_a.macs + s.stage_b.macs)
                                         for b, s in manifest.branches.items()},
                   "branches": {b: {} for b in dict.fromkeys([*runtime, *gating])}}
    try:
        if node is not None:
            node.wait_ready(positives[0])
        for repeat in range(args.repeats):
            for branch in entry["branches"]:
                model.set_branch(branch)
                block: dict = {}
                if branch in runtime:
                    block.update(runtime_block(model, raw[branch], positives, args.frames))
                    if node is not None:
                        block.update(node_block(node.samples(branch, positives, args.frames)))
                if branch in gating:
                    block["gating_cpu_ms"] = gating_block(model, positives, negatives)
                append_repeat(entry["branches"][branch], block)
            print(f"  {model_id}: repeat {repeat + 1}/{args.repeats} done", flush=True)
        for branch in gating:
            model.set_branch(branch)
            entry["branches"][branch]["early_stopped_share"] = early_stop_shares(
                model, positives, negatives)
    finally:
        if node is not None:
            node.close()
        model.close()
    return entry


def pick(names: str, manifest: Manifest) -> list[str]:
    """'all', 'default', 'none' or a comma list of branch names."""
    if names == "all":
        return list(manifest.branches)
    if names == "none":
        return []
    chosen = [manifest.default_branch if n == "default" else n for n in names.split(",")]
    for name in chosen:
        manifest.branch(name)  # refuses an unknown name, naming the known ones
    return list(dict.fromkeys(chosen))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="person_lite0,dog_lite0")
    parser.add_argument("--frames", type=int, default=10, help="inputs per runtime block")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runtime-branches", default="all", help="all|default|none|a,b")
    parser.add_argument("--gating-branches", default="default", help="all|default|none|a,b")
    parser.add_argument("--skip-node", action="store_true")
    args, run_dir = open_run("vision", parser, argv)
    results = {**facts(), "frame_size": list(CAMERA),
               "repeats": args.repeats, "frames_per_block": args.frames,
               "gating_frames": GATING_FRAMES, "node_parts": list(NODE_PARTS),
               "models": {m: measure_model(m, args, run_dir) for m in args.models.split(",")}}
    print_report(results)
    print(f"\nraw figures: {write_results(run_dir, results)}")
    return 0


def print_report(results: dict) -> None:
    print(f"# {results['command']}\n# {results['machine']}\n")
    print("| model | branch | raw A ms | raw A+B ms | direct ms | node ms | node - raw A+B ms |")
    print("|---|---|---|---|---|---|---|")
    for model_id, entry in results["models"].items():
        for branch, figures in entry["branches"].items():
            if "raw_full" not in figures:
                continue
            overhead = [n - r for n, r in zip(figures.get("node", []), figures["raw_full"],
                                              strict=False)]
            cells = [spread(figures[k]) if figures.get(k) else "n/a"
                     for k in ("raw_stage_a", "raw_full", "direct", "node")]
            print(f"| {model_id} | {branch} | " + " | ".join(cells)
                  + f" | {spread(overhead) if overhead else 'n/a'} |")
    print("\n| model | branch | stream | CPU ms/frame gated | ungated | ideal (stage A) |")
    print("|---|---|---|---|---|---|")
    for model_id, entry in results["models"].items():
        for branch, figures in entry["branches"].items():
            for share, modes in figures.get("gating_cpu_ms", {}).items():
                print(f"| {model_id} | {branch} | {share} neg | " + " | ".join(
                    spread(modes[m]) for m in ("gated", "ungated", "ideal")) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
