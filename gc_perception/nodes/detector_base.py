"""What the vision and audio detector nodes share: the gated model behind ROS parameters.

Parameters (all changeable at run time through <node>/set_parameters; bad values are refused
with a reason and the node keeps running on its previous settings):
  model, branch, gate_threshold, score_threshold, enabled, ungated,
  stage_a_threads, stage_a_cpus, stage_b_threads, stage_b_cpus, diagnostics_period_s
A model that fails to load at start (missing, tampered) leaves the node up, reporting ERROR on
/diagnostics until a good `model` is set.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from rclpy.node import Node

from gc_perception.adascale.cpu_affinity import parse_cpu_list
from gc_perception.adascale.energy import load_power_table, stage_energy_joules
from gc_perception.adascale.topology import PERFORMANCE, load_topology
from gc_perception.diagnostics import Level, Status
from gc_perception.gating.detector_stats import DetectorStats
from gc_perception.gating.gated_model import GatedModel, InferenceResult, StageConfig
from gc_perception.nodes.node_support import DiagnosticsPublisher, NodeParameters
from gc_perception.params import ParamSpec, rejects
from gc_perception.resources import find_config, find_model_manifest

STAGE_KEYS = ("stage_a_threads", "stage_a_cpus", "stage_b_threads", "stage_b_cpus")


def detector_specs(default_model: str) -> list[ParamSpec]:
    cpus = "CPU list for stage {} ('0-1,3'; '' = all CPUs this process may use)"
    return [
        ParamSpec("model", default_model, "Shipped model id (models/<id>) or manifest path",
                  validator=rejects(find_model_manifest, allow_empty=False)),
        ParamSpec("branch", "", "Model branch; '' = the manifest's default branch"),
        ParamSpec("gate_threshold", -1.0, "Gate threshold in [0,1]; -1 = the branch's "
                  "calibrated threshold from the manifest", min_value=-1.0, max_value=1.0),
        ParamSpec("score_threshold", 0.5, "Minimum score for a detection", min_value=0.0,
                  max_value=1.0),
        ParamSpec("enabled", True, "Process inputs (false = idle; inputs are ignored)"),
        ParamSpec("ungated", False, "Baseline mode: always run stage B (for comparisons)"),
        ParamSpec("stage_a_threads", 1, "onnxruntime threads of stage A (capped at its CPUs)",
                  min_value=1, max_value=64),
        ParamSpec("stage_a_cpus", "", cpus.format("A (gate)"), validator=rejects(parse_cpu_list)),
        ParamSpec("stage_b_threads", 1, "onnxruntime threads of stage B (capped at its CPUs)",
                  min_value=1, max_value=64),
        ParamSpec("stage_b_cpus", "", cpus.format("B"), validator=rejects(parse_cpu_list)),
        ParamSpec("diagnostics_period_s", 1.0, "Period of /diagnostics", min_value=0.1,
                  max_value=60.0),
    ]


def stage_config(config: dict[str, Any], stage: str) -> StageConfig:
    text = config[f"stage_{stage}_cpus"]
    return StageConfig(
        threads=config[f"stage_{stage}_threads"], cpus=parse_cpu_list(text) if text else None
    )


class GatedDetectorNode(Node):
    """Holds the GatedModel, applies parameter changes to it, runs inferences, reports figures."""

    def __init__(self, node_name: str, default_model: str, extra_specs: Iterable[ParamSpec]):
        super().__init__(node_name)
        self._params = NodeParameters(
            self, [*detector_specs(default_model), *extra_specs], apply=self._apply
        )
        self.config: dict[str, Any] = self._params.values()
        self.stats = DetectorStats()
        self._model_lock = threading.Lock()
        self._model: GatedModel | None = None
        self._model_error = ""
        self._power = load_power_table(find_config("device.yaml"))
        self._topology = load_topology(find_config("device.yaml"))
        try:
            self._model = self._load_model(self.config)
        except Exception as error:  # keep running; diagnostics say why
            self._model_error = str(error)
            self.get_logger().error(f"model not loaded: {error}")
        self._diagnostics = DiagnosticsPublisher(self)
        self._diagnostics_timer = self.create_timer(
            self.config["diagnostics_period_s"], self._publish_diagnostics
        )

    # --- parameters -------------------------------------------------------------------------
    def _load_model(self, config: dict[str, Any]) -> GatedModel:
        model = GatedModel(
            find_model_manifest(config["model"]),
            preload=[config["branch"]] if config["branch"] else None,
            stage_a=stage_config(config, "a"),
            stage_b=stage_config(config, "b"),
        )
        if config["branch"]:
            model.set_branch(config["branch"])
        self.get_logger().info(f"model {config['model']} branch {model.branch} loaded")
        return model

    def _apply(self, changes: dict[str, Any]) -> str | None:
        merged = {**self.config, **changes}
        if "model" in changes or self._model is None:
            if {"model", "branch", *STAGE_KEYS} & changes.keys():
                self._replace_model(self._load_model(merged))
        else:
            self._apply_to_model(changes, merged)
        if "diagnostics_period_s" in changes:
            self._diagnostics_timer.cancel()
            self._diagnostics_timer = self.create_timer(
                merged["diagnostics_period_s"], self._publish_diagnostics
            )
        self.config = merged
        return self.on_config_changed(changes)

    def _apply_to_model(self, changes: dict[str, Any], merged: dict[str, Any]) -> None:
        model = self._model
        assert model is not None
        if "branch" in changes:
            target = merged["branch"] or model.manifest.default_branch
            if target != model.branch:
                model.set_branch(target)
                self.stats.branch_switches += 1
                self.get_logger().info(f"branch -> {target}")
        for stage in ("a", "b"):
            if {f"stage_{stage}_threads", f"stage_{stage}_cpus"} & changes.keys():
                config = stage_config(merged, stage)
                model.configure_stage(stage, config.threads, config.cpus)

    def _replace_model(self, model: GatedModel) -> None:
        with self._model_lock:
            old, self._model, self._model_error = self._model, model, ""
        if old is not None:
            old.close()

    def on_config_changed(self, changes: dict[str, Any]) -> str | None:
        """Hook for subclasses (e.g. a new input topic); returns a refusal reason or None."""
        return None

    # --- inference --------------------------------------------------------------------------
    @property
    def model(self) -> GatedModel | None:
        return self._model

    def infer(self, tensor: np.ndarray) -> InferenceResult | None:
        """One gated (or, with `ungated`, baseline) inference; None when there is no model."""
        with self._model_lock:
            if self._model is None:
                return None
            threshold = self.config["gate_threshold"]
            return self._model.infer(
                tensor,
                gated=not self.config["ungated"],
                gate_threshold=None if threshold < 0 else threshold,
            )

    def energy_mj(self, result: InferenceResult) -> float:
        """Energy ESTIMATE of one inference: CPU time x busy power of the stage's core class."""
        joules = stage_energy_joules(
            result.stage_a.cpu_ms / 1e3, self.core_class(result.stage_a.cpus), self._power
        )
        if result.stage_b is not None:
            joules += stage_energy_joules(
                result.stage_b.cpu_ms / 1e3, self.core_class(result.stage_b.cpus), self._power
            )
        return joules * 1e3

    def core_class(self, cpus: Iterable[int] | None) -> str:
        """Class of a CPU set: its one class, else 'performance' (the costlier assumption)."""
        classes = {self._topology.class_of(cpu) for cpu in (cpus or [])}
        return classes.pop() if len(classes) == 1 and None not in classes else PERFORMANCE

    def reject_input(self, reason: str) -> None:
        self.stats.rejected_inputs += 1
        self.get_logger().warning(f"input rejected: {reason}", throttle_duration_sec=5.0)

    # --- diagnostics ------------------------------------------------------------------------
    def diagnostics_values(self) -> dict[str, Any]:
        """Figures for /diagnostics; subclasses add their own."""
        model = self._model
        values: dict[str, Any] = {
            "model": self.config["model"],
            "task": model.manifest.task if model else None,
            "branch": model.branch if model else None,
            "mode": "ungated" if self.config["ungated"] else "gated",
            "enabled": self.config["enabled"],
            "stage_a_cpus": self.config["stage_a_cpus"] or "all",
            "stage_b_cpus": self.config["stage_b_cpus"] or "all",
            "stage_a_threads": self.config["stage_a_threads"],
            "stage_b_threads": self.config["stage_b_threads"],
            "pid": os.getpid(),
            "rejected_parameters": self._params.rejected,
        }
        values.update(self.stats.summary())
        return values

    def _publish_diagnostics(self) -> None:
        if self._model is None:
            level, message = Level.ERROR, f"no model: {self._model_error}"
        elif not self.config["enabled"]:
            level, message = Level.OK, "disabled"
        else:
            level, message = Level.OK, f"running {self._model.branch}"
        self._diagnostics.publish([Status(
            name=self._diagnostics.status_name("detector"), level=level, message=message,
            values=self.diagnostics_values(),
        )])

    def destroy_node(self) -> None:
        with self._model_lock:
            if self._model is not None:
                self._model.close()
                self._model = None
        super().destroy_node()


def monotonic_ms() -> float:
    return time.perf_counter() * 1e3
