"""Where the package's data lives: config/, models/ and media/ of the source tree (pip -e) or of
the installed share folder (colcon / ament), so nodes find them however they were installed."""

from __future__ import annotations

from pathlib import Path

PACKAGE = "gc_perception"
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def find_data(folder: str, name: str) -> Path:
    """`<folder>/<name>` from the source tree, else from share/gc_perception (FileNotFoundError)."""
    source_tree = SOURCE_ROOT / folder / name
    if source_tree.exists():
        return source_tree
    try:
        from ament_index_python.packages import get_package_share_directory

        installed = Path(get_package_share_directory(PACKAGE)) / folder / name
    except (ImportError, LookupError, OSError) as error:
        raise FileNotFoundError(f"{folder}/{name} not found: {error}") from error
    if not installed.exists():
        raise FileNotFoundError(f"{folder}/{name} not found at {installed}")
    return installed


def find_config(name: str) -> Path:
    return find_data("config", name)


def find_model_manifest(model: str) -> Path:
    """A manifest path given either a path (file or folder) or a shipped model id."""
    path = Path(model).expanduser()
    if path.is_dir():
        path = path / "manifest.json"
    if path.is_file():
        return path
    if "/" in model or model.endswith(".json"):
        raise FileNotFoundError(f"model manifest {model!r} not found")
    return find_data("models", f"{model}/manifest.json")


def find_media(name: str) -> Path:
    return find_data("media", name)
