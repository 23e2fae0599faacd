"""What the AdaScale manager knows and wants of each detector: the ROS-free bookkeeping.

- `DetectorReport`: a detector's '<node>: detector' status on /diagnostics, parsed.
- `ManagedNode`: its goal, last report, the choice the policy wants, the choice confirmed by a
  successful `<node>/set_parameters` call to its current process, and the retry schedule.
  A node that falls silent for `node_timeout_s` is left alone (no decisions, no calls); a new
  pid in its reports means it restarted with its start-up parameters, so the wanted choice is
  applied again. A report that contradicts a confirmed choice (someone else changed the node)
  also triggers a re-apply, after a grace period. Failed calls are retried with doubling delays.
- `decision_event`: the JSON of gc_perception.events 'decision' for one change.
Online refinement: `observed_ratio` compares what the confirmed choice's stages took with what
the load model predicted for them, input by input: (A + B) / (predicted A + B) for an input that
ran both stages, A / predicted A for one the gate stopped (with a selective gate most inputs
are those, and a heavy stage A is what misses the deadline), p95 over the recent inputs.
Inputs come from the node's per-input events where it publishes them (vision detections), else
from its /diagnostics (p95 of each stage). The rest of an input's path (decode, preprocessing:
`total` minus the stages) is kept apart as the node's overhead, which the policy adds to every
candidate: it hardly depends on the branch, so scaling it with the correction would make heavy
branches look far slower than they are.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gc_perception.adascale.cpu_affinity import format_cpu_list
from gc_perception.adascale.policy import (
    Choice,
    Conditions,
    Decision,
    Goal,
    Modes,
    NodeView,
    stage_parameters,
)
from gc_perception.adascale.profiles import ModelProfile
from gc_perception.adascale.topology import CoreTopology
from gc_perception.events import make_event
from gc_perception.sources.frames import Backoff

STATUS_SUFFIX = ": detector"
# DetectorStats keeps a rolling window of 200 inputs: once 100 inputs ran on a new setting, its
# latency p50 is that setting's, and only then is it compared with the prediction.
SETTLE_INPUTS = 100
DRIFT_GRACE_S = 3.0
# Per-input events (vision `~/detections`) give the load's effect at once: the p95 of the last
# FRAME_WINDOW_S seconds of inputs that ran both stages, once there are MIN_FRAMES of them.
FRAME_WINDOW_S = 5.0
MIN_FRAMES = 5
SWITCH_TRANSIENT_S = 3.0  # inputs this soon after a change pay for it (re-pinning, warm-up)


@dataclass(frozen=True)
class DetectorReport:
    """The figures of one detector status the manager uses (None: not measured yet)."""

    node: str
    model: str | None
    branch: str | None
    pid: int | None
    enabled: bool
    stage_a_cpus: str
    stage_b_cpus: str
    latency_a_p95_ms: float | None
    latency_b_p95_ms: float | None
    early_stop_rate: float | None
    cpu_ms_mean: float | None
    fps_out: float
    inputs: int

    @property
    def own_load_cores(self) -> float:
        """CPU cores the detector keeps busy: CPU ms per input x inputs per second."""
        return (self.cpu_ms_mean or 0.0) * self.fps_out / 1000.0

    @property
    def worst_path_ms(self) -> float | None:
        """Observed latency of an input that runs both stages (sum of the stages' p95)."""
        if self.latency_a_p95_ms is None or self.latency_b_p95_ms is None:
            return None
        return self.latency_a_p95_ms + self.latency_b_p95_ms

    def runs(self, choice: Choice, topology: CoreTopology) -> bool:
        """Whether the node reports running `choice` (branch and CPU lists)."""
        wanted = stage_parameters(choice, topology)
        return (self.branch == choice.branch and self.stage_a_cpus == wanted["stage_a_cpus"]
                and self.stage_b_cpus == wanted["stage_b_cpus"])


def parse_detector_status(name: str, values: Mapping[str, str]) -> DetectorReport | None:
    """A DetectorReport from a status named '<node fqn without leading slash>: detector'."""
    if not name.endswith(STATUS_SUFFIX):
        return None
    return DetectorReport(
        node="/" + name[: -len(STATUS_SUFFIX)].lstrip("/"),
        model=_text(values.get("model")),
        branch=_text(values.get("branch")),
        pid=_int(values.get("pid")),
        enabled=values.get("enabled", "True") == "True",
        stage_a_cpus=values.get("stage_a_cpus", "all"),
        stage_b_cpus=values.get("stage_b_cpus", "all"),
        latency_a_p95_ms=_float(values.get("latency_stage_a_p95_ms")),
        latency_b_p95_ms=_float(values.get("latency_stage_b_p95_ms")),
        early_stop_rate=_float(values.get("early_stop_rate_recent")),
        cpu_ms_mean=_float(values.get("cpu_ms_mean")),
        fps_out=_float(values.get("fps_out")) or 0.0,
        inputs=_int(values.get("inputs")) or 0,
    )


def _text(value: str | None) -> str | None:
    return None if value in (None, "", "n/a", "None") else value


def _float(value: str | None) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: str | None) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


