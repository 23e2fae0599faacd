"""Running figures of a gated detector for /diagnostics and the demo summary.

Fed with each InferenceResult (duck-typed: gate_score, early_stopped, activation_sparsity,
handoff_bytes, stage_a/stage_b timings with wall_ms and cpu_ms) plus the node's own timings.
"""

from __future__ import annotations

from typing import Any

from gc_perception.stats import RateMeter, RollingWindow

LATENCY_PARTS = ("preprocess", "stage_a", "stage_b", "total")


class DetectorStats:
    """Counters since start plus rolling windows of the recent inputs."""

    def __init__(self, window: int = 200) -> None:
        self.inputs = 0
        self.early_stopped = 0
        self.stage0_stopped = 0
        self.positives = 0
        self.rejected_inputs = 0
        self.branch_switches = 0
        self.energy_mj_total = 0.0
        self.latency_ms = {part: RollingWindow(window) for part in LATENCY_PARTS}
        self._stopped = RollingWindow(window)
        self._sparsity = RollingWindow(window)
        self._handoff_bytes = RollingWindow(window)
        self._cpu_ms = RollingWindow(window)
        self.rate_in = RateMeter()
        self.rate_out = RateMeter()

    def record(
        self, result: Any, preprocess_ms: float, total_ms: float, positive: bool, energy_mj: float
    ) -> None:
        self.inputs += 1
        self.early_stopped += int(result.early_stopped)
        self.positives += int(positive)
        self.energy_mj_total += energy_mj
        self._stopped.add(float(result.early_stopped))
        self.latency_ms["preprocess"].add(preprocess_ms)
        self.latency_ms["stage_a"].add(result.stage_a.wall_ms)
        if result.stage_b is not None:
            self.latency_ms["stage_b"].add(result.stage_b.wall_ms)
            self._sparsity.add(result.activation_sparsity)
        self.latency_ms["total"].add(total_ms)
        self._handoff_bytes.add(result.handoff_bytes)
        cpu = result.stage_a.cpu_ms + (result.stage_b.cpu_ms if result.stage_b else 0.0)
        self._cpu_ms.add(cpu)
        self.rate_out.tick()

    def record_stage0_stop(self, total_ms: float) -> None:
        """An input stopped by a stage-0 check (energy, motion) before stage A ran: an early
        stop of the gate chain that costs no model time."""
        self.inputs += 1
        self.early_stopped += 1
        self.stage0_stopped += 1
        self._stopped.add(1.0)
        self._cpu_ms.add(0.0)
        self.latency_ms["total"].add(total_ms)
        self.rate_out.tick()

    def summary(self) -> dict[str, Any]:
        """Flat figures, None where nothing was measured yet."""
        figures: dict[str, Any] = {
            "inputs": self.inputs,
            "fps_in": self.rate_in.rate(),
            "fps_out": self.rate_out.rate(),
            "early_stopped": self.early_stopped,
            "early_stopped_stage0": self.stage0_stopped,
            "early_stopped_gate": self.early_stopped - self.stage0_stopped,
            "early_stop_rate": self.early_stopped / self.inputs if self.inputs else None,
            "early_stop_rate_recent": self._stopped.mean(),
            "positives": self.positives,
            "rejected_inputs": self.rejected_inputs,
            "branch_switches": self.branch_switches,
            "activation_sparsity_mean": self._sparsity.mean(),
            "handoff_bytes_mean": self._handoff_bytes.mean(),
            "cpu_ms_mean": self._cpu_ms.mean(),
            "energy_mj_total": self.energy_mj_total,
            "energy_mj_per_input": self.energy_mj_total / self.inputs if self.inputs else None,
        }
        for part, window in self.latency_ms.items():
            figures[f"latency_{part}_p50_ms"] = window.percentile(50)
            figures[f"latency_{part}_p95_ms"] = window.percentile(95)
        return figures
