import pytest

from gc_perception.stats import RateMeter, RollingWindow


def test_rolling_window_keeps_the_newest_samples():
    window = RollingWindow(size=4)
    assert window.percentile(50) is None and window.mean() is None
    for value in [100, 1, 2, 3, 4]:
        window.add(value)
    assert len(window) == 4
    assert window.percentile(50) == pytest.approx(2.5)
    assert window.percentile(100) == 4
    with pytest.raises(ValueError):
        RollingWindow(0)


def test_rate_meter_counts_events_in_the_window():
    now = [0.0]
    meter = RateMeter(window_s=2.0, clock=lambda: now[0])
    for t in (0.0, 0.5, 1.0, 1.5):
        now[0] = t
        meter.tick()
    assert meter.rate() == pytest.approx(2.0)
    now[0] = 3.2
    assert meter.rate() == pytest.approx(0.5)  # only the tick at 1.5 is within 2 s
