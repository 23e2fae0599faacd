import numpy as np
import pytest

from gc_perception.gating.gate_metrics import (
    calibrate_threshold,
    gate_report,
    gated_predictions,
    precision_recall,
)


def test_calibrated_threshold_passes_the_target_share_of_positives():
    scores = np.linspace(0.0, 1.0, 101)
    threshold = calibrate_threshold(scores, 0.97)
    assert (scores >= threshold).mean() >= 0.97
    assert (scores >= threshold + 0.011).mean() < 0.97  # and it is the highest such threshold
    assert calibrate_threshold(scores, 1.0) == 0.0
    with pytest.raises(ValueError):
        calibrate_threshold(np.array([]), 0.9)
    with pytest.raises(ValueError):
        calibrate_threshold(scores, 0.0)


def test_precision_recall_counts_the_right_class_only():
    predicted = np.array([0, 1, -1, 1, -1])
    truth = np.array([0, 0, 1, 1, -1])
    precision, recall = precision_recall(predicted, truth)
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 4)


def test_gate_report_side_by_side():
    truth = np.array([-1, -1, -1, -1, 0, 0])
    full = np.array([-1, -1, 0, -1, 0, 0])
    gate = np.array([0.1, 0.2, 0.9, 0.6, 0.8, 0.4])
    assert list(gated_predictions(full, gate, 0.5)) == [-1, -1, 0, -1, 0, -1]
    report = gate_report(gate, full, truth, threshold=0.5)
    assert report["esr"] == pytest.approx(2 / 4)
    assert report["pass_rate"] == pytest.approx(2 / 3)
    assert report["recall_ungated"] == 1.0 and report["recall_gated"] == 0.5
    assert report["precision_ungated"] == pytest.approx(2 / 3)
    assert report["n_negatives"] == 4 and report["n_full_positives"] == 3
