"""resource_monitor: samples the device and publishes its state for the AdaScale manager.

Topics (relative, so namespaces and remaps work):
  device_state   std_msgs/String, JSON of gc_perception.monitor.device_state (the schema),
                 reliable + transient_local, depth 1: a late joiner gets the last state
  /diagnostics   diagnostic_msgs/DiagnosticArray: "<node>: cpu", "<node>: memory",
                 "<node>: temperature", "<node>: battery", "<node>: suite processes"
Both at rate_hz while enabled. Simulated conditions (`scenario`, `sim_*`) are overlaid on the
real readings and flagged as such in both.
"""

from __future__ import annotations

import time
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from gc_perception.adascale.energy import default_device_config
from gc_perception.adascale.topology import load_topology
from gc_perception.monitor import simulation, thresholds
from gc_perception.monitor.sampler import Sampler, SuiteProcesses
from gc_perception.monitor.simulation import Simulation, load_scenario, resolve_scenario
from gc_perception.nodes.node_support import DiagnosticsPublisher, NodeParameters, run
from gc_perception.params import ParamSpec, rejects

STATE_QOS = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


def parse_pids(text: str) -> list[int]:
    """PIDs from "123, 456" ('' = none)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise ValueError(f"expected comma-separated PIDs, got {text!r}")
    return [int(part) for part in parts]


SPECS = [
    ParamSpec("enabled", True, "Sample and publish (false = paused, no sampling cost)"),
    ParamSpec("rate_hz", 2.0, "Samples per second", min_value=0.1, max_value=20.0),
    ParamSpec(
        "device_config",
        "",
        "Device YAML (core classes); '' = packaged config/device.yaml",
        validator=rejects(load_topology),
    ),
    ParamSpec(
        "scenario",
        "",
        "Simulation scenario: a YAML path, or a name in config/scenarios "
        "(e.g. low_battery); '' = none. Restarts from t=0 when set",
        validator=rejects(lambda name: load_scenario(resolve_scenario(name))),
    ),
    ParamSpec(
        "watch_pids",
        "",
        "Extra PIDs to report with the suite's processes, e.g. '123,456'",
        validator=rejects(parse_pids),
    ),
    ParamSpec(
        "process_rescan_s",
        10.0,
        "Seconds between scans for new suite processes (a scan costs a few ms)",
        min_value=1.0,
        max_value=3600.0,
    ),
    *simulation.parameter_specs(),
    *thresholds.parameter_specs(),
]
SAMPLER_KEYS = {"device_config", "watch_pids", "process_rescan_s"}
THRESHOLD_KEYS = {spec.name for spec in thresholds.parameter_specs()}
TIMER_KEYS = {"enabled", "rate_hz"}


class ResourceMonitorNode(Node):
    """Each tick: sample, overlay the simulation, publish device_state and /diagnostics."""

    def __init__(self) -> None:
        super().__init__("resource_monitor")
        self._params = NodeParameters(self, SPECS, apply=self._apply)
        self._config: dict[str, Any] = self._params.values()
        self._state_pub = self.create_publisher(String, "device_state", STATE_QOS)
        self._diagnostics = DiagnosticsPublisher(self)
        self._sampler = self._make_sampler(self._config)
        self._health = self._startup_health()
        self._simulation = Simulation()
        self._set_scenario(self._config["scenario"])
        self._simulation.overrides = simulation.overlay_from_parameters(self._config)
        self._timer = None
        self._restart_timer()
        self._params.ready()

    def _apply(self, changes: dict[str, Any]) -> str | None:
        config = {**self._config, **changes}
        try:
            sampler = self._make_sampler(config) if SAMPLER_KEYS & changes.keys() else None
            health = self._make_health(config) if THRESHOLD_KEYS & changes.keys() else None
            if "scenario" in changes:
                self._set_scenario(config["scenario"])
        except (ValueError, OSError) as error:
            return str(error)
        self._config = config
        self._sampler = sampler or self._sampler
        self._health = health or self._health
        self._simulation.overrides = simulation.overlay_from_parameters(config)
        if TIMER_KEYS & changes.keys():
            self._restart_timer()
        return None

    def _make_sampler(self, config: dict[str, Any]) -> Sampler:
        device_config = config["device_config"] or default_device_config()
        topology = load_topology(device_config)
        self.get_logger().info(
            f"core classes {topology.classes} from {topology.source} ({topology.note})"
        )
        processes = SuiteProcesses(
            pids=parse_pids(config["watch_pids"]), rescan_period_s=config["process_rescan_s"]
        )
        return Sampler(topology, processes=processes)

    def _make_health(self, config: dict[str, Any]) -> thresholds.DeviceHealth:
        settings = thresholds.settings_from_parameters(config)
        return thresholds.DeviceHealth(settings, self._diagnostics.status_name)

    def _startup_health(self) -> thresholds.DeviceHealth:
        """Thresholds from the start-up values; the defaults if those disagree (warn > error)."""
        try:
            return self._make_health(self._config)
        except ValueError as error:
            self.get_logger().error(f"start-up thresholds refused, using defaults: {error}")
            return thresholds.DeviceHealth(
                thresholds.ThresholdSettings(), self._diagnostics.status_name
            )

    def _set_scenario(self, name_or_path: str) -> None:
        scenario = load_scenario(resolve_scenario(name_or_path)) if name_or_path else None
        self._simulation.scenario = scenario
        self._simulation.scenario_started_at = time.monotonic()
        if scenario is not None:
            self.get_logger().info(f"simulating scenario {scenario.name}: {scenario.description}")

    def _restart_timer(self) -> None:
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        if self._config["enabled"]:
            self._timer = self.create_timer(1.0 / self._config["rate_hz"], self._tick)

    def _tick(self) -> None:
        state = self._simulation.apply(self._sampler.sample(), time.monotonic())
        self._state_pub.publish(String(data=state.to_json()))
        self._diagnostics.publish(self._health.evaluate(state))


def main(args: list[str] | None = None) -> None:
    run(ResourceMonitorNode, args)


if __name__ == "__main__":
    main()
