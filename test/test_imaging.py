import numpy as np
import pytest

from gc_perception.imaging import (
    BadImage,
    decode_compressed,
    decode_message,
    decode_raw,
    encode_compressed,
    encode_raw,
    parse_compressed_image,
    parse_image,
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


def serialized(message) -> bytes:
    from rclpy.serialization import serialize_message

    return serialize_message(message)


@pytest.mark.parametrize("frame_id", ["", "c", "cam_optical", "abc"])  # every alignment
@pytest.mark.parametrize(("encoding", "step"), [("bgr8", 18), ("rgb8", 18), ("bgr8", 20)])
def test_serialized_images_are_read_in_place(frame_id, encoding, step):
    from sensor_msgs.msg import Image

    padded = np.zeros((4, step), np.uint8)
    _, _, _, data = encode_raw(frame(), encoding)
    padded[:, :18] = np.frombuffer(data, np.uint8).reshape(4, 18)
    message = Image(height=4, width=6, encoding=encoding, step=step, data=padded.tobytes())
    message.header.stamp.sec, message.header.stamp.nanosec = 1_700_000_000, 123
    message.header.frame_id = frame_id
    parsed = parse_image(serialized(message))
    assert (parsed.sec, parsed.nanosec, parsed.frame_id) == (1_700_000_000, 123, frame_id)
    assert (parsed.height, parsed.width, parsed.step, parsed.encoding) == (4, 6, step, encoding)
    assert np.array_equal(decode_message(parsed, compressed=False), frame())


def test_serialized_compressed_images_and_damaged_buffers():
    from sensor_msgs.msg import CompressedImage

    message = CompressedImage(format="png", data=encode_compressed(frame(), "png"))
    message.header.frame_id = "cam"
    parsed = parse_compressed_image(serialized(message))
    assert (parsed.encoding, parsed.frame_id) == ("png", "cam")
    assert np.array_equal(decode_message(parsed, compressed=True), frame())
    whole = serialized(message)
    with pytest.raises(BadImage, match="truncated"):
        parse_compressed_image(whole[:-3])
    with pytest.raises(BadImage, match="plain-CDR"):
        parse_image(b"\x07\x07" + whole[2:])


def test_big_endian_cdr_is_read_too():
    import struct

    body = (struct.pack(">iII", 5, 6, 2) + b"a\0" + b"\0\0" + struct.pack(">I", 5) + b"jpeg\0"
            + b"\0\0\0" + struct.pack(">I", 3) + b"xyz")
    parsed = parse_compressed_image(b"\0\0\0\0" + body)
    assert (parsed.sec, parsed.nanosec, parsed.frame_id, parsed.encoding) == (5, 6, "a", "jpeg")
    assert bytes(parsed.data) == b"xyz"
