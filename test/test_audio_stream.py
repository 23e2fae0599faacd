"""WindowedStream (every hop, any chunk size, stamps, overflow), energy_dbfs, LossCounter."""

import threading

import numpy as np
import pytest

from gc_perception.gating.audio_stream import (
    LossCounter,
    WindowedStream,
    energy_dbfs,
    peak_block_dbfs,
)


def ramp(start: int, size: int) -> np.ndarray:
    return (np.arange(start, start + size) % 30000).astype(np.int16)


def drain(stream: WindowedStream) -> list:
    windows = []
    while (window := stream.take(timeout=0)) is not None:
        windows.append(window)
    return windows


@pytest.mark.parametrize("chunk", [1, 7, 100, 160, 999])
def test_every_hop_is_windowed_whatever_the_chunk_size(chunk):
    stream = WindowedStream(window=400, hop=100, max_backlog=10_000, sample_rate=1000)
    total, windows = 2000, []
    for start in range(0, total, chunk):
        stream.push(ramp(start, min(chunk, total - start)))
        windows += drain(stream)
    assert [w.start for w in windows] == list(range(0, total - 400 + 1, 100))
    for window in windows:
        assert np.array_equal(window.samples, ramp(window.start, 400))
    assert stream.dropped == 0 and stream.backlog == 0


def test_window_stamp_is_the_time_of_its_last_sample():
    stream = WindowedStream(window=250, hop=250, max_backlog=1000, sample_rate=1000)
    stream.push(ramp(0, 100), stamp_ns=10_000_000_000)  # last sample (index 99) at t = 10 s
    stream.push(ramp(100, 300), stamp_ns=10_300_000_000)  # index 399 at 10.3 s
    window = stream.take(timeout=0)
    assert window.start == 0 and window.stamp_ns == 10_300_000_000 - 150_000_000
    assert window.behind == 150


def test_a_consumer_that_falls_behind_loses_whole_hops_counted():
    stream = WindowedStream(window=100, hop=50, max_backlog=200, sample_rate=1000)
    stream.push(ramp(0, 1000))
    windows = drain(stream)
    assert stream.dropped == 700 and windows[0].start == 700
    assert [w.start for w in windows] == [700, 750, 800, 850, 900]
    assert stream.max_behind == 200


def test_take_waits_for_audio_from_another_thread_and_close_releases_it():
    stream = WindowedStream(window=10, hop=10, max_backlog=100, sample_rate=1000)
    pusher = threading.Timer(0.05, lambda: stream.push(ramp(0, 10)))
    pusher.start()
    assert stream.take(timeout=5.0).start == 0
    threading.Timer(0.05, stream.close).start()
    assert stream.take(timeout=5.0) is None


def test_clear_and_reconfigure_keep_positions_counting():
    stream = WindowedStream(window=100, hop=100, max_backlog=1000, sample_rate=1000)
    stream.push(ramp(0, 150))
    stream.clear()
    stream.configure(window=50, hop=25, max_backlog=1000)
    stream.push(ramp(150, 100))
    assert [w.start for w in drain(stream)] == [150, 175, 200]
    with pytest.raises(ValueError):
        stream.configure(window=0, hop=1, max_backlog=0)


def test_energy_in_dbfs():
    t = np.arange(16000) / 16000
    sine = np.round(32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    assert energy_dbfs(sine) == pytest.approx(-3.01, abs=0.05)
    assert energy_dbfs((sine / 100).astype(np.int16)) == pytest.approx(-43.0, abs=0.2)
    assert energy_dbfs(np.zeros(100, np.int16)) == float("-inf")
    assert energy_dbfs(np.zeros(0, np.int16)) == float("-inf")


def test_loss_counter_counts_gaps_per_publisher_not_restarts():
    counter = LossCounter()
    assert [counter.see(b"a", n) for n in (1, 2, 5, 6)] == [0, 0, 2, 0]
    assert counter.see(b"b", 1) == 0 and counter.see(b"a", 1) == 0  # other publisher; restart
    assert counter.see(b"a", None) == 0
    assert counter.lost == 2


def test_peak_block_level_finds_a_short_loud_stretch_at_the_newest_end():
    quiet = np.full(1000, 10, np.int16)
    loud_tail = quiet.copy()
    loud_tail[-100:] = 10000
    assert peak_block_dbfs(loud_tail, 100) == pytest.approx(energy_dbfs(loud_tail[-100:]))
    assert peak_block_dbfs(loud_tail, 100) > energy_dbfs(loud_tail) + 9
    assert peak_block_dbfs(np.zeros(1050, np.int16), 100) == float("-inf")
    assert peak_block_dbfs(quiet[:50], 100) == pytest.approx(energy_dbfs(quiet[:50]))
