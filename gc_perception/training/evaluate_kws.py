"""Every branch of a KWS manifest, gated vs ungated, on the held-out festival test half.

    python -m gc_perception.training.evaluate_kws --keywords 10|35 [--seed 0]

Writes models/<id>/evaluation.json and the test figures into each branch's manifest metrics.
Features come from the runtime's log_mel (timed too); stages run in onnxruntime with one
intra-op thread and no spinning; CPU time is the calling thread's (time.thread_time).
All test speech is SYNTHETIC, from festival, a synthesizer never used in training.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gc_perception.adascale.energy import (
    FORMULA,
    default_device_config,
    load_power_table,
    stage_energy_joules,
)
from gc_perception.gating.audio_features import model_input
from gc_perception.gating.gate_metrics import NEGATIVE, gate_report
from gc_perception.gating.gated_model import activation_sparsity, sparse_handoff_bytes
from gc_perception.training import onnx_tools
from gc_perception.training import tts_data as td
from gc_perception.training.evaluation_file import gate_figures, save_evaluation

FESTIVAL_COPIES = 4
FESTIVAL_SILENCE = {"calibration": 300, "test": 600}
# Speaking rates (festival Duration_Stretch) per half: disjoint utterances.
FESTIVAL_RATES = {"calibration": (0.85, 1.1), "test": (1.0, 1.25)}
WARMUP_RUNS = 3
STAGE_CORE_CLASS = {"a": "efficiency", "b": "performance"}


def festival_split(corpora: td.Corpora, seed: int, half: str) -> td.LabelledSet:
    """One half of the festival clips, 4 augmented copies each plus noise clips, as audio."""
    rates = FESTIVAL_RATES[half]
    keep = [i for i, v in enumerate(corpora.test.voice_ids) if float(v.split(":")[2]) in rates]
    clips = td.ClipSet(
        [corpora.test.clips[i] for i in keep],
        [corpora.test.words[i] for i in keep],
        [corpora.test.voice_ids[i] for i in keep],
    )
    return td.augmented_set(
        clips,
        FESTIVAL_COPIES,
        FESTIVAL_SILENCE[half],
        seed + 10,
        f"festival-{half}",
        as_features=False,
    )


def balanced_test_rows(words: np.ndarray, labels: list[str], seed: int) -> np.ndarray:
    """All keyword and silence clips, and as many non-keyword clips as silence clips.

    Negatives are then half noise/silence, half other speech (Speech Commands' 12-class test
    sets hold the two in equal numbers too); the ESR of each half is reported as well.
    """
    truth = truth_ids(words, labels)
    silence = np.flatnonzero(words == td.SILENCE)
    other_speech = np.flatnonzero((truth == NEGATIVE) & (words != td.SILENCE))
    rng = np.random.default_rng(seed)
    sampled = rng.choice(other_speech, min(len(other_speech), len(silence)), replace=False)
    return np.sort(np.concatenate([np.flatnonzero(truth != NEGATIVE), silence, sampled]))


def esr_by_kind(run: BranchRun, words: np.ndarray, labels: list[str], threshold: float) -> dict:
    """Early-stop rate on noise/silence and on non-keyword speech separately."""
    stopped = run.gate_scores < threshold
    silence = words == td.SILENCE
    other_speech = (truth_ids(words, labels) == NEGATIVE) & ~silence
    return {
        "silence": float(stopped[silence].mean()),
        "other_speech": float(stopped[other_speech].mean()),
    }


@dataclass(frozen=True)
class BranchRun:
    """Per input: gate score, class probabilities, handoff facts, CPU ms of each step."""

    gate_scores: np.ndarray
    scores: np.ndarray
    sparsity: np.ndarray
    handoff_bytes: np.ndarray
    ms_features: np.ndarray
    ms_a: np.ndarray
    ms_b: np.ndarray


def _cpu_ms(run, *args):
    """Result of run(*args) and the CPU milliseconds it took on this thread."""
    start = time.thread_time()
    result = run(*args)
    return result, (time.thread_time() - start) * 1000.0


def run_branch(file_a: Path, file_b: Path, audio: np.ndarray, progress: bool = True) -> BranchRun:
    """Features, stage A, then stage B on every clip (ungated; the gate is applied later)."""
    session_a, session_b = onnx_tools.cpu_session(file_a), onnx_tools.cpu_session(file_b)
    for _ in range(WARMUP_RUNS):  # first runs pay for allocations
        handoff = session_a.run(["handoff"], {"input": model_input(audio[0], td.INPUT_SPEC)})[0]
        session_b.run(["scores"], {"handoff": handoff})
    rows = []
    for clip in tqdm(audio, desc=f"run {Path(file_a).stem}", disable=not progress):
        x, ms_features = _cpu_ms(model_input, clip, td.INPUT_SPEC)
        (gate, handoff), ms_a = _cpu_ms(session_a.run, ["gate_score", "handoff"], {"input": x})
        (scores,), ms_b = _cpu_ms(session_b.run, ["scores"], {"handoff": handoff})
        rows.append(
            (
                float(gate.reshape(-1)[0]),
                scores[0],
                activation_sparsity(handoff),
                sparse_handoff_bytes(handoff),
                ms_features,
                ms_a,
                ms_b,
            )
        )
    return BranchRun(*(np.array(column) for column in zip(*rows, strict=True)))


def truth_ids(words: np.ndarray, labels: list[str]) -> np.ndarray:
    """Keyword class index per clip, NEGATIVE for silence and non-keywords."""
    index = {label: i for i, label in enumerate(labels) if not label.startswith("_")}
    return np.array([index.get(w, NEGATIVE) for w in words])


def decided_ids(scores: np.ndarray, labels: list[str]) -> np.ndarray:
    """The full model's decision: its top class if that is a keyword, else NEGATIVE."""
    top = scores.argmax(axis=1)
    return np.where([not labels[t].startswith("_") for t in top], top, NEGATIVE)


