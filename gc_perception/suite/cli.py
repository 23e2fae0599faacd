"""`gc-perception`: run the suite without a ROS 2 distro (no ros2 launch here).

  gc-perception up [--config F] [--namespaces cam_a,cam_b] [--groups vision,monitor]
                   [--video URI] [--audio URI] [--set node.param=value ...] [--duration S]
  gc-perception specs [same selection flags]   # print what `up` (and the launch file) starts
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from gc_perception.suite.runner import SuiteRunner
from gc_perception.suite.spec import (
    NodeSpec,
    SuiteConfigError,
    SuiteOptions,
    suite_options,
    suite_specs,
)


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """'node.param=value' -> (node, param, YAML-typed value)."""
    target, separator, raw = text.partition("=")
    node, dot, param = target.partition(".")
    if not separator or not dot or not node or not param:
        raise argparse.ArgumentTypeError(f"expected node.param=value, got {text!r}")
    return node, param, yaml.safe_load(raw) if raw else ""


def options_from(args: argparse.Namespace) -> SuiteOptions:
    return suite_options(args.namespaces, args.groups, args.video, args.audio, args.set)


def add_selection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="suite YAML (default: the packaged config/suite.yaml)")
    parser.add_argument("--namespaces", default="", help="device namespaces, e.g. cam_a,cam_b")
    parser.add_argument("--groups", default="",
                        help="groups to run: vision,audio,monitor,manager (default: config's)")
    parser.add_argument("--video", help="video file, image folder, device or stream URL")
    parser.add_argument("--audio", help="WAV file or folder of WAV files")
    parser.add_argument("--set", action="append", default=[], type=parse_assignment,
                        metavar="NODE.PARAM=VALUE", help="override one node parameter")


def specs_from(args: argparse.Namespace) -> list[NodeSpec]:
    return suite_specs(args.config, options_from(args))


def command_specs(args: argparse.Namespace) -> int:
    for spec in specs_from(args):
        print(yaml.safe_dump({spec.fqn: {"executable": spec.executable, "group": spec.group,
                                         "parameters": spec.parameters,
                                         "remaps": spec.remaps}}, sort_keys=False).rstrip())
    return 0


def command_up(args: argparse.Namespace) -> int:
    specs = specs_from(args)
    run_dir = Path(args.run_dir or f"runs/up-{time.strftime('%Y%m%d-%H%M%S')}")
    runner = SuiteRunner(specs, run_dir, restart=not args.no_restart)
    runner.report(f"starting {len(specs)} nodes; logs in {run_dir}/logs; Ctrl-C stops")
    runner.run(duration=args.duration)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gc-perception", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the suite's nodes and supervise them")
    add_selection_flags(up)
    up.add_argument("--duration", type=float, help="stop after this many seconds")
    up.add_argument("--no-restart", action="store_true", help="do not restart dead nodes")
    up.add_argument("--run-dir", help="folder for logs and parameter files")
    up.set_defaults(handler=command_up)
    specs = commands.add_parser("specs", help="print the nodes `up` would start")
    add_selection_flags(specs)
    specs.set_defaults(handler=command_specs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (SuiteConfigError, FileNotFoundError) as error:
        print(f"gc-perception: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
