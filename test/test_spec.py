from pathlib import Path

import pytest
import yaml

from gc_perception.suite.spec import (
    NodeSpec,
    SuiteConfigError,
    SuiteOptions,
    load_config,
    node_specs,
    parse_groups,
    parse_namespaces,
)


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


CONFIG = {
    "devices": [{"namespace": "cam_a"}, {"namespace": "/cam_b/"}],
    "groups": ["vision", "monitor"],
    "nodes": {
        "camera": {"executable": "camera_source", "group": "vision",
                   "parameters": {"source": "/videos/x.mp4", "fps": 5.0}},
        "person_detector": {"executable": "vision_detector", "group": "vision",
                            "remaps": {"image_raw": "camera/image"}},
        "keyword_detector": {"executable": "audio_detector", "group": "audio"},
        "resource_monitor": {"executable": "resource_monitor", "group": "monitor"},
    },
}


def test_every_device_gets_the_enabled_groups(tmp_path):
    specs = node_specs(load_config(write(tmp_path, CONFIG)))
    assert [s.fqn for s in specs] == [
        "/cam_a/camera", "/cam_a/person_detector", "/cam_a/resource_monitor",
        "/cam_b/camera", "/cam_b/person_detector", "/cam_b/resource_monitor",
    ]
    detector = specs[1]
    assert detector.remaps == {"image_raw": "camera/image"}
    assert detector.parameters_document() == {"/cam_a/person_detector": {"ros__parameters": {}}}


def test_options_replace_namespaces_groups_and_parameters(tmp_path):
    options = SuiteOptions(namespaces=[""], groups={"audio", "vision"},
                           overrides={"camera": {"source": "rtsp://127.0.0.1/cam"}})
    specs = node_specs(load_config(write(tmp_path, CONFIG)), options)
    assert [s.fqn for s in specs] == ["/camera", "/person_detector", "/keyword_detector"]
    assert specs[0].parameters == {"source": "rtsp://127.0.0.1/cam", "fps": 5.0}
    with pytest.raises(SuiteConfigError, match="unknown nodes"):
        node_specs(CONFIG, SuiteOptions(overrides={"nope": {}}))


def test_ros_arguments_name_the_node_and_its_parameters_file():
    spec = NodeSpec("vision_detector", "dog", "/cam_a", "vision", remaps={"image_raw": "img"})
    assert spec.ros_arguments(Path("/p.yaml")) == [
        "--ros-args", "-r", "__node:=dog", "-r", "__ns:=/cam_a", "--params-file", "/p.yaml",
        "-r", "image_raw:=img",
    ]


@pytest.mark.parametrize(("data", "reason"), [
    ({"nodes": {}}, "non-empty 'nodes'"),
    ({"nodes": {"x": {"executable": "rm"}}}, "executable must be one of"),
    ({"nodes": {"x": {"executable": "camera_source", "parameters": [1]}}}, "parameters"),
    ({"nodes": {"x": {"executable": "camera_source"}}, "devices": [{"namespace": 3}]},
     "namespace"),
])
def test_malformed_configs_are_refused_with_the_place(tmp_path, data, reason):
    with pytest.raises(SuiteConfigError, match=reason):
        load_config(write(tmp_path, data))


def test_media_references_must_exist(tmp_path):
    data = {"nodes": {"camera": {"executable": "camera_source",
                                 "parameters": {"source": "media:none/such.avi"}}}}
    with pytest.raises(FileNotFoundError, match=r"such\.avi"):
        node_specs(load_config(write(tmp_path, data)))


def test_flag_parsing():
    assert parse_groups(" vision, audio ,") == {"vision", "audio"}
    assert parse_groups("") is None
    assert parse_namespaces("cam_a,/cam_b") == ["/cam_a", "/cam_b"]
    assert parse_namespaces("") is None
