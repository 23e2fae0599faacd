"""ament_python package setup: the same file serves colcon (ROS 2 workspace) and pip (-e)."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "gc_perception"
HERE = Path(__file__).parent

# Console scripts: one per node and tool. `ros2 run gc_perception <name>` finds them in
# lib/gc_perception (setup.cfg); pip puts them on the venv's PATH.
CONSOLE_SCRIPTS = [
    "camera_source = gc_perception.nodes.camera_source:main",
    "vision_detector = gc_perception.nodes.vision_detector:main",
    "audio_source = gc_perception.nodes.audio_source:main",
    "audio_detector = gc_perception.nodes.audio_detector:main",
    "resource_monitor = gc_perception.nodes.resource_monitor:main",
    "adascale_manager = gc_perception.nodes.adascale_manager:main",
    "gc-perception = gc_perception.suite.cli:main",
    "gc-perception-profile = gc_perception.adascale.profiler:main",
]


def share_tree(folder: str, patterns: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """data_files entries that install `folder` (recursively) under share/<package>/."""
    entries: dict[str, list[str]] = {}
    root = HERE / folder
    for pattern in patterns:
        for path in sorted(root.rglob(pattern)):
            if path.is_file():
                rel = path.relative_to(HERE)
                entries.setdefault(f"share/{PACKAGE}/{rel.parent}", []).append(str(rel))
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "bench", "bench.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *share_tree("launch", ("*.launch.py",)),
        *share_tree("config", ("*.yaml", "*.xml", "*.json")),
        *share_tree("models", ("*.onnx", "*.json", "*.md")),
        *share_tree("media", ("*",)),
    ],
    install_requires=["setuptools"],
    extras_require={"train": ["torch==2.13.0", "matplotlib", "tqdm"]},
    zip_safe=True,
    maintainer="gc_perception maintainers",
    maintainer_email="maintainers@gc-perception.invalid",
    description="GC-gated always-on perception nodes with AdaScale adaptation for ROS 2",
    license="Apache-2.0",
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
