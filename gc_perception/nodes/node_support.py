"""What every gc_perception node shares: declared + validated parameters, /diagnostics, main()."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterValueException
from rclpy.executors import (
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rclpy.node import Node

from gc_perception import ros_env
from gc_perception.diagnostics import Status
from gc_perception.params import ParamSpec, check_all, index

ApplyChanges = Callable[[dict[str, Any]], str | None]


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """A ParameterDescriptor that shows the spec's range or choices to ROS tools.

    Ranges go in `additional_constraints` text rather than floating_point_range/integer_range:
    rclpy enforces those before our callback runs, so refusals would escape our log and count.
    """
    constraints = []
    if spec.choices is not None:
        constraints.append("one of: " + ", ".join(map(str, spec.choices)))
    if spec.min_value is not None or spec.max_value is not None:
        low = "-inf" if spec.min_value is None else spec.min_value
        high = "inf" if spec.max_value is None else spec.max_value
        constraints.append(f"range: {low} .. {high}")
    return ParameterDescriptor(
        description=spec.description,
        read_only=spec.read_only,
        additional_constraints="; ".join(constraints),
    )


class NodeParameters:
    """Declares a node's ParamSpecs and routes every change through validation, then `apply`.

    `apply(changes)` runs only after `ready()`; it returns a reason to refuse the change (e.g. a
    model branch that fails to load) or None. A refused change leaves the old value in place and
    is counted in `rejected`; the node keeps running. A bad start-up override (params file, -p)
    is refused the same way: logged, counted, and the default used instead.
    """

    def __init__(self, node: Node, specs: Iterable[ParamSpec], apply: ApplyChanges | None = None):
        self._node = node
        self._specs = index(specs)
        self._apply = apply
        self._ready = False
        self.rejected = 0
        self.last_rejection = ""
        node.add_on_set_parameters_callback(self._on_set)
        for spec in self._specs.values():
            self._declare(spec)

    def _declare(self, spec: ParamSpec) -> None:
        try:
            self._node.declare_parameter(spec.name, spec.default, descriptor(spec))
        except InvalidParameterValueException as error:
            self._node.get_logger().error(f"start-up value refused, using default: {error}")
            self._node.declare_parameter(
                spec.name, spec.default, descriptor(spec), ignore_override=True
            )

    def ready(self) -> None:
        """From now on accepted changes are applied."""
        self._ready = True

    def value(self, name: str) -> Any:
        return self._node.get_parameter(name).value

    def values(self) -> dict[str, Any]:
        return {name: self.value(name) for name in self._specs}

    def _on_set(self, parameters: list) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters}
        reason = check_all(self._specs, changes)
        if reason is None and self._ready and self._apply is not None:
            ours = {name: value for name, value in changes.items() if name in self._specs}
            try:
                reason = self._apply(ours) if ours else None
            except Exception as error:  # a failed apply must refuse the change, not kill the node
                reason = f"could not apply {sorted(ours)}: {error}"
        if reason:
            self.rejected += 1
            self.last_rejection = reason
            self._node.get_logger().warning(f"parameter change refused: {reason}")
            return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)


class DiagnosticsPublisher:
    """Publishes Status objects on /diagnostics (absolute: aggregators listen there)."""

    def __init__(self, node: Node, hardware_id: str = "") -> None:
        self._node = node
        self._hardware_id = hardware_id or node.get_fully_qualified_name()
        self._publisher = node.create_publisher(DiagnosticArray, "/diagnostics", 10)

    def status_name(self, part: str) -> str:
        return f"{self._node.get_fully_qualified_name().lstrip('/')}: {part}"

    def publish(self, statuses: Iterable[Status]) -> None:
        message = DiagnosticArray()
        message.header.stamp = self._node.get_clock().now().to_msg()
        for status in statuses:
            message.status.append(
                DiagnosticStatus(
                    level=bytes([int(status.level)]),
                    name=status.name,
                    message=status.message,
                    hardware_id=self._hardware_id,
                    values=[KeyValue(key=k, value=v) for k, v in status.string_values()],
                )
            )
        self._publisher.publish(message)


def run(node_factory: Callable[[], Node], args: list[str] | None = None, threads: int = 2) -> None:
    """Entry point body: localhost DDS, init, spin until Ctrl-C/SIGTERM, clean shutdown.

    threads=1 spins a SingleThreadedExecutor: callbacks then wait for each other, but each
    message reaches its callback ~1.5 ms sooner on a 2-core VM (rclpy's thread pool hand-off
    and its Python wait loop compete for the GIL), which a node on a camera stream wants.
    """
    ros_env.configure()
    rclpy.init(args=args)
    node = None
    try:
        node = node_factory()
        executor = (SingleThreadedExecutor() if threads == 1
                    else MultiThreadedExecutor(num_threads=threads))
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()

