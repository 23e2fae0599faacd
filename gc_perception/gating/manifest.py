"""The manifest of a gated model (models/<model_id>/manifest.json) and its files' integrity.

A gated model is one network split at the GC layer into stage A (input -> gate score + handoff)
and stage B (handoff -> scores), shipped as ONNX files in several branches (compression
variants). The manifest is the contract between the build scripts and the runtime: it is
validated strictly on load and on save, so a bad build fails where it is made. File hashes are
checked before any model file is used, so a truncated copy or a tampered file is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
TASKS = ("person", "dog", "kws10", "kws35")
MODALITY_INPUT_KIND = {"vision": "image", "audio": "audio"}
DATA_KINDS = ("real", "synthetic", "mixed")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(ValueError):
    """The manifest is malformed: missing key, wrong type or inconsistent value."""


class ModelIntegrityError(RuntimeError):
    """A model file is missing or its content does not match the manifest's sha256."""


@dataclass(frozen=True)
class StageAFile:
    """Stage A: input -> (gate score in [0, 1], handoff activation)."""

    file: str
    sha256: str
    input: str
    gate_output: str
    handoff_output: str
    params: int
    macs: int


@dataclass(frozen=True)
class StageBFile:
    """Stage B: handoff -> scores [1, n_labels]."""

    file: str
    sha256: str
    input: str
    output: str
    params: int
    macs: int


@dataclass(frozen=True)
class Handoff:
    """What stage A hands to stage B, dense (the sparse size is measured per input)."""

    shape: tuple[int, ...]
    dtype: str
    dense_bytes: int


@dataclass(frozen=True)
class Gate:
    """Early stop when gate_score < threshold; `calibration` records how it was chosen."""

    threshold: float
    calibration: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Branch:
    """One compression variant of the model, e.g. fp32 at 224 px or int8 at 160 px."""

    name: str
    operators: tuple[str, ...]
    input_shape: tuple[int, ...]
    stage_a: StageAFile
    stage_b: StageBFile
    handoff: Handoff
    gate: Gate
    description: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest; `folder` is where its model files live."""

    schema_version: int
    model_id: str
    task: str
    modality: str
    labels: tuple[str, ...]
    positive_labels: tuple[str, ...]
    input: dict[str, Any]
    default_branch: str
    branches: dict[str, Branch]
    provenance: dict[str, Any]
    folder: Path

    def branch(self, name: str) -> Branch:
        """The named branch; ValueError naming the known branches otherwise."""
        if name not in self.branches:
            known = sorted(self.branches)
            raise ValueError(f"{self.model_id}: unknown branch {name!r}; known: {known}")
        return self.branches[name]

    def file_path(self, relative: str) -> Path:
        return self.folder / relative

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the schema of the module docstring)."""
        data = asdict(self)
        del data["folder"]
        for branch in data["branches"].values():
            del branch["name"]
        return json.loads(json.dumps(data))  # tuples -> lists


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest.json; ManifestError says which key is wrong and why."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such manifest") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None
    return manifest_from_dict(data, path.parent, source=str(path))


