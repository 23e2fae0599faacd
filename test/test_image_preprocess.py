"""preprocess_image: shape, colour order, scaling, layouts and refusals."""

import numpy as np
import pytest

from gc_perception.gating.image_preprocess import preprocess_image

SPEC = {
    "kind": "image",
    "layout": "NCHW",
    "color_order": "RGB",
    "mean": [127, 127, 127],
    "std": [128, 128, 128],
}


def _solid_bgr(b: int, g: int, r: int, height: int = 48, width: int = 64) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = (b, g, r)
    return frame


def test_shape_dtype_and_rgb_scaling():
    out = preprocess_image(_solid_bgr(255, 127, 0), SPEC, (32, 40))
    assert out.shape == (1, 3, 32, 40) and out.dtype == np.float32
    assert np.allclose(out[0, :, 5, 5], [(0 - 127) / 128, 0.0, (255 - 127) / 128])


def test_bgr_order_and_nhwc_layout():
    spec = {**SPEC, "color_order": "BGR", "layout": "NHWC", "mean": [0, 0, 0], "std": [1, 2, 4]}
    out = preprocess_image(_solid_bgr(10, 20, 40), spec, (16, 16))
    assert out.shape == (1, 16, 16, 3)
    assert np.allclose(out[0, 3, 3], [10, 10, 10])


def test_gray_and_bgra_frames_are_accepted():
    gray = np.full((20, 20), 127, np.uint8)
    assert np.allclose(preprocess_image(gray, SPEC, (8, 8)), 0.0)
    bgra = np.dstack([_solid_bgr(127, 127, 127, 20, 20), np.zeros((20, 20), np.uint8)])
    assert np.allclose(preprocess_image(bgra, SPEC, (8, 8)), 0.0)


def test_whole_frame_is_kept_not_cropped():
    frame = _solid_bgr(0, 0, 0, 40, 80)
    frame[:, 70:] = 255  # a bright strip at the right edge must survive the resize
    out = preprocess_image(frame, SPEC, (20, 20))
    assert out[0, 0, 10, -1] > 0.9


@pytest.mark.parametrize(
    "frame, spec",
    [
        (np.zeros((8, 8, 3), np.float32), SPEC),
        (np.zeros((8, 8, 5), np.uint8), SPEC),
        (np.zeros((8, 8, 3), np.uint8), {**SPEC, "color_order": "HSV"}),
        (np.zeros((8, 8, 3), np.uint8), {**SPEC, "layout": "CHW"}),
    ],
)
def test_bad_inputs_are_refused(frame, spec):
    with pytest.raises(ValueError):
        preprocess_image(frame, spec, (4, 4))
