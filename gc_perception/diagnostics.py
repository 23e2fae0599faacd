"""Diagnostic statuses as plain data; nodes turn them into diagnostic_msgs on /diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    """Same numbering as diagnostic_msgs/DiagnosticStatus."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass
class Status:
    """One DiagnosticStatus: `name` is '<node>: <part>' so aggregators can group by node."""

    name: str
    level: Level = Level.OK
    message: str = "ok"
    values: dict[str, Any] = field(default_factory=dict)

    def string_values(self) -> list[tuple[str, str]]:
        """Key/value pairs as diagnostic_msgs/KeyValue wants them (floats rounded)."""
        return [(key, format_value(value)) for key, value in self.values.items()]


def format_value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(format_value(item) for item in value)
    return str(value)
