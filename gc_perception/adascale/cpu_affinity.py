"""CPU sets, thread placement and per-thread CPU time, read from and written to Linux /proc.

Limits (Linux only):
- Affinity is a placement hint the kernel honours: a pinned thread runs only on its CPUs, but
  other processes still share those cores, so pinning reserves nothing.
- On a homogeneous machine (such as a 2-core VM) nothing makes CPU 0 a "low-power" core: the
  core classes are declared by configuration (config/device.yaml), not detected.
- Thread ids (TIDs) are the kernel's, as in /proc/self/task, not Python's thread idents.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

PROC_TASKS = Path("/proc/self/task")
_CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def available_cpus() -> frozenset[int]:
    """CPUs this process may run on: the main thread's affinity (never narrowed by this package)."""
    return frozenset(os.sched_getaffinity(os.getpid()))


def parse_cpu_list(text: str) -> frozenset[int]:
    """Parse a Linux CPU list such as "0-1,3"; "" or "all" means every available CPU.

    Raises ValueError for malformed text and for CPUs this process cannot use.
    """
    text = text.strip()
    if text.lower() in ("", "all"):
        return available_cpus()
    cpus = cpu_ids(text)
    missing = cpus - available_cpus()
    if missing:
        raise ValueError(
            f"CPU list {text!r} names CPUs not available to this process: "
            f"{format_cpu_list(missing)} (available: {format_cpu_list(available_cpus())})"
        )
    return cpus


def cpu_ids(text: str) -> frozenset[int]:
    """The CPUs a kernel CPU list names ("0-1,3"), unchecked (also for sysfs lists of any CPU)."""
    cpus: set[int] = set()
    for part in text.split(","):
        cpus.update(_parse_cpu_range(part.strip(), text))
    return frozenset(cpus)


def _parse_cpu_range(part: str, whole: str) -> range:
    first, sep, last = part.partition("-")
    if not (first.isdecimal() and (not sep or last.isdecimal())):
        raise ValueError(f"bad CPU list {whole!r}: expected e.g. '0-1,3', got part {part!r}")
    low, high = int(first), int(last) if sep else int(first)
    if high < low:
        raise ValueError(f"bad CPU list {whole!r}: range {part!r} runs backwards")
    return range(low, high + 1)


def format_cpu_list(cpus: Iterable[int]) -> str:
    """The Linux CPU-list text of a set of CPUs, ranges collapsed: {0, 1, 3} -> "0-1,3"."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    start = 0
    for i, cpu in enumerate(ordered):
        if i + 1 == len(ordered) or ordered[i + 1] != cpu + 1:
            first = ordered[start]
            parts.append(str(first) if first == cpu else f"{first}-{cpu}")
            start = i + 1
    return ",".join(parts)


def thread_ids() -> frozenset[int]:
    """Kernel TIDs of every thread of this process right now."""
    return frozenset(int(name) for name in os.listdir(PROC_TASKS))


def set_thread_affinity(tids: Iterable[int], cpus: Iterable[int]) -> None:
    """Pin each thread to `cpus`; threads that have exited meanwhile are skipped."""
    cpus = frozenset(cpus)
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpus)
        except ProcessLookupError:
            continue


def threads_cpu_ns(tids: Iterable[int]) -> int:
    """Total CPU time the given threads of this process have run, in ns (exited threads: 0)."""
    return sum(thread_cpu_ns(tid) for tid in tids)


def thread_cpu_ns(tid: int) -> int:
    """CPU time one thread of this process has run, in ns; 0 once it has exited.

    Reads the thread's CPU clock, which brings the kernel's run-time counter up to date: the
    same counter in /proc/self/task/<tid>/schedstat is refreshed only at scheduler ticks for a
    running thread (a 0.3 ms busy stretch can read as 0 or 3 ms). Falls back to schedstat, then
    to utime+stime of /proc/self/task/<tid>/stat (clock ticks, 10 ms typically), on kernels
    without per-thread CPU clocks or schedstats.
    """
    for reader in (_cpu_clock_ns, _schedstat_ns, _stat_ns):
        try:
            return reader(tid)
        except OSError:
            continue
    return 0


def _cpu_clock_ns(tid: int) -> int:
    # Linux clockid of a thread's CPU clock: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED).
    return time.clock_gettime_ns((~tid << 3) | 6)


def _schedstat_ns(tid: int) -> int:
    return int((PROC_TASKS / str(tid) / "schedstat").read_text().split()[0])


def _stat_ns(tid: int) -> int:
    text = (PROC_TASKS / str(tid) / "stat").read_text()
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = text.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1_000_000_000 // _CLOCK_TICKS_PER_S