@dataclass
class ManagedNode:
    """One detector under management (see the module docstring)."""

    name: str
    goal: Goal
    report: DetectorReport | None = None
    seen_at: float | None = None
    wanted: Choice | None = None
    changed_at: float | None = None
    confirmed: Choice | None = None  # set successfully on process `confirmed_pid`
    confirmed_pid: int | None = None
    confirmed_at: float = 0.0
    in_flight_since: float | None = None
    retry_at: float = 0.0
    failures: int = 0
    last_error: str = ""
    restarts: int = 0
    settled_from: int | None = None  # report.inputs when it first showed the confirmed choice
    # recent inputs of the confirmed choice: (stamp, stage A ms, stage B ms or None, rest ms)
    frames: deque[tuple[float, float, float | None, float]] = field(
        default_factory=lambda: deque(maxlen=64))
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, maximum=10.0))

    def alive(self, now: float, timeout_s: float) -> bool:
        return self.seen_at is not None and now - self.seen_at <= timeout_s

    def on_report(self, report: DetectorReport, now: float,
                  topology: CoreTopology) -> str | None:
        """Take a new report; returns why the node needs its choice again, if it does."""
        previous, self.report, self.seen_at = self.report, report, now
        if previous is not None and report.pid != previous.pid:
            self.restarts += 1
            self._forget_confirmation()
            return f"pid {previous.pid} -> {report.pid}: restarted"
        if self.confirmed is None or report.pid != self.confirmed_pid:
            return None
        if report.runs(self.confirmed, topology):
            if self.settled_from is None:
                self.settled_from = report.inputs
            return None
        if now - self.confirmed_at <= DRIFT_GRACE_S:
            return None
        why = (f"reports {report.branch} on {report.stage_a_cpus}/{report.stage_b_cpus}, "
               f"not {self.confirmed.label()}")
        self._forget_confirmation()
        return why

    def on_detection(self, event: Mapping[str, Any], now: float, topology: CoreTopology) -> None:
        """Keep the stage latencies of a per-input event that ran the confirmed choice."""
        latency, cpus = event.get("latency_ms") or {}, event.get("cpus") or {}
        stage_a, stage_b = latency.get("stage_a"), latency.get("stage_b")
        if (self.confirmed is None or stage_a is None
                or now - self.confirmed_at < SWITCH_TRANSIENT_S):
            return
        wanted = stage_parameters(self.confirmed, topology)
        if (event.get("branch") == self.confirmed.branch
                and format_cpu_list(cpus.get("stage_a") or []) == wanted["stage_a_cpus"]
                and format_cpu_list(cpus.get("stage_b") or []) == wanted["stage_b_cpus"]):
            stages = stage_a + (stage_b or 0.0)
            rest = max(0.0, (latency.get("total") or stages) - stages)
            self.frames.append((now, stage_a, stage_b, rest))

    def observed_ratio(self, now: float, predicted: tuple[float, float]) -> float | None:
        """p95 over recent inputs of observed / predicted stage latency (module docstring);
        `predicted` = the load model's (stage A, stage B) ms. None if unknown."""
        pred_a, pred_b = predicted
        if pred_a <= 0:
            return None
        recent = self._recent(now)
        if len(recent) >= MIN_FRAMES:
            ratios = [a / pred_a if b is None else (a + b) / (pred_a + pred_b)
                      for _, a, b, _ in recent]
            return float(np.percentile(ratios, 95))
        report = self.report if self.settled() else None
        if report is None or report.latency_a_p95_ms is None:
            return None
        if report.latency_b_p95_ms is None:
            return report.latency_a_p95_ms / pred_a
        return (report.latency_a_p95_ms + report.latency_b_p95_ms) / (pred_a + pred_b)

    def overhead_ms(self, now: float) -> float:
        """p95 of the path outside the two stages (decode, preprocessing), 0 if unknown."""
        recent = self._recent(now)
        return (float(np.percentile([frame[3] for frame in recent], 95))
                if len(recent) >= MIN_FRAMES else 0.0)

    def _recent(self, now: float) -> list[tuple[float, float, float | None, float]]:
        return [frame for frame in self.frames if now - frame[0] <= FRAME_WINDOW_S]

    def settled(self) -> bool:
        """Whether its /diagnostics figures are those of the confirmed choice (SETTLE_INPUTS)."""
        return (self.settled_from is not None and self.report is not None
                and self.report.inputs - self.settled_from >= SETTLE_INPUTS)

    def current(self) -> Choice | None:
        """What the policy should take as the node's choice now."""
        if self.wanted is not None:
            return self.wanted
        if self.report is not None and self.report.branch:
            return Choice(self.report.branch, None)
        return None

    def view(self, profile: ModelProfile, corrections: Mapping[str, float],
             now: float) -> NodeView:
        report = self.report
        return NodeView(
            name=self.name, goal=self.goal, profiles=profile.branches, current=self.current(),
            changed_at=self.changed_at,
            own_load_cores=report.own_load_cores if report else 0.0,
            input_rate_hz=report.fps_out if report else 0.0,
            pass_rate=None if report is None or report.early_stop_rate is None
            else 1.0 - report.early_stop_rate,
            latency_corrections=corrections, overhead_ms=self.overhead_ms(now),
        )

    def want(self, choice: Choice, now: float) -> None:
        self.wanted, self.changed_at = choice, now
        self.backoff.reset()
        self.retry_at = 0.0

    def needs_apply(self, now: float, timeout_s: float) -> bool:
        return (self.wanted is not None and self.wanted.placement is not None
                and self.alive(now, timeout_s) and self.in_flight_since is None
                and now >= self.retry_at
                and (self.confirmed != self.wanted or self.confirmed_pid != self._pid()))

    def start_apply(self, now: float) -> None:
        self.in_flight_since = now

    def finish_apply(self, choice: Choice, pid: int | None, error: str, now: float) -> None:
        """Record a call's outcome: confirmation, or the error and when to try again."""
        self.in_flight_since = None
        if error:
            self.failures += 1
            self.last_error = error
            self.retry_at = now + self.backoff.next_delay()
            return
        self.backoff.reset()
        self.last_error = ""
        self.confirmed, self.confirmed_pid, self.confirmed_at = choice, pid, now
        self.settled_from = None
        self.frames.clear()

    def state(self, now: float, timeout_s: float) -> str:
        """One line for the manager's diagnostics."""
        choice = self.wanted.label() if self.wanted else "not decided"
        if not self.alive(now, timeout_s):
            return f"{choice}; absent"
        if self.in_flight_since is not None:
            return f"{choice}; applying"
        if self.last_error:
            return f"{choice}; failing ({self.failures}x): {self.last_error}"
        return f"{choice}; applied" if self.confirmed == self.wanted else f"{choice}; pending"

    def _pid(self) -> int | None:
        return self.report.pid if self.report else None

    def _forget_confirmation(self) -> None:
        self.confirmed, self.confirmed_pid, self.settled_from = None, None, None
        self.frames.clear()


