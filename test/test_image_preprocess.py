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


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_pixels_equal_the_plain_per_pixel_formula_bit_for_bit(layout):
    """The planar scaling is a speed-up only: models were calibrated on (pixel - mean) / std."""
    import cv2

    frame = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    spec = {**SPEC, "layout": layout, "mean": [120.5, 110, 100], "std": [50, 60.25, 70]}
    resized = cv2.cvtColor(cv2.resize(frame, (96, 80), interpolation=cv2.INTER_AREA),
                           cv2.COLOR_BGR2RGB).astype(np.float32)
    expected = (resized - np.float32(spec["mean"])) / np.float32(spec["std"])
    expected = expected.transpose(2, 0, 1)[None] if layout == "NCHW" else expected[None]
    out = preprocess_image(frame, spec, (80, 96))
    assert out.flags.c_contiguous and np.array_equal(out, expected)
