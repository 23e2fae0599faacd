"""An rclpy node spun on a background thread, for programs that are not nodes themselves
(the demo's recorder, the test probe): callbacks run while the main thread does its work."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import rclpy
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python

CALL_TIMEOUT_S = 10.0


class BackgroundNode:
    """Own rclpy context + node + executor thread; close() ends all three."""

    def __init__(self, name: str) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node: Node = rclpy.create_node(name, context=self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=f"{name}_spin", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        with contextlib.suppress(ExternalShutdownException):
            self._executor.spin()

    def call(self, srv_type: type, service: str, request: Any, timeout: float = CALL_TIMEOUT_S):
        """Call a service and wait for its answer (the service must appear within `timeout`)."""
        client = self.node.create_client(srv_type, service)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f"service {service} did not appear within {timeout:.1f} s")
            done = threading.Event()
            future = client.call_async(request)
            future.add_done_callback(lambda _future: done.set())
            if not done.wait(timeout):
                raise TimeoutError(f"service {service} did not answer within {timeout:.1f} s")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def set_parameters(
        self, node_fqn: str, values: dict[str, Any], timeout: float = CALL_TIMEOUT_S
    ) -> list[Any]:
        """`<node>/set_parameters`; returns the SetParametersResult list (one per value)."""
        request = SetParameters.Request(
            parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        )
        return self.call(SetParameters, f"{node_fqn}/set_parameters", request, timeout).results

    def get_parameters(
        self, node_fqn: str, names: list[str], timeout: float = CALL_TIMEOUT_S
    ) -> dict[str, Any]:
        request = GetParameters.Request(names=names)
        answer = self.call(GetParameters, f"{node_fqn}/get_parameters", request, timeout)
        return {n: parameter_value_to_python(v) for n, v in zip(names, answer.values, strict=True)}

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5.0)