def accuracies(run: BranchRun, words: np.ndarray, labels: list[str], threshold: float) -> dict:
    """Top-1 accuracy over all classes. Gated: a stopped clip counts as right when it is
    silence or a non-keyword (the gate says 'no keyword', not which of the two it is)."""
    index = {label: i for i, label in enumerate(labels)}
    truth = np.array([index.get(w, index[td.UNKNOWN]) for w in words])
    top = run.scores.argmax(axis=1)
    stopped = run.gate_scores < threshold
    gated_right = np.where(stopped, truth <= 1, top == truth)
    return {"gated": float(gated_right.mean()), "ungated": float((top == truth).mean())}


def _millijoules(ms: float, stage: str, power) -> float:
    """Energy ESTIMATE of `ms` CPU milliseconds of a stage on its core class."""
    return 1000.0 * stage_energy_joules(ms / 1000.0, STAGE_CORE_CLASS[stage], power)


def branch_evaluation(
    run: BranchRun, words: np.ndarray, labels: list[str], branch: dict, power
) -> dict:
    """The evaluation.json entry of one branch (features count as stage A work)."""
    threshold = branch["gate"]["threshold"]
    report = gate_report(
        run.gate_scores, decided_ids(run.scores, labels), truth_ids(words, labels), threshold
    )
    opened = run.gate_scores >= threshold
    features_ms, a_ms, b_ms = (float(v.mean()) for v in (run.ms_features, run.ms_a, run.ms_b))
    gated_b_ms = float((run.ms_b * opened).mean())
    front_mj = _millijoules(features_ms + a_ms, "a", power)
    return {
        "gate": report,
        "accuracy": accuracies(run, words, labels, threshold),
        "sparsity": float(run.sparsity.mean()),
        "handoff_bytes_mean": float(run.handoff_bytes.mean()),
        "handoff_dense_bytes": int(branch["handoff"]["dense_bytes"]),
        "cpu_ms_per_input": {
            "gated": features_ms + a_ms + gated_b_ms,
            "ungated": features_ms + a_ms + b_ms,
            "stage_a": a_ms,
            "stage_b": b_ms,
            "features": features_ms,
        },
        "energy_mj_per_input": {
            "gated": front_mj + _millijoules(gated_b_ms, "b", power),
            "ungated": front_mj + _millijoules(b_ms, "b", power),
        },
    }


def evaluate(manifest_path: Path, seed: int = 0) -> dict:
    """Evaluate every branch on the festival test half; write evaluation.json and metrics."""
    manifest = json.loads(Path(manifest_path).read_text())
    folder = Path(manifest_path).parent
    full_test = festival_split(td.kws_corpora(seed), seed, "test")
    labels = manifest["labels"]
    rows = balanced_test_rows(full_test.words, labels, seed)
    test = td.LabelledSet(full_test.data[rows], full_test.words[rows], full_test.voice_ids[rows])
    power = load_power_table(default_device_config())
    branches = {}
    for name, branch in manifest["branches"].items():
        run = run_branch(
            folder / branch["stage_a"]["file"], folder / branch["stage_b"]["file"], test.data
        )
        branches[name] = branch_evaluation(run, test.words, labels, branch, power)
        esr = esr_by_kind(run, test.words, labels, branch["gate"]["threshold"])
        branch["metrics"] = {"split": "festival test half", **branches[name], "esr_by_kind": esr}
    truth = truth_ids(test.words, labels)
    data = {
        "description": _description(test),
        "kind": "synthetic",
        "n_positives": int((truth != NEGATIVE).sum()),
        "n_negatives": int((truth == NEGATIVE).sum()),
        "held_out": "festival voices never seen in training",
    }
    return save_evaluation(manifest, manifest_path, data, branches,
                           f"{FORMULA}, stage A on 'efficiency', stage B on 'performance', "
                           "power from config/device.yaml (log-mel features counted with stage A)")


def _description(test: td.LabelledSet) -> str:
    silence = int((test.words == td.SILENCE).sum())
    return (
        f"SYNTHETIC speech from festival ({', '.join(td.FESTIVAL_VOICES)}) at speaking rates "
        f"{FESTIVAL_RATES['test']}, {FESTIVAL_COPIES} augmented copies per utterance (speed, "
        f"room, tilt, gain, shift, noise at 5-40 dB SNR), plus {silence} noise/silence clips: "
        f"{len(test.words)} clips of 1 s. Negatives: half noise/silence, half non-keyword speech "
        f"sampled from other words (including {len(td.FILLER_WORDS_HELD_OUT)} words used "
        "nowhere in training); ESR per half in the manifest's metrics.esr_by_kind"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keywords", type=int, choices=(10, 35), required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = Path(__file__).resolve().parents[2] / "models" / f"kws{args.keywords}"
    evaluation = evaluate(folder / "manifest.json", args.seed)
    print(gate_figures(evaluation))


if __name__ == "__main__":
    main()
