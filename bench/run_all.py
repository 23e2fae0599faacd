"""Every benchmark comparison in one session, then the report (issue 9). `make bench` runs this.

    .venv/bin/python -m bench.run_all [--quick] [--skip-adascale] [--only vision,audio] [--out DIR]
    .venv/bin/python -m bench.run_all --render-only [--out DIR]   # after a change to bench.report

Each bench runs as its own process (one after another, so they never compete for the 2 cores),
with --out pointing into runs/bench/all-<stamp>/<bench>/ (results.json + log.txt). Then
bench.report turns their results into DIR/REPORT.md, DIR/report.json (every raw figure + the
run's facts) and DIR/*.png; DIR defaults to bench/results for a full run and to the run folder
for --quick (short runs for development, never the committed figures). A bench that fails or
times out is reported as such; the others still run. Budget: under 15 min on a 2-core VM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import command_line, machine
from bench.report import render_report
from gc_perception import ros_env

RESULTS = Path(__file__).resolve().parent / "results"
ADASCALE_PLOT = "adascale_eval_timeline.png"
ADASCALE_FILES = ("adascale_eval.md", ADASCALE_PLOT)
STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class Bench:
    name: str
    module: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    timeout_s: float = 420.0


BENCHES = (
    Bench("vision", "bench.bench_vision", ("--frames", "8", "--repeats", "3"),
          ("--frames", "4", "--repeats", "2", "--runtime-branches", "default")),
    Bench("audio", "bench.bench_audio", ("--repeats", "2", "--skip-node"),
          ("--repeats", "2", "--backgrounds", "quiet", "--skip-node")),
    Bench("branches", "bench.bench_branches", ("--runs", "15", "--repeats", "3"),
          ("--runs", "3", "--repeats", "2")),
    Bench("transport", "bench.bench_transport", ("--seconds", "3", "--repeats", "2"),
          ("--seconds", "1", "--repeats", "2")),
    Bench("footprint", "bench.bench_footprint",
          ("--seconds", "3", "--windows", "3", "--repeats", "2"),
          ("--seconds", "2", "--windows", "2", "--repeats", "1")),
    Bench("resource_monitor", "bench.bench_resource_monitor", ("--seconds", "4", "--repeats", "3"),
          ("--seconds", "2", "--repeats", "2")),
    Bench("adascale", "bench.adascale_eval", (), ("--phase-s", "4", "--static-phase-s", "3"),
          timeout_s=600.0),
)


def run_bench(bench: Bench, quick: bool, folder: Path) -> dict:
    """Run one bench into `folder`; its facts (status, seconds, command) for the report."""
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", bench.module, *(bench.quick if quick else bench.full),
            "--out", str(folder)]
    env = dict(os.environ)
    ros_env.configure(env)  # the benches set their own domain; never a ROS process without this
    started = time.monotonic()
    with (folder / "log.txt").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            code = process.wait(bench.timeout_s)
            status = "ok" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            stop(process)
            status = f"timed out after {bench.timeout_s:g} s"
    if status == "ok" and not (folder / "results.json").exists():
        status = "no results.json"
    command = " ".join([".venv/bin/python -m", bench.module, *(bench.quick if quick else
                                                              bench.full)])
    return {"status": status, "duration_s": round(time.monotonic() - started, 1),
            "command": command, "log": str(folder / "log.txt")}


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C first, so the bench stops the nodes it started (by PID) itself; then kill it."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def collect(folder: Path) -> dict | None:
    path = folder / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs, for development")
    parser.add_argument("--skip-adascale", action="store_true")
    parser.add_argument("--only", default="", help="comma list of benches "
                        f"({', '.join(b.name for b in BENCHES)}); default: all")
    parser.add_argument("--out", default="", help="where the report goes (default: "
                        "bench/results, or the run folder with --quick)")
    parser.add_argument("--render-only", action="store_true", help="run nothing: write "
                        "REPORT.md and the plots again from OUT/report.json")
    return parser.parse_args(argv)


def chosen(args: argparse.Namespace) -> list[Bench]:
    names = set(args.only.split(",")) if args.only else {b.name for b in BENCHES}
    unknown = names - {b.name for b in BENCHES}
    if unknown:
        raise SystemExit(f"unknown bench(es) {sorted(unknown)}")
    return [b for b in BENCHES if b.name in names
            and not (b.name == "adascale" and args.skip_adascale)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render_only:
        out = Path(args.out) if args.out else RESULTS
        write_report(json.loads((out / "report.json").read_text()), out)
        print(f"report: {out / 'REPORT.md'} (from {out / 'report.json'})")
        return 0
    started, started_at = time.monotonic(), time.strftime("%Y-%m-%d %H:%M %Z")
    run_dir = Path("runs") / "bench" / f"all-{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(args.out) if args.out else (run_dir if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    command = f"make bench ({command_line()})" if "MAKELEVEL" in os.environ else command_line()
    meta = {"command": command, "machine": machine(), "started": started_at,
            "load_average": list(os.getloadavg()), "quick": args.quick, "benches": {}}
    results = {}
    benches = chosen(args)
    for index, bench in enumerate(benches, 1):
        print(f"[{index}/{len(benches)}] {bench.name} ...", flush=True)
        meta["benches"][bench.name] = run_bench(bench, args.quick, run_dir / bench.name)
        results[bench.name] = collect(run_dir / bench.name)
        print(f"    {meta['benches'][bench.name]['status']} in "
              f"{meta['benches'][bench.name]['duration_s']:.0f} s", flush=True)
    copy_adascale_files(run_dir / "adascale", out)
    meta["duration_s"] = round(time.monotonic() - started, 1)
    write_report({"schema": "gc_perception.bench_report", "schema_version": 1, "meta": meta,
                  "results": results}, out)
    print(f"report: {out / 'REPORT.md'} ({meta['duration_s'] / 60:.1f} min); runs: {run_dir}")
    return 0 if all(b["status"] == "ok" for b in meta["benches"].values()) else 1


def copy_adascale_files(source: Path, out: Path) -> None:
    """The AdaScale bench's own report and timeline sit beside REPORT.md, from the same run."""
    for name in ADASCALE_FILES:
        if (source / name).exists() and source.resolve() != out.resolve():
            shutil.copy2(source / name, out / name)


def write_report(report: dict, out: Path) -> None:
    from bench.report_plots import write_plots

    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    plots = write_plots(report, out) + ([ADASCALE_PLOT] if (out / ADASCALE_PLOT).exists() else [])
    (out / "REPORT.md").write_text(render_report(report, plots))


if __name__ == "__main__":
    raise SystemExit(main())
