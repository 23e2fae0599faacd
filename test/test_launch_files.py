"""The launch files, run against minimal stand-ins for `launch`/`launch_ros` (not installable
here): they declare the documented arguments and start exactly the suite specs."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest
import yaml

from gc_perception.suite.spec import suite_options, suite_specs

LAUNCH_DIR = Path(__file__).resolve().parent.parent / "launch"


class Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class FakeContext:
    def __init__(self, values: dict[str, str]):
        self.values = values


@pytest.fixture
def stub_launch(monkeypatch):
    declared: dict[str, str] = {}

    class DeclareLaunchArgument(Recorded):
        def __init__(self, name, default_value="", description=""):
            super().__init__(name, default_value=default_value, description=description)
            declared[name] = default_value

    class LaunchConfiguration:
        def __init__(self, name):
            self.name = name

        def perform(self, context):
            return context.values.get(self.name, declared[self.name])

    modules = {
        "launch": {"LaunchDescription": Recorded, "LaunchContext": FakeContext},
        "launch.actions": {"DeclareLaunchArgument": DeclareLaunchArgument,
                           "OpaqueFunction": Recorded},
        "launch.substitutions": {"LaunchConfiguration": LaunchConfiguration},
        "launch_ros": {},
        "launch_ros.actions": {"Node": Recorded},
    }
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "gc_perception.suite.ros_launch", raising=False)
    return declared


def load_launch_file(name: str):
    spec = importlib.util.spec_from_file_location(name.replace(".", "_"), LAUNCH_DIR / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.fixture
def suite_file(tmp_path) -> Path:
    nodes = {
        "camera": {"executable": "camera_source", "group": "vision",
                   "parameters": {"source": "/v.mp4"}},
        "person_detector": {"executable": "vision_detector", "group": "vision"},
        "microphone": {"executable": "audio_source", "group": "audio"},
        "keyword_detector": {"executable": "audio_detector", "group": "audio"},
        "resource_monitor": {"executable": "resource_monitor", "group": "monitor"},
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"nodes": nodes}))
    return path


@pytest.mark.parametrize(("launch_file", "groups"), [
    ("edge_perception.launch.py", "vision,audio,monitor,manager"),
    ("vision.launch.py", "vision,monitor,manager"),
    ("audio.launch.py", "audio,monitor,manager"),
])
def test_launch_files_start_the_suite_specs(stub_launch, suite_file, launch_file, groups):
    description = load_launch_file(launch_file)
    actions = description.args[0]
    assert stub_launch["groups"] == groups
    documented = {"namespace", "config", "video", "audio", "person_model", "kws_model"}
    assert documented <= set(stub_launch)
    context = FakeContext({"config": str(suite_file), "namespace": "cam_a,cam_b",
                           "video": "rtsp://127.0.0.1/cam", "person_model": "/m/manifest.json"})
    nodes = actions[-1].kwargs["function"](context)
    expected = suite_specs(suite_file, suite_options(
        "cam_a,cam_b", groups, "rtsp://127.0.0.1/cam", None,
        [("person_detector", "model", "/m/manifest.json")]))
    assert [(n.kwargs["namespace"], n.kwargs["name"], n.kwargs["executable"]) for n in nodes] == [
        (s.namespace, s.name, s.executable) for s in expected]
    assert [n.kwargs["parameters"] for n in nodes] == [[s.parameters] for s in expected]
    cameras = [n for n in nodes if n.kwargs["name"] == "camera"]
    assert len(cameras) == (2 if "vision" in groups else 0)
    assert all(c.kwargs["parameters"] == [{"source": "rtsp://127.0.0.1/cam"}] for c in cameras)
    assert all(n.kwargs["package"] == "gc_perception" for n in nodes)
