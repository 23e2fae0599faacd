"""Raw and compressed image payloads <-> numpy BGR frames, with the checks a detector needs.

Pure (numpy + OpenCV): the nodes copy sensor_msgs fields in and out; every malformed payload
raises BadImage with a reason the node can log and count.
"""

from __future__ import annotations

import cv2
import numpy as np

# encoding -> (channels, dtype, OpenCV conversion to BGR or None)
RAW_ENCODINGS: dict[str, tuple[int, type, int | None]] = {
    "bgr8": (3, np.uint8, None),
    "rgb8": (3, np.uint8, cv2.COLOR_RGB2BGR),
    "bgra8": (4, np.uint8, cv2.COLOR_BGRA2BGR),
    "rgba8": (4, np.uint8, cv2.COLOR_RGBA2BGR),
    "mono8": (1, np.uint8, cv2.COLOR_GRAY2BGR),
}
MAX_PIXELS = 4096 * 4096
COMPRESSED_FORMATS = {"jpeg": ".jpg", "png": ".png"}


class BadImage(ValueError):
    """A frame that cannot be used; the message says why."""


def check_size(height: int, width: int) -> None:
    if height <= 0 or width <= 0:
        raise BadImage(f"empty image ({width}x{height})")
    if height * width > MAX_PIXELS:
        raise BadImage(f"image too large ({width}x{height} > {MAX_PIXELS} pixels)")


def decode_raw(encoding: str, height: int, width: int, step: int, data: bytes) -> np.ndarray:
    """A sensor_msgs/Image payload as a contiguous BGR uint8 array."""
    if encoding not in RAW_ENCODINGS:
        raise BadImage(f"unsupported encoding {encoding!r}; use one of {sorted(RAW_ENCODINGS)}")
    check_size(height, width)
    channels, dtype, conversion = RAW_ENCODINGS[encoding]
    row_bytes = width * channels * np.dtype(dtype).itemsize
    if step < row_bytes:
        raise BadImage(f"step {step} < {row_bytes} bytes needed for {width} px of {encoding}")
    if len(data) != step * height:
        raise BadImage(f"data is {len(data)} bytes, expected step*height = {step * height}")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(height, step)[:, :row_bytes]
    image = rows.view(dtype).reshape(height, width, channels)
    if conversion is None:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(image, conversion)


def encode_raw(frame: np.ndarray, encoding: str = "bgr8") -> tuple[int, int, int, bytes]:
    """A BGR frame as (height, width, step, data) in `encoding` (bgr8 or rgb8)."""
    if encoding not in ("bgr8", "rgb8"):
        raise ValueError(f"can only publish bgr8 or rgb8, not {encoding!r}")
    if encoding == "rgb8":
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    frame = np.ascontiguousarray(frame)
    height, width = frame.shape[:2]
    return height, width, width * 3, frame.tobytes()


def decode_compressed(data: bytes) -> np.ndarray:
    """A sensor_msgs/CompressedImage payload (JPEG/PNG bytes) as BGR uint8."""
    if not data:
        raise BadImage("empty compressed payload")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadImage(f"corrupt or unsupported compressed image ({len(data)} bytes)")
    check_size(*image.shape[:2])
    return image


def encode_compressed(frame: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> bytes:
    if fmt not in COMPRESSED_FORMATS:
        raise ValueError(f"format must be one of {sorted(COMPRESSED_FORMATS)}, not {fmt!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "jpeg" else []
    ok, buffer = cv2.imencode(COMPRESSED_FORMATS[fmt], frame, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {frame.shape} frame as {fmt}")
    return buffer.tobytes()
