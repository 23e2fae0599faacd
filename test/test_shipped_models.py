"""Every shipped manifest loads, its hashes verify, every branch runs on a real input; a
corrupted or truncated copy is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from gc_perception.gating.audio_features import model_input
from gc_perception.gating.gated_model import GatedModel
from gc_perception.gating.image_preprocess import preprocess_image
from gc_perception.gating.manifest import ModelIntegrityError, load_manifest
from gc_perception.resources import find_media, find_model_manifest
from gc_perception.sources.audio_chunks import load_wav

SHIPPED = ("person_lite0", "dog_lite0", "kws10", "kws35")


def real_input(model: GatedModel, branch: str) -> np.ndarray:
    manifest = model.manifest
    if manifest.modality == "vision":
        frame = cv2.imread(str(find_media("images/person_1.jpg")))
        return preprocess_image(frame, manifest.input, manifest.branch(branch).input_shape[2:4])
    samples = load_wav(find_media("audio/keywords_10s.wav"), manifest.input["sample_rate"])
    return model_input(samples[8000:24000], manifest.input)  # the second around "yes"


@pytest.mark.parametrize("model_id", SHIPPED)
def test_every_branch_loads_verified_and_runs(model_id):
    manifest = load_manifest(find_model_manifest(model_id))
    assert manifest.provenance.get("build_command") and manifest.provenance.get("data_kind")
    with GatedModel(find_model_manifest(model_id), preload=list(manifest.branches)) as model:
        assert set(model.loaded_branches) == set(manifest.branches)
        for branch in manifest.branches:
            model.set_branch(branch)
            result = model.infer(real_input(model, branch), gated=False)
            assert result.branch == branch and 0.0 <= result.gate_score <= 1.0
            assert list(result.scores) == list(manifest.labels)
            assert all(0.0 <= p <= 1.0 for p in result.scores.values())


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_copy_is_refused(tmp_path: Path, damage: str):
    copy = tmp_path / "kws10"
    shutil.copytree(find_model_manifest("kws10").parent, copy)
    manifest = load_manifest(copy / "manifest.json")
    target = copy / manifest.branch(manifest.default_branch).stage_b.file
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = data[: len(data) - 100]
    target.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="truncated or tampered"):
        GatedModel(copy / "manifest.json")
