"""Pure parts of the vision pool: source split, views and composites (no packages fetched)."""

import numpy as np
import pytest

pytest.importorskip("tqdm")
from gc_perception.training import vision_data


def test_split_is_deterministic_by_source_and_near_the_shares():
    sources = [f"opencv-doc:file_{i}.jpg" for i in range(3000)]
    splits = [vision_data.split_of(s, seed=0) for s in sources]
    assert splits == [vision_data.split_of(s, seed=0) for s in sources]
    shares = [splits.count(name) / len(splits) for name in vision_data.SPLITS]
    assert np.allclose(shares, vision_data.SPLIT_SHARES, atol=0.03)
    assert splits != [vision_data.split_of(s, seed=1) for s in sources]


def test_views_are_square_and_include_the_whole_frame():
    rng = np.random.default_rng(0)
    image = np.zeros((300, 500, 3), np.uint8)
    image[:, 450:] = 255
    views = vision_data._views_of([image], "opencv-doc", rng)
    assert len(views) == 4
    assert all(v.shape == (vision_data.VIEW_SIZE, vision_data.VIEW_SIZE, 3) for v in views)
    assert views[0][:, -5:].mean() > 200  # the first view is the whole frame, edge kept


def test_composite_pastes_only_the_opaque_part():
    rng = np.random.default_rng(0)
    background = np.zeros((vision_data.VIEW_SIZE,) * 2 + (3,), np.uint8)
    cutout = np.zeros((100, 100, 4), np.uint8)
    cutout[25:75, 25:75] = (255, 255, 255, 255)  # opaque white square, transparent elsewhere
    view = vision_data._composite(cutout, background, rng)
    painted = view.max(axis=2) > 0
    assert 0 < painted.mean() < 0.5
    assert view.shape == background.shape and not background.any()
