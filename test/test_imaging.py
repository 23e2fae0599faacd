import numpy as np
import pytest

from gc_perception.imaging import (
    BadImage,
    decode_compressed,
    decode_raw,
    encode_compressed,
    encode_raw,
)


def frame() -> np.ndarray:
    image = np.zeros((4, 6, 3), np.uint8)
    image[..., 0], image[..., 2] = 10, 200  # blue 10, red 200
    return image


def test_raw_round_trip_in_both_colour_orders():
    for encoding in ("bgr8", "rgb8"):
        height, width, step, data = encode_raw(frame(), encoding)
        assert np.array_equal(decode_raw(encoding, height, width, step, data), frame())


def test_padded_rows_and_mono_are_decoded():
    padded = np.zeros((4, 20), np.uint8)
    padded[:, :18] = frame().reshape(4, 18)
    assert np.array_equal(decode_raw("bgr8", 4, 6, 20, padded.tobytes()), frame())
    mono = decode_raw("mono8", 2, 2, 2, bytes([0, 50, 100, 255]))
    assert mono.shape == (2, 2, 3) and mono[1, 1, 0] == 255


@pytest.mark.parametrize(("args", "reason"), [
    (("yuv422", 4, 6, 18, bytes(72)), "unsupported encoding"),
    (("bgr8", 0, 6, 18, b""), "empty image"),
    (("bgr8", 4, 6, 10, bytes(40)), "step 10"),
    (("bgr8", 4, 6, 18, bytes(71)), "71 bytes"),
    (("bgr8", 5000, 5000, 15000, b""), "too large"),
])
def test_malformed_raw_images_are_refused_with_a_reason(args, reason):
    with pytest.raises(BadImage, match=reason):
        decode_raw(*args)


def test_compressed_round_trip_and_corruption():
    png = encode_compressed(frame(), "png")
    assert np.array_equal(decode_compressed(png), frame())
    assert decode_compressed(encode_compressed(frame(), "jpeg", 95)).shape == (4, 6, 3)
    with pytest.raises(BadImage, match="empty"):
        decode_compressed(b"")
    with pytest.raises(BadImage, match="corrupt"):
        decode_compressed(png[: len(png) // 2])
