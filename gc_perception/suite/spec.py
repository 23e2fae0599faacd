"""One suite config -> the node processes to start. Shared by the launch files and the runner.

A NodeSpec is everything needed to start one node: console script, name, namespace,
parameters and remaps. `ros_arguments` gives the --ros-args form for the runner; the launch
files hand the same fields to launch_ros.actions.Node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gc_perception.resources import find_config, find_media

MEDIA_PREFIX = "media:"
EXECUTABLES = (
    "camera_source", "vision_detector", "audio_source", "audio_detector", "resource_monitor",
    "adascale_manager",
)


class SuiteConfigError(ValueError):
    """The suite config is malformed; the message names the place."""


@dataclass(frozen=True)
class NodeSpec:
    executable: str
    name: str
    namespace: str
    group: str
    parameters: dict[str, Any] = field(default_factory=dict)
    remaps: dict[str, str] = field(default_factory=dict)

    @property
    def fqn(self) -> str:
        """Fully qualified node name, e.g. /cam_a/person_detector."""
        return f"{self.namespace.rstrip('/')}/{self.name}" if self.namespace else f"/{self.name}"

    def parameters_document(self) -> dict[str, Any]:
        """A ROS 2 parameters-file document for this node alone."""
        return {self.fqn: {"ros__parameters": dict(self.parameters)}}

    def ros_arguments(self, params_file: Path | None) -> list[str]:
        arguments = ["--ros-args", "-r", f"__node:={self.name}"]
        if self.namespace:
            arguments += ["-r", f"__ns:={self.namespace}"]
        if params_file is not None:
            arguments += ["--params-file", str(params_file)]
        for source, target in self.remaps.items():
            arguments += ["-r", f"{source}:={target}"]
        return arguments


@dataclass
class SuiteOptions:
    """What a user may change without editing the config (launch arguments, runner flags)."""

    namespaces: list[str] | None = None  # replaces the config's devices
    groups: set[str] | None = None  # replaces the config's default groups
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # node -> parameters


def default_config_path() -> Path:
    return find_config("suite.yaml")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a suite config (SuiteConfigError naming what is wrong)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise SuiteConfigError(f"cannot read suite config {path}: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict) or not data["nodes"]:
        raise SuiteConfigError(f"{path}: needs a non-empty 'nodes' mapping")
    for name, node in data["nodes"].items():
        _check_node(path, name, node)
    for device in data.get("devices", [{"namespace": ""}]):
        if not isinstance(device, dict) or not isinstance(device.get("namespace", ""), str):
            raise SuiteConfigError(f"{path}: each device needs a string 'namespace'")
    return data


def _check_node(path: str | Path, name: str, node: Any) -> None:
    where = f"{path}: node {name!r}"
    if not isinstance(node, dict):
        raise SuiteConfigError(f"{where} must be a mapping")
    if node.get("executable") not in EXECUTABLES:
        raise SuiteConfigError(f"{where}: executable must be one of {list(EXECUTABLES)}")
    if not isinstance(node.get("group", ""), str):
        raise SuiteConfigError(f"{where}: group must be a string")
    for key in ("parameters", "remaps"):
        if not isinstance(node.get(key) or {}, dict):
            raise SuiteConfigError(f"{where}: {key} must be a mapping")


def normalise_namespace(namespace: str) -> str:
    namespace = namespace.strip().strip("/")
    return f"/{namespace}" if namespace else ""


def resolve_media(value: Any) -> Any:
    """'media:<file>' -> absolute path of the shipped file; other values unchanged."""
    if isinstance(value, str) and value.startswith(MEDIA_PREFIX):
        return str(find_media(value[len(MEDIA_PREFIX):]))
    return value


def node_specs(config: Mapping[str, Any], options: SuiteOptions | None = None) -> list[NodeSpec]:
    """Every node of every device namespace in the enabled groups, parameters resolved."""
    options = options or SuiteOptions()
    namespaces = options.namespaces
    if namespaces is None:
        namespaces = [d.get("namespace", "") for d in config.get("devices", [{"namespace": ""}])]
    groups = options.groups if options.groups is not None else set(config.get("groups", []))
    unknown = set(options.overrides) - set(config["nodes"])
    if unknown:
        raise SuiteConfigError(f"overrides for unknown nodes {sorted(unknown)}")
    specs = []
    for namespace in namespaces:
        for name, node in config["nodes"].items():
            group = node.get("group", "")
            if groups and group not in groups:
                continue
            parameters = {**(node.get("parameters") or {}), **options.overrides.get(name, {})}
            specs.append(NodeSpec(
                executable=node["executable"], name=name,
                namespace=normalise_namespace(namespace), group=group,
                parameters={k: resolve_media(v) for k, v in parameters.items()},
                remaps=dict(node.get("remaps") or {}),
            ))
    return specs


def suite_specs(
    config_path: str | Path | None = None, options: SuiteOptions | None = None
) -> list[NodeSpec]:
    """load_config + node_specs, with the packaged config/suite.yaml as the default."""
    return node_specs(load_config(config_path or default_config_path()), options)


def parse_groups(text: str) -> set[str] | None:
    """'vision,audio' -> {'vision', 'audio'}; '' -> None (the config's default groups)."""
    groups = {part.strip() for part in text.split(",") if part.strip()}
    return groups or None


def parse_namespaces(text: str) -> list[str] | None:
    """'cam_a,cam_b' -> ['/cam_a', '/cam_b']; '' -> None (the config's devices)."""
    names = [normalise_namespace(part) for part in text.split(",") if part.strip()]
    return names or None


SOURCE_PARAMETERS = {"video": ("camera", "source"), "audio": ("microphone", "source")}


def suite_options(
    namespaces: str = "",
    groups: str = "",
    video: str | None = None,
    audio: str | None = None,
    assignments: Iterable[tuple[str, str, Any]] = (),
) -> SuiteOptions:
    """SuiteOptions from the user's words (runner flags and launch arguments alike)."""
    overrides: dict[str, dict[str, Any]] = {}
    for flag, value in (("video", video), ("audio", audio)):
        if value:
            node, param = SOURCE_PARAMETERS[flag]
            overrides.setdefault(node, {})[param] = value
    for node, param, value in assignments:
        overrides.setdefault(node, {})[param] = value
    return SuiteOptions(parse_namespaces(namespaces), parse_groups(groups), overrides)
