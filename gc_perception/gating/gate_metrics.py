"""Gate calibration and the side-by-side metrics of a gated model against its ungated baseline.

Labels are integer class ids with -1 for "negative" (no person, no keyword). A binary detector
uses 0 for its one positive class. The gated prediction is the full model's prediction where the
gate opens and -1 (a cheap negative) where it stops early.
"""

from __future__ import annotations

import numpy as np

NEGATIVE = -1


def calibrate_threshold(positive_gate_scores: np.ndarray, target_pass_rate: float) -> float:
    """Highest threshold that still lets at least `target_pass_rate` of the positives through.

    Positives are the inputs the full (ungated) model calls positive: self-distillation, so no
    ground-truth labels are needed at the deployment site.
    """
    scores = np.sort(np.asarray(positive_gate_scores, dtype=np.float64))
    if scores.size == 0:
        raise ValueError("no positive examples to calibrate the gate on")
    if not 0.0 < target_pass_rate <= 1.0:
        raise ValueError(f"target_pass_rate must be in (0, 1], got {target_pass_rate}")
    may_stop = int(np.floor((1.0 - target_pass_rate) * scores.size + 1e-9))
    return float(scores[may_stop])


def precision_recall(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Detection precision/recall: a positive prediction is right when it names the true class."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    claimed = predicted != NEGATIVE
    correct = claimed & (predicted == truth)
    precision = float(correct.sum() / claimed.sum()) if claimed.any() else 1.0
    present = truth != NEGATIVE
    recall = float(correct.sum() / present.sum()) if present.any() else 1.0
    return precision, recall


def gated_predictions(full_predicted: np.ndarray, gate_scores: np.ndarray, threshold: float):
    """What the gated model outputs: the full prediction where the gate opens, else negative."""
    return np.where(np.asarray(gate_scores) >= threshold, full_predicted, NEGATIVE)


def gate_report(
    gate_scores: np.ndarray, full_predicted: np.ndarray, truth: np.ndarray, threshold: float
) -> dict[str, float | int]:
    """Gated vs ungated figures on one labelled set.

    esr: early-stop rate on true negatives; pass_rate: share of the full model's positives the
    gate lets through; precision/recall of both paths against `truth`.
    """
    gate_scores, full_predicted, truth = map(np.asarray, (gate_scores, full_predicted, truth))
    opened = gate_scores >= threshold
    negatives, full_positives = truth == NEGATIVE, full_predicted != NEGATIVE
    gated = gated_predictions(full_predicted, gate_scores, threshold)
    p_gated, r_gated = precision_recall(gated, truth)
    p_full, r_full = precision_recall(full_predicted, truth)
    return {
        "threshold": float(threshold),
        "esr": float((~opened[negatives]).mean()) if negatives.any() else float("nan"),
        "pass_rate": float(opened[full_positives].mean()) if full_positives.any() else float("nan"),
        "open_rate": float(opened.mean()),
        "precision_gated": p_gated,
        "recall_gated": r_gated,
        "precision_ungated": p_full,
        "recall_ungated": r_full,
        "n_negatives": int(negatives.sum()),
        "n_positives": int((~negatives).sum()),
        "n_full_positives": int(full_positives.sum()),
    }
