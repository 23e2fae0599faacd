"""Raw and compressed image payloads <-> numpy BGR frames, with the checks a detector needs.

Pure (numpy + OpenCV): the nodes pass sensor_msgs fields in (read in place, not copied) and
copy them out; every malformed payload raises BadImage with a reason the node can log and count.

A detector subscribes to images as SERIALIZED messages (rclpy `raw=True`) and reads them with
parse_image / parse_compressed_image: rclpy's own conversion copies every pixel into a Python
array first, ~1 ms per 640x480 frame on a 2-core VM, before the node has looked at it.
Wire format: ROS 2's plain CDR (XCDR1) with its 4-byte encapsulation header, either byte order.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass

import cv2
import numpy as np

# A payload as the nodes get it: bytes, or the message's own array.array (read in place).
Buffer = bytes | bytearray | memoryview | array

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


def decode_raw(encoding: str, height: int, width: int, step: int, data: Buffer) -> np.ndarray:
    """A sensor_msgs/Image payload as a contiguous BGR uint8 array (a view of `data` when it is
    bgr8 without row padding: a 640x480 frame is not copied)."""
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


def decode_compressed(data: Buffer) -> np.ndarray:
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


@dataclass(frozen=True)
class ImageMessage:
    """The fields of a serialized sensor_msgs/Image or CompressedImage; `data` is a view of the
    serialized buffer (not a copy). For a CompressedImage, `encoding` holds its `format`."""

    sec: int
    nanosec: int
    frame_id: str
    encoding: str
    data: memoryview
    height: int = 0
    width: int = 0
    step: int = 0


class _CdrReader:
    """Sequential reader of plain CDR; alignment counts from the end of the encapsulation."""

    def __init__(self, buffer: Buffer) -> None:
        self.view = memoryview(buffer).cast("B")
        if len(self.view) < 4 or self.view[0] != 0 or self.view[1] not in (0, 1):
            raise BadImage("not a plain-CDR serialized message")
        self.order = "<" if self.view[1] == 1 else ">"
        self.position = 4

    def _take(self, size: int, align: int = 1) -> memoryview:
        self.position += -(self.position - 4) % align
        end = self.position + size
        if end > len(self.view):
            raise BadImage(f"serialized message truncated ({len(self.view)} bytes)")
        chunk, self.position = self.view[self.position:end], end
        return chunk

    def number(self, kind: str) -> int:
        """One CDR number: 'i' int32, 'I' uint32, 'B' uint8."""
        size = struct.calcsize(kind)
        return struct.unpack(self.order + kind, self._take(size, size))[0]

    def octets(self) -> memoryview:
        return self._take(self.number("I"))

    def string(self) -> str:
        return bytes(self.octets()).rstrip(b"\0").decode("utf-8", "replace")


def _header(reader: _CdrReader) -> tuple[int, int, str]:
    return reader.number("i"), reader.number("I"), reader.string()


def parse_image(buffer: Buffer) -> ImageMessage:
    """A serialized sensor_msgs/Image: header, height, width, encoding, is_bigendian, step, data."""
    reader = _CdrReader(buffer)
    sec, nanosec, frame_id = _header(reader)
    height, width, encoding = reader.number("I"), reader.number("I"), reader.string()
    reader.number("B")  # is_bigendian: only 8-bit encodings are decoded
    step = reader.number("I")
    return ImageMessage(sec, nanosec, frame_id, encoding, reader.octets(), height, width, step)


def parse_compressed_image(buffer: Buffer) -> ImageMessage:
    """A serialized sensor_msgs/CompressedImage: header, format, data."""
    reader = _CdrReader(buffer)
    sec, nanosec, frame_id = _header(reader)
    return ImageMessage(sec, nanosec, frame_id, reader.string(), reader.octets())


def decode_message(message: ImageMessage, compressed: bool) -> np.ndarray:
    """The BGR frame of a parsed message (raw frames read in place)."""
    if compressed:
        return decode_compressed(message.data)
    return decode_raw(message.encoding, message.height, message.width, message.step,
                      message.data)
