"""adascale_manager: adapts each detector's branch and CPU placement to the device, live.

Topics (relative, so a device namespace works):
  device_state         std_msgs/String in  (JSON, gc_perception.monitor.device_state;
                       reliable + transient-local, so the last state arrives on start)
  /diagnostics         diagnostic_msgs/DiagnosticArray in (the detectors' '<node>: detector'
                       figures) and out ('<manager>: manager')
  <node>/detections    std_msgs/String in (per-input latency of managed vision detectors, for
                       the online refinement; nodes without it are refined from /diagnostics)
  adascale/decisions   std_msgs/String out (JSON, gc_perception.events 'decision')
The manager changes detectors only through `<node>/set_parameters` (branch, stage_a_cpus,
stage_b_cpus, stage_a_threads, stage_b_threads), with async calls polled from its timer, so the
executor never blocks; every SetParametersResult is checked and a failure is retried with
doubling delays. Nodes may start late, die or restart (see adascale/managed_nodes.py).

Each period: smoothed device conditions + goals (goals_file) + branch profiles (profiler cache,
measured in a background thread when missing) -> gc_perception.adascale.policy -> decisions.
A detector that is disabled (`enabled` false) is left as it is until it is enabled again.
All logic lives in gc_perception.adascale; this node only wires it to ROS.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from gc_perception.adascale import profiler
from gc_perception.adascale.energy import default_device_config, load_power_table
from gc_perception.adascale.managed_nodes import (
    ManagedNode,
    decision_event,
    parse_detector_status,
)
from gc_perception.adascale.policy import (
    Choice,
    Conditions,
    Decision,
    Modes,
    Settings,
    conditions_from_state,
    decide,
    goals_from_config,
    resolve_modes,
    resolve_node_name,
    smooth,
    stage_parameters,
)
from gc_perception.adascale.profiles import LatencyCorrections, ModelProfile
from gc_perception.adascale.topology import load_topology
from gc_perception.diagnostics import Level, Status
from gc_perception.events import EventError, parse_event, to_json
from gc_perception.monitor.device_state import DeviceState
from gc_perception.nodes.node_support import DiagnosticsPublisher, NodeParameters, run
from gc_perception.params import ParamSpec
from gc_perception.resources import find_config, find_model_manifest

STATE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)
CALL_TIMEOUT_S = 5.0
SETTINGS_KEYS = ("dwell_s", "switch_margin", "battery_low_percent", "temperature_high_celsius",
                 "memory_high_percent")


def _goals_path(value: str) -> Path:
    return Path(value).expanduser() if value else find_config("adascale.yaml")


def _goals_problem(value: str) -> str | None:
    try:
        goals_from_config(yaml.safe_load(_goals_path(value).read_text()) or {})
    except (OSError, ValueError, yaml.YAMLError) as error:
        return str(error)
    return None


def _device_problem(value: str) -> str | None:
    try:
        load_topology(value or default_device_config())
        load_power_table(value or default_device_config())
    except (OSError, ValueError, KeyError) as error:
        return str(error)
    return None


def split_names(text: str) -> list[str]:
    """Node names from a comma-separated list ('' = none)."""
    return [name.strip() for name in text.split(",") if name.strip()]


SPECS = [
    ParamSpec("enabled", True, "Decide and actuate (false = observe only)"),
    ParamSpec("goals_file", "", "Goals YAML (latency_budget_ms, min_accuracy, priority, "
              "memory_budget_mb, model per node); '' = packaged config/adascale.yaml",
              validator=_goals_problem),
    ParamSpec("managed_nodes", "", "Comma-separated node names to manage (relative names are in "
              "this node's namespace); '' = every node of the goals file"),
    ParamSpec("device_config", "", "Device YAML (core classes, power); '' = packaged "
              "config/device.yaml", validator=_device_problem),
    ParamSpec("period_s", 1.0, "Decision period", min_value=0.1, max_value=60.0),
    ParamSpec("dwell_s", 10.0, "Minimum time between two changes of one node",
              min_value=0.0, max_value=3600.0),
    ParamSpec("switch_margin", 0.15, "Latency headroom a new choice needs, and the energy or "
              "memory share it must save, before the manager switches", min_value=0.0,
              max_value=0.9),
    ParamSpec("battery_low_percent", 20.0, "Energy saving below this battery level (unplugged)",
              min_value=0.0, max_value=100.0),
    ParamSpec("temperature_high_celsius", 80.0, "Energy saving above this temperature",
              min_value=0.0, max_value=150.0),
    ParamSpec("memory_high_percent", 85.0, "Memory saving above this memory use; no switch may "
              "grow memory use past it", min_value=1.0, max_value=100.0),
    ParamSpec("load_smoothing", 0.3, "EWMA weight of a new CPU load reading (1 = no smoothing)",
              min_value=0.05, max_value=1.0),
    ParamSpec("refine_weight", 0.2, "EWMA weight of an observed/predicted latency ratio from "
              "diagnostics (0 = no online refinement)", min_value=0.0, max_value=1.0),
    ParamSpec("profile_cache_dir", "", "Profile cache folder; '' = "
              "~/.cache/gc_perception/profiles"),
    ParamSpec("profile_on_start", True, "Profile a model without a fresh cache (background)"),
    ParamSpec("profile_runs", 30, "Timed runs per branch and core class when profiling",
              min_value=3, max_value=1000),
    ParamSpec("node_timeout_s", 5.0, "A node silent on /diagnostics this long is left alone",
              min_value=0.5, max_value=600.0),
    ParamSpec("device_state_timeout_s", 10.0, "No decisions on a device_state older than this",
              min_value=0.5, max_value=600.0),
]


class AdaScaleManagerNode(Node):
    """Wires device_state, /diagnostics and set_parameters to the policy (see module doc)."""

    def __init__(self) -> None:
        super().__init__("adascale_manager")
        self._params = NodeParameters(self, SPECS, apply=self._apply)
        self.config: dict[str, Any] = self._params.values()
        # Everything (parameter services too) in the node's default mutually exclusive group:
        # one callback at a time, so the state needs no locks.
        group = self._group = self.default_callback_group
        self._nodes: dict[str, ManagedNode] = {}
        self._frame_subscriptions: dict[str, Any] = {}
        self._load_device(self.config)
        problem = self._load_goals(self.config)
        if problem:
            self.get_logger().error(f"managing no node: {problem}")
        self._profiles: dict[str, ModelProfile | Future | str] = {}  # manifest -> state
        self._profiler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="profiler")
        self._corrections = LatencyCorrections(weight=self.config["refine_weight"])
        self._conditions: Conditions | None = None
        self._state: DeviceState | None = None
        self._state_at = 0.0
        self._modes = Modes()
        self._predicted: dict[str, tuple[Choice, float]] = {}  # node -> (choice, uncorrected ms)
        self._calls: dict[str, tuple[Future, Choice, int | None]] = {}
        self._param_clients: dict[str, Any] = {}
        self._counts = {"decisions": 0, "apply_failures": 0, "bad_states": 0}
        self._last_reason = ""
        self._decisions_pub = self.create_publisher(String, "adascale/decisions", 20)
        self.create_subscription(String, "device_state", self._on_state, STATE_QOS,
                                 callback_group=group)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50,
                                 callback_group=group)
        self._diagnostics = DiagnosticsPublisher(self)
        self._timer = self.create_timer(self.config["period_s"], self._tick, callback_group=group)
        for model in profiler.goal_models(_goals_path(self.config["goals_file"])):
            self._profile_for(model)
        self._params.ready()

    # --- parameters -----------------------------------------------------------------------------
    def _apply(self, changes: dict[str, Any]) -> str | None:
        merged = {**self.config, **changes}
        if {"goals_file", "managed_nodes"} & changes.keys():
            reason = self._load_goals(merged)
            if reason:
                return reason
        if "device_config" in changes:
            self._load_device(merged)
        if "period_s" in changes:
            self._timer.cancel()
            self._timer = self.create_timer(merged["period_s"], self._tick,
                                            callback_group=self._group)
        if "refine_weight" in changes:
            self._corrections.weight = merged["refine_weight"]
        self.config = merged
        return None

    def _settings(self) -> Settings:
        return Settings(**{key: float(self.config[key]) for key in SETTINGS_KEYS})

    def _load_device(self, config: dict[str, Any]) -> None:
        path = config["device_config"] or default_device_config()
        self._topology = load_topology(path)
        self._power = load_power_table(path)

    def _load_goals(self, config: dict[str, Any]) -> str | None:
        data = yaml.safe_load(_goals_path(config["goals_file"]).read_text()) or {}
        goals = goals_from_config(data, self.get_namespace())
        wanted = [resolve_node_name(n, self.get_namespace())
                  for n in split_names(config["managed_nodes"])] or list(goals)
        missing = [name for name in wanted if name not in goals]
        if missing:
            return f"managed_nodes {missing} have no goals in the goals file"
        self._nodes = {name: self._nodes.get(name) or ManagedNode(name, goals[name])
                       for name in wanted}
        for name in wanted:
            self._nodes[name].goal = goals[name]
            if name not in self._frame_subscriptions:  # per-input latency, where published
                self._frame_subscriptions[name] = self.create_subscription(
                    String, f"{name}/detections", partial(self._on_detection, name), 10,
                    callback_group=self.default_callback_group)
        return None

    # --- inputs ---------------------------------------------------------------------------------
    def _on_state(self, message: String) -> None:
        try:
            state = DeviceState.from_json(message.data)
        except (ValueError, KeyError, TypeError) as error:
            self._counts["bad_states"] += 1
            self.get_logger().warning(f"device_state ignored: {error}", throttle_duration_sec=10)
            return
        self._state, self._state_at = state, time.monotonic()
        self._conditions = smooth(self._conditions, conditions_from_state(state),
                                  self.config["load_smoothing"])

    def _on_detection(self, name: str, message: String) -> None:
        node = self._nodes.get(name)
        try:
            event = parse_event(message.data, "detection")
        except EventError:
            return
        if node is not None:
            node.on_detection(event, time.monotonic(), self._topology)

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        now = time.monotonic()
        for status in message.status:
            report = parse_detector_status(status.name, {kv.key: kv.value for kv in status.values})
            node = self._nodes.get(report.node) if report else None
            if node is None:
                continue
            why = node.on_report(report, now, self._topology)
            if why:
                self._corrections.forget(node.name)
                self.get_logger().info(f"{node.name}: {why}; applying its choice again")
            if report.model:
                self._profile_for(report.model)

    # --- profiles -------------------------------------------------------------------------------
    def _profile_for(self, model: str) -> ModelProfile | None:
        """The model's profile if ready; starts loading or measuring it in the background."""
        try:
            key = str(find_model_manifest(model))
        except FileNotFoundError as error:
            self._profiles.setdefault(model, f"error: {error}")
            return None
        state = self._profiles.get(key)
        if state is None:
            state = self._profiler.submit(self._load_profile, key)
            self._profiles[key] = state
        if isinstance(state, Future) and state.done():
            state = self._finish_profile(key, state)
        return state if isinstance(state, ModelProfile) else None

    def _load_profile(self, manifest: str) -> ModelProfile:
        cache = self.config["profile_cache_dir"] or None
        if not self.config["profile_on_start"]:
            profile = profiler.cached_profile(manifest, self._topology, cache)
            if profile is None:
                raise RuntimeError("no fresh cached profile and profile_on_start is false: "
                                   "run gc-perception-profile")
            return profile
        profile, source = profiler.ensure_profile(manifest, self._topology, cache,
                                                  self.config["profile_runs"])
        self.get_logger().info(f"profile of {profile.model_id}: {source}")
        return profile

    def _finish_profile(self, key: str, future: Future) -> ModelProfile | str:
        try:
            self._profiles[key] = future.result()
        except Exception as error:  # a bad model must not stop the manager
            self._profiles[key] = f"error: {error}"
            self.get_logger().error(f"no profile for {key}: {error}")
        return self._profiles[key]

    # --- the loop -------------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        self._poll_calls(now)
        ready = self._ready_nodes(now)
        fresh = self._state is not None and now - self._state_at <= self.config[
            "device_state_timeout_s"]
        if self.config["enabled"] and fresh and self._conditions is not None:
            self._refine(ready, now)
            self._decide(ready, now)
            self._actuate(now)
        self._publish_diagnostics(now, fresh)

    def _ready_nodes(self, now: float) -> dict[str, ModelProfile]:
        """Live, enabled nodes whose profile is ready: {node name: profile}."""
        ready = {}
        for node in self._nodes.values():
            alive = node.alive(now, self.config["node_timeout_s"])
            if alive and node.report.enabled and node.report.model:
                profile = self._profile_for(node.report.model)
                if profile is not None:
                    ready[node.name] = profile
        return ready

    def _decide(self, ready: dict[str, ModelProfile], now: float) -> None:
        views = [self._nodes[name].view(profile, {branch: self._corrections.factor(
                     name, branch, now) for branch in profile.branches}, now)
                 for name, profile in ready.items()]
        self._modes = resolve_modes(self._conditions, self._settings(), self._modes)
        decisions = decide(views, self._conditions, self._topology, self._power,
                           self._settings(), self._modes, now)
        for decision in decisions:
            self._predicted[decision.node] = (decision.choice, decision.predicted.stages_ms)
            if decision.changed:
                self._announce(decision, now)

    def _announce(self, decision: Decision, now: float) -> None:
        node = self._nodes[decision.node]
        node.want(decision.choice, now)
        self._counts["decisions"] += 1
        self._last_reason = f"{decision.node}: {decision.reason}"
        event = decision_event(decision, node.goal, self._topology, self._conditions,
                               self._modes, list(self._state.simulated.fields), time.time())
        self._decisions_pub.publish(String(data=to_json(event)))
        self.get_logger().info(f"{decision.node}: {decision.choice.label()} ({decision.reason})")

    def _refine(self, ready: dict[str, ModelProfile], now: float) -> None:
        """Feed observed / predicted latency of each node's confirmed choice into the
        corrections."""
        for name in ready:
            node = self._nodes[name]
            choice, predicted = self._predicted.get(name, (None, (0.0, 0.0)))
            ratio = node.observed_ratio(now, predicted) if choice == node.confirmed else None
            if ratio:
                self._corrections.observe(name, choice.branch, ratio, now)

    # --- actuation ------------------------------------------------------------------------------
    def _actuate(self, now: float) -> None:
        for node in self._nodes.values():
            if node.needs_apply(now, self.config["node_timeout_s"]):
                self._call_set_parameters(node, now)

    def _call_set_parameters(self, node: ManagedNode, now: float) -> None:
        client = self._param_clients.get(node.name)
        if client is None:
            client = self.create_client(SetParameters, f"{node.name}/set_parameters",
                                        callback_group=self._group)
            self._param_clients[node.name] = client
        if not client.service_is_ready():
            self._failed(node, "set_parameters service not available", now)
            return
        values = stage_parameters(node.wanted, self._topology)
        request = SetParameters.Request(
            parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
        node.start_apply(now)
        self._calls[node.name] = (client.call_async(request), node.wanted, node.report.pid)

    def _poll_calls(self, now: float) -> None:
        for name, (future, choice, pid) in list(self._calls.items()):
            node = self._nodes.get(name)
            if future.done():
                del self._calls[name]
                if node is not None:
                    self._finish_call(node, future, choice, pid, now)
            elif node is None or now - (node.in_flight_since or now) > CALL_TIMEOUT_S:
                del self._calls[name]
                self._param_clients[name].remove_pending_request(future)
                if node is not None:
                    self._failed(node, f"no answer within {CALL_TIMEOUT_S:g} s", now)

    def _finish_call(self, node: ManagedNode, future: Future, choice: Choice, pid: int | None,
                     now: float) -> None:
        try:
            results = future.result().results
        except Exception as error:  # the call itself failed
            self._failed(node, f"call failed: {error}", now)
            return
        refused = [r.reason or "refused" for r in results if not r.successful]
        if refused:
            self._failed(node, "; ".join(refused), now)
            return
        node.finish_apply(choice, pid, "", now)
        self.get_logger().info(f"{node.name}: now on {choice.label()}")

    def _failed(self, node: ManagedNode, error: str, now: float) -> None:
        node.finish_apply(node.wanted, None, error, now)
        self._counts["apply_failures"] += 1
        self.get_logger().warning(f"{node.name}: set_parameters failed: {error}; retry in "
                                  f"{node.retry_at - now:.1f} s", throttle_duration_sec=5)

    # --- diagnostics ----------------------------------------------------------------------------
    def _publish_diagnostics(self, now: float, fresh: bool) -> None:
        level, message = Level.OK, f"{self._modes.label()} mode, {len(self._nodes)} nodes"
        if not self.config["enabled"]:
            message = "disabled (observing only)"
        elif not fresh:
            level, message = Level.WARN, "no fresh device_state: holding all choices"
        timeout = self.config["node_timeout_s"]
        if any(n.last_error for n in self._nodes.values()):
            level = max(level, Level.WARN)
        values: dict[str, Any] = {
            "mode": self._modes.label(),
            "causes": "; ".join(self._modes.causes) or "none",
            "conditions": self._conditions.summary() if self._conditions else None,
            **self._counts,
            "last_reason": self._last_reason or None,
            "rejected_parameters": self._params.rejected,
        }
        values.update({name: node.state(now, timeout) for name, node in self._nodes.items()})
        values.update({f"{name} latency": self._latency_state(name, now) for name in self._nodes})
        values.update({f"profile {Path(key).parent.name}": _profile_state(state)
                       for key, state in self._profiles.items()})
        self._diagnostics.publish([Status(self._diagnostics.status_name("manager"), level,
                                          message, values)])

    def _latency_state(self, name: str, now: float) -> str:
        """Observed against predicted latency of a node's choice: how well the model fits."""
        node = self._nodes[name]
        choice, predicted = self._predicted.get(name, (None, (0.0, 0.0)))
        ratio = node.observed_ratio(now, predicted)
        factor = self._corrections.factor(name, choice.branch, now) if choice else 1.0
        return (f"load model A {predicted[0]:.1f} ms + B {predicted[1]:.1f} ms, observed/model "
                f"p95 {'n/a' if ratio is None else f'x{ratio:.2f}'}, online correction "
                f"x{factor:.2f}, overhead {node.overhead_ms(now):.1f} ms")

    def destroy_node(self) -> None:
        self._profiler.shutdown(wait=False, cancel_futures=True)
        super().destroy_node()


def _profile_state(state: ModelProfile | Future | str) -> str:
    if isinstance(state, ModelProfile):
        return f"ready ({len(state.branches)} branches)"
    return "profiling" if isinstance(state, Future) else state


def main(args: list[str] | None = None) -> None:
    run(AdaScaleManagerNode, args)
