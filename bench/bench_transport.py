"""Image transport (issue 9, comparison 4): end-to-end latency and achieved rate of
camera_source -> another process, at 640x480 and 1280x720, 15 and 30 Hz, Image vs
CompressedImage (JPEG 90).

    .venv/bin/python -m bench.bench_transport [--seconds 8] [--repeats 2] [--out DIR]

camera_source plays a generated video (moving gradient, so JPEG sizes are realistic), one
process per size switched between rates and transports through its parameters; this process
subscribes (best effort, like the detectors) and measures header stamp -> arrival (includes
encoding for CompressedImage) and the achieved rate over each window of --seconds.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from bench.common import facts, open_run, spread, write_results

SIZES = ((640, 480), (1280, 720))
RATES = (15.0, 30.0)
SETTLE_S = 1.0  # after a switch: the new rate's timer and the other transport's first frames


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


class Camera:
    """One camera_source process per frame size, switched between rates and transports through
    its parameters (no restart per configuration), and this process's subscribers."""

    def __init__(self, video: Path, run_dir: Path) -> None:
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import CompressedImage, Image

        from gc_perception.nodes.background import BackgroundNode
        from gc_perception.suite.runner import SuiteRunner
        from gc_perception.suite.spec import NodeSpec

        spec = NodeSpec("camera_source", "bench_camera", "/bench", "vision", {
            "source": str(video), "fps": RATES[0], "loop": True, "publish_raw": True,
            "publish_compressed": False})
        self.fqn = spec.fqn
        self.runner = SuiteRunner([spec], run_dir / video.stem, stream=None,
                                  report=lambda text: None)
        self.probe = BackgroundNode("bench_transport_probe")
        self.lock = threading.Lock()
        self.received: list[tuple[float, float]] = []  # (latency ms, arrival monotonic s)
        for kind, topic in ((Image, "/bench/image_raw"),
                            (CompressedImage, "/bench/image_raw/compressed")):
            self.probe.node.create_subscription(kind, topic, self._receive,
                                                qos_profile_sensor_data)
        self.runner.start()
        self._wait_first(timeout=30.0)

    def _receive(self, message) -> None:
        from rclpy.time import Time

        now = self.probe.node.get_clock().now()
        with self.lock:
            self.received.append(((now - Time.from_msg(message.header.stamp)).nanoseconds / 1e6,
                                  time.monotonic()))

    def _wait_first(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.received:
            if time.monotonic() > deadline:
                raise RuntimeError("camera_source sent nothing; see its log")
            time.sleep(0.05)

    def measure(self, rate: float, compressed: bool, seconds: float) -> dict:
        """Switch to `rate` and one transport, settle, then time a window of `seconds`."""
        results = self.probe.set_parameters(self.fqn, {
            "fps": rate, "publish_raw": not compressed, "publish_compressed": compressed})
        if not all(r.successful for r in results):
            raise RuntimeError(f"camera_source refused: {[r.reason for r in results]}")
        time.sleep(SETTLE_S)
        with self.lock:
            self.received.clear()
        time.sleep(seconds)
        with self.lock:
            window = list(self.received)
        latencies = [latency for latency, _ in window]
        arrivals = [arrival for _, arrival in window]
        achieved = ((len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1
                    else 0.0)
        return {"latency_ms_p50": float(np.median(latencies)) if latencies else None,
                "latency_ms_p95": float(np.percentile(latencies, 95)) if latencies else None,
                "achieved_hz": achieved, "received": len(latencies)}

    def close(self) -> None:
        self.runner.stop()
        self.probe.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=2)
    args, run_dir = open_run("transport", parser, argv)
    rows = []
    for width, height in SIZES:
        camera = Camera(make_video(run_dir / f"gradient_{width}x{height}.avi", width, height),
                        run_dir)
        try:
            size_rows = {(rate, compressed): {
                "size": f"{width}x{height}", "target_hz": rate,
                "transport": "CompressedImage" if compressed else "Image", "runs": []}
                for rate in RATES for compressed in (False, True)}
            for _ in range(args.repeats):  # repeats spread over time, not back to back
                for (rate, compressed), row in size_rows.items():
                    row["runs"].append(camera.measure(rate, compressed, args.seconds))
        finally:
            camera.close()
        rows += size_rows.values()
    results = {**facts(), "seconds": args.seconds,
               "repeats": args.repeats, "rows": rows}
    path = write_results(run_dir, results)
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
    print(f"\nmedian [min-max] over {args.repeats} runs; raw figures: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
