"""Frames from a video file, a folder of images, a V4L2 device or a network stream (OpenCV).

Pure (no ROS). The camera_source node paces and publishes; this module only opens, reads,
loops and says what kind of source it is, so reconnect and end-of-stream logic is testable.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")
DEVICE_PATTERN = re.compile(r"^(?:device:)?(\d+)$|^(/dev/video\d+)$")


class SourceError(RuntimeError):
    """The source cannot be opened; the message says what was tried."""


def source_kind(uri: str) -> str:
    """'stream', 'device', 'folder' or 'file' (SourceError for an unusable value)."""
    uri = uri.strip()
    if not uri:
        raise SourceError("empty source: give a video file, image folder, device or stream URL")
    if uri.lower().startswith(STREAM_SCHEMES):
        return "stream"
    if DEVICE_PATTERN.match(uri):
        return "device"
    path = Path(uri).expanduser()
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "file"
    raise SourceError(f"source {uri!r}: no such file or folder, and not a device or stream URL")


def _device_target(uri: str) -> int | str:
    match = DEVICE_PATTERN.match(uri.strip())
    assert match is not None
    return int(match.group(1)) if match.group(1) is not None else match.group(2)


class FrameSource:
    """Reads BGR frames; `read()` returns None at end of stream or on a dropped connection."""

    def __init__(self, uri: str, loop: bool = False) -> None:
        self.uri = uri.strip()
        self.kind = source_kind(self.uri)
        self.loop = loop
        self.unreadable = 0  # folder images that failed to decode (skipped)
        self._capture: cv2.VideoCapture | None = None
        self._images: list[Path] = []
        self._index = 0

    @property
    def live(self) -> bool:
        """Devices and streams drop and come back; files and folders end."""
        return self.kind in ("stream", "device")

    def open(self) -> None:
        self.close()
        if self.kind == "folder":
            folder = Path(self.uri).expanduser()
            self._images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise SourceError(f"folder {self.uri!r} holds no images ({sorted(IMAGE_SUFFIXES)})")
            self._index = 0
            return
        target = _device_target(self.uri) if self.kind == "device" else str(Path(self.uri))
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"OpenCV could not open {self.kind} {self.uri!r}")
        self._capture = capture

    def native_fps(self) -> float | None:
        if self._capture is None:
            return None
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        return float(fps) if fps and 0 < fps < 1000 else None

    def read(self) -> np.ndarray | None:
        if self.kind == "folder":
            return self._read_folder()
        if self._capture is None:
            return None
        ok, frame = self._capture.read()
        if not ok and self.loop and self.kind == "file":
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        return frame if ok else None

    def _read_folder(self) -> np.ndarray | None:
        for _attempt in range(len(self._images)):
            if self._index >= len(self._images):
                if not self.loop:
                    return None
                self._index = 0
            path = self._images[self._index]
            self._index += 1
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is not None:
                return frame
            self.unreadable += 1
        return None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class Backoff:
    """Reconnect delays that double from `initial` to `maximum`, reset after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 10.0) -> None:
        self.initial, self.maximum = initial, maximum
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2.0, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


def resize_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to width x height; 0 in one of them keeps the aspect ratio, both 0 = unchanged."""
    if width <= 0 and height <= 0:
        return frame
    h, w = frame.shape[:2]
    if width <= 0:
        width = max(1, round(w * height / h))
    if height <= 0:
        height = max(1, round(h * width / w))
    if (width, height) == (w, h):
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
