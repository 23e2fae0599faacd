"""The body of the launch files in launch/: suite specs -> launch_ros Node actions.

Imported only by `ros2 launch` on a machine with a ROS 2 distro (launch, launch_ros). The node
list comes from gc_perception.suite.spec, exactly as for the pip-only runner.
"""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from gc_perception.suite.spec import suite_options, suite_specs
from launch import LaunchContext, LaunchDescription

MODEL_ARGUMENTS = {
    "person_model": "person_detector",
    "dog_model": "dog_detector",
    "kws_model": "keyword_detector",
}


def launch_arguments(default_groups: str) -> list[DeclareLaunchArgument]:
    described = {
        "namespace": ("", "Device namespace(s), comma-separated (fleet); '' = the config's"),
        "config": ("", "Suite YAML; '' = the packaged config/suite.yaml"),
        "groups": (default_groups, "Groups to start: vision, audio, monitor, manager"),
        "video": ("", "Camera source override: video file, image folder, device or URL"),
        "audio": ("", "Audio source override: WAV file or folder"),
        **{name: ("", f"Model of {node} (model id or manifest path); '' = config's")
           for name, node in MODEL_ARGUMENTS.items()},
    }
    return [DeclareLaunchArgument(name, default_value=default, description=text)
            for name, (default, text) in described.items()]


def node_actions(context: LaunchContext) -> list[Node]:
    def value(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    models = [(node, "model", value(arg)) for arg, node in MODEL_ARGUMENTS.items() if value(arg)]
    options = suite_options(value("namespace"), value("groups"), value("video") or None,
                            value("audio") or None, models)
    return [
        Node(package="gc_perception", executable=spec.executable, name=spec.name,
             namespace=spec.namespace or "", parameters=[spec.parameters],
             remappings=list(spec.remaps.items()), output="screen")
        for spec in suite_specs(value("config") or None, options)
    ]


def generate(default_groups: str) -> LaunchDescription:
    actions = [*launch_arguments(default_groups), OpaqueFunction(function=node_actions)]
    return LaunchDescription(actions)
