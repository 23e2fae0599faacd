"""Warn/error thresholds with hysteresis on a DeviceState, as diagnostic Status objects.

A reading bouncing around a mark would flip the level (and the AdaScale branch behind it) at
every sample. So a level rises only after `samples` consecutive samples beyond a mark, and falls
only after `samples` consecutive samples past the mark minus a clear margin (e.g. CPU: warn at
85%, clear below 75%). Battery is "lower is worse": warn at 20%, clear above 25%.

A reading the machine does not have (no battery, no thermal sensor) gives level OK with the
message "not available": a VM without a battery is not a fault. Simulated readings are marked
"[simulated]" in the message so a human reading /diagnostics is never fooled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gc_perception.diagnostics import Level, Status
from gc_perception.monitor.device_state import DeviceState
from gc_perception.params import ParamSpec

NOT_AVAILABLE = "not available"
# The DeviceState paths each graded part reads: if any is simulated, its message says so.
_SIMULATED_INPUTS = {
    "cpu": {"cpu.total_percent"},
    "memory": {"memory.percent"},
    "temperature": {"thermal.max_celsius", "thermal.throttling"},
    "battery": {"battery.percent", "battery.plugged"},
}


@dataclass(frozen=True)
class Threshold:
    """The warn and error marks of one reading, and how far back past a mark clears it."""

    warn: float
    error: float
    clear_margin: float
    higher_is_worse: bool = True

    def __post_init__(self) -> None:
        if self.clear_margin < 0:
            raise ValueError(f"clear margin must be >= 0, got {self.clear_margin}")
        if self._sign * self.warn > self._sign * self.error:
            order = "at or below" if self.higher_is_worse else "at or above"
            raise ValueError(f"warn {self.warn:g} must be {order} error {self.error:g}")

    @property
    def _sign(self) -> int:
        return 1 if self.higher_is_worse else -1

    def grade(self, value: float, margin: float = 0.0) -> Level:
        """The level of `value` against the marks moved `margin` towards the good side."""
        reach = self._sign * value + margin
        if reach >= self._sign * self.error:
            return Level.ERROR
        return Level.WARN if reach >= self._sign * self.warn else Level.OK


class HysteresisLevel:
    """The level of one reading, changed only by `samples` consecutive samples that agree."""

    def __init__(self, threshold: Threshold, samples: int) -> None:
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        self.threshold = threshold
        self.samples = samples
        self.level = Level.OK
        self._streak = 0
        self._rising = True
        self._streak_level = Level.OK

    def update(self, value: float | None) -> Level:
        """Feed one sample (None: no reading, which keeps the level) and return the level."""
        candidate = None if value is None else self._candidate(value)
        if candidate is None:
            self._streak = 0
            return self.level
        rising = candidate > self.level
        if self._streak == 0 or rising != self._rising:
            self._streak, self._rising, self._streak_level = 0, rising, candidate
        self._streak += 1
        # A streak moves the level only as far as all its samples agree on.
        pick = min if rising else max
        self._streak_level = pick(self._streak_level, candidate)
        if self._streak >= self.samples:
            self.level, self._streak = self._streak_level, 0
        return self.level

    def _candidate(self, value: float) -> Level | None:
        """The level this sample pushes towards, or None if it confirms the current one."""
        raised = self.threshold.grade(value)
        if raised > self.level:
            return raised
        cleared = self.threshold.grade(value, self.threshold.clear_margin)
        return cleared if cleared < self.level else None


@dataclass(frozen=True)
class ThresholdSettings:
    """All thresholds of the monitor; the defaults suit a phone-class SoC."""

    cpu: Threshold = Threshold(warn=85.0, error=95.0, clear_margin=10.0)
    memory: Threshold = Threshold(warn=85.0, error=95.0, clear_margin=5.0)
    temperature: Threshold = Threshold(warn=80.0, error=90.0, clear_margin=5.0)
    battery: Threshold = Threshold(warn=20.0, error=10.0, clear_margin=5.0, higher_is_worse=False)
    samples: int = 3


# Parameter name stem, unit, physical range and the settings field of each threshold knob.
_KNOBS = (
    ("cpu", "percent", (0.0, 100.0)),
    ("memory", "percent", (0.0, 100.0)),
    ("temperature", "celsius", (0.0, 150.0)),
    ("battery", "percent", (0.0, 100.0)),
)


def parameter_specs() -> list[ParamSpec]:
    """Node parameters for the marks (e.g. cpu_warn_percent) and `threshold_samples`."""
    defaults = ThresholdSettings()
    specs = [
        ParamSpec(
            f"{part}_{mark}_{unit}",
            float(getattr(getattr(defaults, part), mark)),
            f"{part} {mark} mark ({unit}); {_direction(getattr(defaults, part))}",
            min_value=low,
            max_value=high,
        )
        for part, unit, (low, high) in _KNOBS
        for mark in ("warn", "error")
    ]
    specs.append(
        ParamSpec(
            "threshold_samples",
            defaults.samples,
            "consecutive samples beyond (or back past) a mark before a level changes",
            min_value=1,
            max_value=100,
        )
    )
    return specs


def _direction(threshold: Threshold) -> str:
    side = "above" if threshold.higher_is_worse else "below"
    return f"level rises {side} it, clears {threshold.clear_margin:g} back"


def settings_from_parameters(values: Mapping[str, Any]) -> ThresholdSettings:
    """ThresholdSettings from parameter values; ValueError says which marks disagree."""
    defaults = ThresholdSettings()
    parts: dict[str, Threshold] = {}
    for part, unit, _ in _KNOBS:
        default = getattr(defaults, part)
        try:
            parts[part] = Threshold(
                warn=float(values[f"{part}_warn_{unit}"]),
                error=float(values[f"{part}_error_{unit}"]),
                clear_margin=default.clear_margin,
                higher_is_worse=default.higher_is_worse,
            )
        except ValueError as error:
            raise ValueError(f"{part} thresholds: {error}") from error
    return ThresholdSettings(**parts, samples=int(values["threshold_samples"]))


@dataclass
class DeviceHealth:
    """Turns each DeviceState into Status objects: cpu, memory, temperature, battery, suite."""

    settings: ThresholdSettings
    name_for: Callable[[str], str] = str
    _levels: dict[str, HysteresisLevel] = field(init=False)

    def __post_init__(self) -> None:
        self._levels = {
            part: HysteresisLevel(getattr(self.settings, part), self.settings.samples)
            for part, _, _ in _KNOBS
        }

    def evaluate(self, state: DeviceState) -> list[Status]:
        graded = {
            "cpu": self._cpu(state),
            "memory": self._memory(state),
            "temperature": self._temperature(state),
            "battery": self._battery(state),
        }
        simulated = set(state.simulated.fields)
        for part, status in graded.items():
            if simulated & _SIMULATED_INPUTS[part]:
                status.message = f"[simulated] {status.message}"
        return [*graded.values(), self._suite(state)]

    def _graded(self, part: str, value: float | None, unit: str, values: dict[str, Any]) -> Status:
        level = self._levels[part].update(value)
        if value is None:
            return Status(self.name_for(part), Level.OK, NOT_AVAILABLE, values)
        message = _describe(level, value, self._levels[part].threshold, unit)
        return Status(self.name_for(part), level, message, values)

    def _cpu(self, state: DeviceState) -> Status:
        cpu = state.cpu
        values = {
            "total_percent": cpu.total_percent,
            "per_core_percent": cpu.per_core_percent,
            "load_avg_1m": cpu.load_avg_1m,
            "topology_source": cpu.topology_source,
        }
        return self._graded("cpu", cpu.total_percent, "%", values)

    def _memory(self, state: DeviceState) -> Status:
        memory = state.memory
        values = {
            "percent": memory.percent,
            "available_mb": memory.available_bytes / 1e6,
            "psi_some_avg10": memory.psi_some_avg10,
            "swap_percent": memory.swap_percent,
        }
        return self._graded("memory", memory.percent, "%", values)

    def _temperature(self, state: DeviceState) -> Status:
        thermal = state.thermal
        values = {"max_celsius": thermal.max_celsius, "throttling": thermal.throttling}
        values.update({sensor.name: sensor.celsius for sensor in thermal.sensors})
        status = self._graded("temperature", thermal.max_celsius, " C", values)
        if thermal.throttling:  # the kernel already acts: at least a warning
            status.level = max(status.level, Level.WARN)
            readings = "" if status.message == NOT_AVAILABLE else f"{status.message}, "
            status.message = f"{readings}throttling"
        return status

    def _battery(self, state: DeviceState) -> Status:
        battery = state.battery
        values = {
            "percent": battery.percent,
            "plugged": battery.plugged,
            "secs_left": battery.secs_left,
        }
        status = self._graded("battery", battery.percent, "%", values)
        if battery.percent is not None and battery.plugged:
            status.message += ", charging"
        return status

    def _suite(self, state: DeviceState) -> Status:
        values = {
            f"{p.name}[{p.pid}]": f"cpu {_or_na(p.cpu_percent)}%, rss {p.rss_bytes / 1e6:.1f} MB"
            for p in state.processes
        }
        return Status(self.name_for("suite processes"), Level.OK, f"{len(values)} found", values)


def _describe(level: Level, value: float, threshold: Threshold, unit: str) -> str:
    if level == Level.OK:
        return f"ok: {value:.1f}{unit}"
    mark = threshold.error if level == Level.ERROR else threshold.warn
    word = "high" if threshold.higher_is_worse else "low"
    return f"{word}: {value:.1f}{unit} ({level.name.lower()} at {mark:g}{unit})"


def _or_na(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"
