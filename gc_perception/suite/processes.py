"""Ending processes we started, by PID, and cleaning what Fast DDS leaves behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ESCALATION = ((signal.SIGINT, None), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0))


def stop_processes(popens: Iterable[subprocess.Popen], grace: float = 8.0) -> None:
    """SIGINT each live process (clean ROS shutdown), then SIGTERM, then SIGKILL the lingerers."""
    popens = list(popens)
    for sig, wait_s in ESCALATION:
        live = [p for p in popens if p.poll() is None]
        if not live:
            return
        for popen in live:
            os.kill(popen.pid, sig)
        deadline = time.monotonic() + (grace if wait_s is None else wait_s)
        while any(p.poll() is None for p in live) and time.monotonic() < deadline:
            time.sleep(0.05)


def clean_shared_memory(env: dict[str, str]) -> None:
    """Remove Fast DDS shared-memory files of dead processes (in-use ones are kept)."""
    tool = Path(sys.executable).parent / "fastdds"
    if tool.exists():
        subprocess.run([str(tool), "shm", "clean"], env=env, capture_output=True, timeout=30,
                       check=False)
