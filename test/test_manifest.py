"""Manifest schema: load, save, clear errors, and refusal of tampered or truncated model files."""

import copy
import hashlib
import json
import shutil

import pytest
from tiny_gated_model import LABELS, build_tiny_gated_model

from gc_perception.gating.manifest import (
    ManifestError,
    ModelIntegrityError,
    load_manifest,
    manifest_from_dict,
    save_manifest,
    sha256_file,
    verify_files,
)


@pytest.fixture(scope="module")
def tiny_manifest_path(tmp_path_factory):
    return build_tiny_gated_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def manifest_dict(tiny_manifest_path):
    return json.loads(tiny_manifest_path.read_text())


@pytest.fixture
def model_copy(tiny_manifest_path, tmp_path):
    """A private copy of the model folder that a test may damage."""
    folder = shutil.copytree(tiny_manifest_path.parent, tmp_path / "copy")
    return load_manifest(folder / "manifest.json")


def test_load_gives_typed_fields(tiny_manifest_path):
    manifest = load_manifest(tiny_manifest_path)
    assert manifest.folder == tiny_manifest_path.parent
    assert manifest.model_id == "tiny_person"
    assert (manifest.task, manifest.modality) == ("person", "vision")
    assert manifest.labels == LABELS and manifest.positive_labels == ("person",)
    assert manifest.input["kind"] == "image"
    fp32 = manifest.branch("fp32")
    assert fp32.input_shape == (1, 2, 4, 4)
    assert fp32.stage_a.gate_output == "gate_score" and fp32.stage_b.output == "scores"
    assert fp32.handoff.dense_bytes == 128 and fp32.gate.threshold == 0.5
    assert manifest.branch("small").stage_a.file == fp32.stage_a.file  # shared file
    assert manifest.provenance["data_kind"] == "synthetic"


def test_unknown_branch_names_the_known_ones(tiny_manifest_path):
    with pytest.raises(ValueError, match=r"unknown branch 'nope'.*'alt', 'fp32', 'small'"):
        load_manifest(tiny_manifest_path).branch("nope")


def test_save_round_trips(tiny_manifest_path, manifest_dict, tmp_path):
    manifest = load_manifest(tiny_manifest_path)
    saved = save_manifest(manifest, tmp_path / "manifest.json")
    assert json.loads(saved.read_text()) == manifest_dict
    assert load_manifest(saved).branches == manifest.branches


def test_optional_fields_default(manifest_dict, tmp_path):
    branch = manifest_dict["branches"]["fp32"]
    for key in ("description", "metrics"):
        del branch[key]
    del branch["gate"]["calibration"]
    loaded = manifest_from_dict(manifest_dict, tmp_path).branch("fp32")
    assert (loaded.description, loaded.metrics, loaded.gate.calibration) == ("", {}, {})


def _delete(*keys):
    def mutate(data):
        for key in keys[:-1]:
            data = data[key]
        del data[keys[-1]]

    return mutate


def _set(value, *keys):
    def mutate(data):
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_delete("model_id"), r"manifest\.json: missing key 'model_id'"),
        (
            _delete("branches", "fp32", "stage_a", "sha256"),
            r"branches\.fp32\.stage_a: missing key 'sha256'",
        ),
        (_set(2, "schema_version"), r"unknown schema_version 2"),
        (_set("nope", "default_branch"), r"unknown default_branch 'nope'"),
        (_set("cat", "task"), r"task: 'cat' is not one of"),
        (_set("audio", "input", "kind"), r"input\.kind: 'audio' does not fit modality 'vision'"),
        (_delete("input", "kind"), r"input: missing key 'kind'"),
        (_set(["dog"], "positive_labels"), r"positive_labels \['dog'\] are not in labels"),
        (_set("0.5", "branches", "fp32", "gate", "threshold"), r"threshold: expected int or float"),
        (_set(1.5, "branches", "fp32", "gate", "threshold"), r"threshold: must be in \[0, 1\]"),
        (_set("abc", "branches", "fp32", "stage_b", "sha256"), r"stage_b\.sha256: expected 64"),
        (_set(100, "branches", "fp32", "handoff", "dense_bytes"), r"dense_bytes: 100 != prod"),
        (_set("float99", "branches", "fp32", "handoff", "dtype"), r"unknown dtype 'float99'"),
        (_set([1, 0, 4], "branches", "fp32", "input_shape"), r"input_shape: expected positive"),
        (_set([1, "h"], "branches", "fp32", "input_shape"), r"input_shape\[1\]: expected int"),
        (_set(True, "branches", "fp32", "stage_a", "params"), r"params: expected int"),
        (_set(-1, "branches", "fp32", "stage_a", "macs"), r"macs: must be >= 0"),
        (_set({}, "branches"), r"branches must not be empty"),
        (_set([], "labels"), r"labels must not be empty"),
        (_set("lab", "provenance", "data_kind"), r"data_kind: 'lab' is not one of"),
        (_set([], "provenance"), r"provenance: expected object"),
    ],
)
def test_invalid_manifest_is_refused_with_the_key_path(manifest_dict, tmp_path, mutate, message):
    mutate(manifest_dict)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_dict))
    with pytest.raises(ManifestError, match=message):
        load_manifest(path)


def test_save_refuses_an_invalid_manifest_without_writing(manifest_dict, tmp_path):
    bad = copy.deepcopy(manifest_dict)
    bad["default_branch"] = "nope"
    with pytest.raises(ManifestError):
        save_manifest(bad, tmp_path / "manifest.json")
    assert list(tmp_path.iterdir()) == []


def test_unreadable_manifests(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        load_manifest(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ManifestError, match="expected an object"):
        load_manifest(tmp_path / "list.json")


def test_sha256_file(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"gated" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"gated" * 1000).hexdigest()


def test_verify_files_accepts_intact_files(model_copy):
    for branch in model_copy.branches:
        verify_files(model_copy, branch)


def test_tampered_file_is_refused(model_copy):
    path = model_copy.file_path(model_copy.branch("alt").stage_b.file)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as refused:
        verify_files(model_copy, "alt")
    message = str(refused.value)
    assert model_copy.branch("alt").stage_b.sha256 in message
    assert hashlib.sha256(data).hexdigest() in message
    assert "truncated or tampered" in message and "alt_stage_b.onnx" in message


def test_truncated_file_is_refused(model_copy):
    path = model_copy.file_path(model_copy.branch("fp32").stage_a.file)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])
    with pytest.raises(ModelIntegrityError, match=rf"\({size // 2} bytes\).*truncated or tampered"):
        verify_files(model_copy, "fp32")
    verify_files(model_copy, "alt")


def test_missing_file_is_refused(model_copy):
    model_copy.file_path(model_copy.branch("alt").stage_a.file).unlink()
    with pytest.raises(ModelIntegrityError, match=r"alt_stage_a\.onnx: model file missing"):
        verify_files(model_copy, "alt")