def choice_dict(choice: Choice | None, topology: CoreTopology) -> dict[str, Any] | None:
    """The 'from'/'to' of a decision event: branch, CPU lists and threads of both stages."""
    if choice is None:
        return None
    if choice.placement is None:
        return {"branch": choice.branch, "stage_a_cpus": None, "stage_b_cpus": None,
                "threads": None}
    values = stage_parameters(choice, topology)
    return {"branch": choice.branch, "stage_a_cpus": values["stage_a_cpus"],
            "stage_b_cpus": values["stage_b_cpus"],
            "threads": {"stage_a": values["stage_a_threads"],
                        "stage_b": values["stage_b_threads"]},
            "placement": choice.placement.label()}


def decision_event(decision: Decision, goal: Goal, topology: CoreTopology,
                   conditions: Conditions, modes: Modes, simulated: list[str],
                   stamp: float) -> dict[str, Any]:
    """The 'decision' event of one change (schema in gc_perception.events)."""
    return make_event(
        "decision",
        time=stamp,
        node=decision.node,
        **{"from": choice_dict(decision.previous, topology),
           "to": choice_dict(decision.choice, topology)},
        reason=decision.reason,
        predicted=decision.predicted.to_dict(),
        goal={"latency_budget_ms": goal.latency_budget_ms, "min_accuracy": goal.min_accuracy,
              "priority": goal.priority, "memory_budget_mb": goal.memory_budget_mb},
        mode=modes.label(),
        causes=list(modes.causes),
        conditions=conditions.summary(),
        simulated=simulated,
    )