def save_manifest(manifest: Manifest | Mapping[str, Any], path: str | Path) -> Path:
    """Validate, then write atomically (build scripts): a bad manifest is never written."""
    path = Path(path)
    if isinstance(manifest, Manifest):
        manifest = manifest.to_dict()
    manifest_from_dict(manifest, path.parent, source=str(path))
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(partial, path)
    return path


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_verified(path: str | Path, expected_sha256: str) -> bytes:
    """The file's bytes, checked against the manifest hash (hash what is used: no race)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelIntegrityError(
            f"{path}: model file missing (manifest sha256 {expected_sha256})"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"{path}: sha256 mismatch, expected {expected_sha256}, got {actual} "
            f"({len(data)} bytes): the file is truncated or tampered; refusing to load it"
        )
    return data


def verify_files(manifest: Manifest, branch: str) -> None:
    """Raise ModelIntegrityError unless both stage files of `branch` match their hashes."""
    spec = manifest.branch(branch)
    for stage in (spec.stage_a, spec.stage_b):
        read_verified(manifest.file_path(stage.file), stage.sha256)


def manifest_from_dict(data: Any, folder: str | Path, source: str = "manifest") -> Manifest:
    """Validate a manifest in its JSON form; `folder` is where its files are resolved."""
    root = _Fields(data, source)
    version = root.get("schema_version", int)
    if version != SCHEMA_VERSION:
        raise ManifestError(
            f"{source}: unknown schema_version {version} (supported: {SCHEMA_VERSION})"
        )
    labels = tuple(root.get_list("labels", str))
    modality = root.get_choice("modality", tuple(MODALITY_INPUT_KIND))
    manifest = Manifest(
        schema_version=version,
        model_id=root.get("model_id", str),
        task=root.get_choice("task", TASKS),
        modality=modality,
        labels=labels,
        positive_labels=tuple(root.get_list("positive_labels", str)),
        input=_input_description(root, modality),
        default_branch=root.get("default_branch", str),
        branches=_branches(root),
        provenance=_provenance(root),
        folder=Path(folder),
    )
    _check_consistency(manifest, source)
    return manifest


def _check_consistency(manifest: Manifest, source: str) -> None:
    if not manifest.labels:
        raise ManifestError(f"{source}: labels must not be empty")
    unknown = set(manifest.positive_labels) - set(manifest.labels)
    if unknown:
        raise ManifestError(f"{source}: positive_labels {sorted(unknown)} are not in labels")
    if not manifest.branches:
        raise ManifestError(f"{source}: branches must not be empty")
    if manifest.default_branch not in manifest.branches:
        raise ManifestError(
            f"{source}: unknown default_branch {manifest.default_branch!r}; "
            f"branches: {sorted(manifest.branches)}"
        )


def _input_description(root: _Fields, modality: str) -> dict[str, Any]:
    fields = root.child("input")
    kind = fields.get_choice("kind", tuple(MODALITY_INPUT_KIND.values()))
    if kind != MODALITY_INPUT_KIND[modality]:
        raise ManifestError(f"{fields.where}.kind: {kind!r} does not fit modality {modality!r}")
    return dict(fields.data)


def _provenance(root: _Fields) -> dict[str, Any]:
    fields = root.child("provenance")
    if "data_kind" in fields.data:
        fields.get_choice("data_kind", DATA_KINDS)
    return dict(fields.data)


def _branches(root: _Fields) -> dict[str, Branch]:
    fields = root.child("branches")
    return {name: _branch(name, fields.child(name)) for name in fields.data}


def _branch(name: str, fields: _Fields) -> Branch:
    return Branch(
        name=name,
        description=fields.get("description", str, default=""),
        operators=tuple(fields.get_list("operators", str)),
        input_shape=_shape(fields, "input_shape"),
        stage_a=_stage_a(fields.child("stage_a")),
        stage_b=_stage_b(fields.child("stage_b")),
        handoff=_handoff(fields.child("handoff")),
        gate=_gate(fields.child("gate")),
        metrics=dict(fields.get("metrics", dict, default={})),
    )


def _stage_common(fields: _Fields) -> dict[str, Any]:
    sha = fields.get("sha256", str)
    if not _SHA256.fullmatch(sha):
        raise ManifestError(f"{fields.where}.sha256: expected 64 lowercase hex digits, got {sha!r}")
    return {
        "file": fields.get("file", str),
        "sha256": sha,
        "input": fields.get("input", str),
        "params": fields.get_count("params"),
        "macs": fields.get_count("macs"),
    }


def _stage_a(fields: _Fields) -> StageAFile:
    return StageAFile(
        **_stage_common(fields),
        gate_output=fields.get("gate_output", str),
        handoff_output=fields.get("handoff_output", str),
    )


def _stage_b(fields: _Fields) -> StageBFile:
    return StageBFile(**_stage_common(fields), output=fields.get("output", str))


def _handoff(fields: _Fields) -> Handoff:
    shape = _shape(fields, "shape")
    dtype = fields.get("dtype", str)
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError:
        raise ManifestError(f"{fields.where}.dtype: unknown dtype {dtype!r}") from None
    dense_bytes = fields.get_count("dense_bytes")
    if dense_bytes != math.prod(shape) * itemsize:
        raise ManifestError(
            f"{fields.where}.dense_bytes: {dense_bytes} != prod(shape) x itemsize "
            f"= {math.prod(shape) * itemsize}"
        )
    return Handoff(shape=shape, dtype=dtype, dense_bytes=dense_bytes)


def _gate(fields: _Fields) -> Gate:
    threshold = fields.get("threshold", (int, float))
    if not 0.0 <= threshold <= 1.0:
        raise ManifestError(f"{fields.where}.threshold: must be in [0, 1], got {threshold}")
    return Gate(float(threshold), dict(fields.get("calibration", dict, default={})))


def _shape(fields: _Fields, key: str) -> tuple[int, ...]:
    shape = fields.get_list(key, int)
    if not shape or any(dim < 1 for dim in shape):
        raise ManifestError(f"{fields.where}.{key}: expected positive dims, got {shape}")
    return tuple(shape)


_MISSING = object()


class _Fields:
    """Typed access to one JSON object; errors name the dotted key path."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where}: expected an object, got {type(data).__name__}")
        self.data, self.where = data, where

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        if key not in self.data:
            if default is _MISSING:
                raise ManifestError(f"{self.where}: missing key {key!r}")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ManifestError(
                f"{self.where}.{key}: expected {_kind_name(kind)}, got {value!r}"
            )
        return value

    def get_list(self, key: str, item_kind: type) -> list[Any]:
        items = self.get(key, list)
        for i, item in enumerate(items):
            if not isinstance(item, item_kind) or isinstance(item, bool):
                raise ManifestError(
                    f"{self.where}.{key}[{i}]: expected {item_kind.__name__}, got {item!r}"
                )
        return items

    def get_count(self, key: str) -> int:
        value = self.get(key, int)
        if value < 0:
            raise ManifestError(f"{self.where}.{key}: must be >= 0, got {value}")
        return value

    def get_choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.get(key, str)
        if value not in choices:
            raise ManifestError(f"{self.where}.{key}: {value!r} is not one of {list(choices)}")
        return value

    def child(self, key: str) -> _Fields:
        return _Fields(self.get(key, Mapping), f"{self.where}.{key}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("object" if k is Mapping else k.__name__ for k in kinds)
