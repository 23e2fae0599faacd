"""Image transport (issue 9, comparison 4): end-to-end latency and achieved rate of
camera_source -> another process, at 640x480 and 1280x720, 15 and 30 Hz, Image vs
CompressedImage (JPEG 90).

    .venv/bin/python -m bench.bench_transport [--seconds 8] [--repeats 2]

camera_source plays a generated video (moving gradient, so JPEG sizes are realistic); this
process subscribes (best effort, like the detectors) and measures header stamp -> arrival
(includes encoding for CompressedImage) and the achieved rate over the window.
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

SIZES = ((640, 480), (1280, 720))
RATES = (15.0, 30.0)


def make_video(path: Path, width: int, height: int, frames: int = 60) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (width, height))
    x = np.linspace(0, 255, width, dtype=np.float32)
    for index in range(frames):
        row = ((x + index * 8) % 256).astype(np.uint8)
        frame = np.dstack([np.tile(row, (height, 1))] * 3)
        cv2.circle(frame, (index * 10 % width, height // 2), height // 6, (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def measure(video: Path, rate: float, compressed: bool, seconds: float, run_dir: Path) -> dict:
    from rclpy.qos import qos_profile_sensor_data
    from rclpy.time import Time
    from sensor_msgs.msg import CompressedImage, Image

    from gc_perception.nodes.background import BackgroundNode
    from gc_perception.suite.runner import SuiteRunner
    from gc_perception.suite.spec import NodeSpec

    spec = NodeSpec("camera_source", "bench_camera", "/bench", "vision", {
        "source": str(video), "fps": rate, "loop": True,
        "publish_raw": not compressed, "publish_compressed": compressed})
    runner = SuiteRunner([spec], run_dir / video.stem, stream=None, report=lambda t: None)
    probe = BackgroundNode("bench_transport_probe")
    latencies: list[float] = []
    arrivals: list[float] = []
    lock = threading.Lock()

    def receive(message) -> None:
        now = probe.node.get_clock().now()
        with lock:
            latencies.append((now - Time.from_msg(message.header.stamp)).nanoseconds / 1e6)
            arrivals.append(time.monotonic())

    kind, topic = ((CompressedImage, "/bench/image_raw/compressed") if compressed
                   else (Image, "/bench/image_raw"))
    probe.node.create_subscription(kind, topic, receive, qos_profile_sensor_data)
    runner.start()
    try:
        deadline = time.monotonic() + 20.0
        while not arrivals and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # settle after discovery
        with lock:
            latencies.clear()
            arrivals.clear()
        time.sleep(seconds)
        with lock:
            window = list(latencies), list(arrivals)
    finally:
        runner.stop()
        probe.close()
    lat, arr = window
    achieved = (len(arr) - 1) / (arr[-1] - arr[0]) if len(arr) > 1 else 0.0
    return {"latency_ms_p50": float(np.median(lat)) if lat else None,
            "latency_ms_p95": float(np.percentile(lat, 95)) if lat else None,
            "achieved_hz": achieved, "received": len(lat)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    run_dir = run_folder("transport")
    bench_environment(run_dir)
    rows = []
    for width, height in SIZES:
        video = make_video(run_dir / f"gradient_{width}x{height}.avi", width, height)
        for rate in RATES:
            for compressed in (False, True):
                runs = [measure(video, rate, compressed, args.seconds, run_dir)
                        for _ in range(args.repeats)]
                rows.append({"size": f"{width}x{height}", "target_hz": rate,
                             "transport": "CompressedImage" if compressed else "Image",
                             "runs": runs})
    results = {"command": command_line(), "machine": machine(), "rows": rows}
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    print(f"# {results['command']}\n# {results['machine']}\n")
    print("| size | target Hz | transport | latency p50 ms | latency p95 ms | achieved Hz |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        runs = row["runs"]
        p50 = [r["latency_ms_p50"] for r in runs if r["latency_ms_p50"] is not None]
        p95 = [r["latency_ms_p95"] for r in runs if r["latency_ms_p95"] is not None]
        print(f"| {row['size']} | {row['target_hz']:.0f} | {row['transport']} | "
              f"{spread(p50) if p50 else 'n/a'} | {spread(p95) if p95 else 'n/a'} | "
              f"{spread([r['achieved_hz'] for r in runs])} |")
    print(f"\nmedian [min-max] over {args.repeats} runs; raw figures: {run_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
