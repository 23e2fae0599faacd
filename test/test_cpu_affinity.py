"""CPU lists, thread placement (read back from /proc) and per-thread CPU time."""

import os
import threading
import time

import pytest
from tiny_gated_model import cpus_allowed_list, wait_for

from gc_perception.adascale import cpu_affinity
from gc_perception.adascale.cpu_affinity import (
    available_cpus,
    cpu_ids,
    format_cpu_list,
    parse_cpu_list,
    set_thread_affinity,
    thread_cpu_ns,
    thread_ids,
    threads_cpu_ns,
)

needs_two_cpus = pytest.mark.skipif(
    not {0, 1} <= available_cpus(), reason="needs CPUs 0 and 1"
)


@pytest.fixture
def eight_cpus(monkeypatch):
    monkeypatch.setattr(cpu_affinity, "available_cpus", lambda: frozenset(range(8)))


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0-1,3", {0, 1, 3}), (" 2 ", {2}), ("0,0-2", {0, 1, 2}), ("7", {7}), ("4-4", {4})],
)
def test_parse_cpu_list(eight_cpus, text, cpus):
    assert parse_cpu_list(text) == frozenset(cpus)


@pytest.mark.parametrize("text", ["", "all", "ALL", "  "])
def test_parse_all(eight_cpus, text):
    assert parse_cpu_list(text) == frozenset(range(8))


@pytest.mark.parametrize("text", ["a", "1-", "-1", "3-1", "1,,2", "0.5", "1-2-3"])
def test_parse_rejects_junk(eight_cpus, text):
    with pytest.raises(ValueError, match="CPU list"):
        parse_cpu_list(text)


def test_cpu_ids_are_not_checked_against_this_process():
    assert cpu_ids("0-3,64") == frozenset({0, 1, 2, 3, 64})


def test_parse_rejects_cpus_not_present():
    absent = max(available_cpus()) + 1
    with pytest.raises(ValueError, match="not available"):
        parse_cpu_list(f"0,{absent}")


@pytest.mark.parametrize(
    ("cpus", "text"), [({0, 1, 3}, "0-1,3"), ({5}, "5"), (set(), ""), ({0, 2, 3, 4, 7}, "0,2-4,7")]
)
def test_format_cpu_list(eight_cpus, cpus, text):
    assert format_cpu_list(cpus) == text
    if cpus:
        assert parse_cpu_list(text) == frozenset(cpus)


def test_available_cpus_is_the_process_affinity():
    assert available_cpus() == frozenset(os.sched_getaffinity(os.getpid()))


@pytest.fixture
def parked_thread():
    """A thread that waits until the test ends; yields its kernel TID."""
    started, done = threading.Event(), threading.Event()
    tid: list[int] = []

    def park():
        tid.append(threading.get_native_id())
        started.set()
        done.wait(10)

    thread = threading.Thread(target=park)
    thread.start()
    assert started.wait(5)
    yield tid[0]
    done.set()
    thread.join(5)


def test_thread_ids_lists_threads(parked_thread):
    assert {threading.get_native_id(), parked_thread} <= thread_ids()


@needs_two_cpus
def test_set_thread_affinity_moves_a_thread(parked_thread):
    set_thread_affinity([parked_thread], {0})
    assert cpus_allowed_list(parked_thread) == "0"
    set_thread_affinity([parked_thread], {1})
    assert cpus_allowed_list(parked_thread) == "1"
    assert cpus_allowed_list(threading.get_native_id()) == format_cpu_list(available_cpus())


def _exited_thread_id() -> int:
    """TID of a thread that has run and is gone from /proc/self/task."""
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join(5)
    # The kernel drops the thread from /proc just after Python's join returns.
    assert wait_for(lambda: thread.native_id not in thread_ids())
    return thread.native_id


def test_set_thread_affinity_skips_exited_threads():
    set_thread_affinity([_exited_thread_id()], available_cpus())


def _burn_cpu_ms(ms: float) -> None:
    """Busy until this thread has used `ms` of CPU (bounded by a wall-clock deadline)."""
    start, deadline = time.thread_time_ns(), time.monotonic() + 5
    while time.thread_time_ns() - start < ms * 1e6 and time.monotonic() < deadline:
        pass


def test_thread_cpu_time_counts_work():
    me = threading.get_native_id()
    before = threads_cpu_ns([me])
    _burn_cpu_ms(3)
    used = threads_cpu_ns([me]) - before
    assert 3e6 <= used < 50e6


def test_thread_cpu_time_falls_back_to_schedstat_then_stat(monkeypatch):
    me = threading.get_native_id()

    def unavailable(tid):
        raise FileNotFoundError(tid)

    exact = thread_cpu_ns(me)
    monkeypatch.setattr(cpu_affinity, "_cpu_clock_ns", unavailable)
    from_schedstat = thread_cpu_ns(me)
    monkeypatch.setattr(cpu_affinity, "_schedstat_ns", unavailable)
    from_stat = thread_cpu_ns(me)
    tick_ns = 1e9 / os.sysconf("SC_CLK_TCK")
    assert abs(from_schedstat - exact) < 20e6
    assert abs(from_stat - exact) < 2 * tick_ns + 20e6


def test_exited_thread_has_no_cpu_time():
    assert threads_cpu_ns([_exited_thread_id()]) == 0
