"""Parameter specifications: one place that says what each node parameter is and what is valid.

Pure (no rclpy): nodes turn a ParamSpec into a declared ROS parameter with a descriptor, and
validate every set-parameters request with `ParamSpec.check`, which returns the reason a value is
refused (or None). Tests can check the rules without ROS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ParamValue = bool | int | float | str | list


@dataclass(frozen=True)
class ParamSpec:
    """A node parameter: default, description, and the rule a new value must pass."""

    name: str
    default: ParamValue
    description: str
    choices: tuple[Any, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    read_only: bool = False
    validator: Callable[[Any], str | None] | None = None

    def check(self, value: Any) -> str | None:
        """Reason `value` is refused, or None when it is acceptable."""
        if not _same_kind(value, self.default):
            return (
                f"{self.name}: expected {type(self.default).__name__}, "
                f"got {type(value).__name__} ({value!r})"
            )
        if self.choices is not None and value not in self.choices:
            return f"{self.name}: {value!r} is not one of {list(self.choices)}"
        if self.min_value is not None and value < self.min_value:
            return f"{self.name}: {value!r} is below the minimum {self.min_value}"
        if self.max_value is not None and value > self.max_value:
            return f"{self.name}: {value!r} is above the maximum {self.max_value}"
        if self.validator is not None:
            reason = self.validator(value)
            if reason:
                return f"{self.name}: {reason}"
        return None


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, list):
        return isinstance(value, list | tuple)
    return isinstance(value, type(default))


def rejects(
    check: Callable[[Any], object], allow_empty: bool = True
) -> Callable[[Any], str | None]:
    """A ParamSpec validator from a parser or loader: the error it raises is the reason.

    With `allow_empty`, '' passes unchecked (it means "none" or "default" for such parameters).
    """

    def validator(value: Any) -> str | None:
        if allow_empty and value == "":
            return None
        try:
            check(value)
        except (ValueError, OSError, RuntimeError) as error:
            return str(error)
        return None

    return validator


def check_all(specs: Mapping[str, ParamSpec], changes: Mapping[str, Any]) -> str | None:
    """First reason any of `changes` is refused (unknown names included), or None."""
    for name, value in changes.items():
        spec = specs.get(name)
        if spec is None:
            continue  # not ours (e.g. use_sim_time): rclpy handles it
        if spec.read_only:
            return f"{name} is read-only"
        reason = spec.check(value)
        if reason:
            return reason
    return None


def index(specs: Iterable[ParamSpec]) -> dict[str, ParamSpec]:
    """Specs by name; refuses duplicates, which would make one of them silently unreachable."""
    table: dict[str, ParamSpec] = {}
    for spec in specs:
        if spec.name in table:
            raise ValueError(f"parameter {spec.name!r} specified twice")
        table[spec.name] = spec
    return table
