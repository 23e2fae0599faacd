"""Camera frame -> network input, per a manifest's "input" spec.

The one preprocessing path: the runtime and the training scripts both call it, so a model sees
at run time exactly the pixels it was trained and calibrated on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

_TO_BGR = {2: cv2.COLOR_GRAY2BGR, 4: cv2.COLOR_BGRA2BGR}


def preprocess_image(
    bgr_uint8_frame: np.ndarray, input_spec: Mapping, size: Sequence[int]
) -> np.ndarray:
    """Resize (whole frame, no crop), reorder colours, scale: returns [1, 3, H, W] float32.

    `size` is (height, width), as in the branch's input_shape[2:]. The whole frame is kept
    because a person at the edge of the view must still be seen. `input_spec` keys: layout
    ("NCHW" or "NHWC"), color_order ("RGB" or "BGR"), mean and std (3 values, in that order).
    """
    frame = _as_bgr(bgr_uint8_frame)
    height, width = int(size[0]), int(size[1])
    shrinking = frame.shape[0] > height or frame.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (width, height), interpolation=interpolation)
    if input_spec["color_order"] == "RGB":
        resized = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    elif input_spec["color_order"] != "BGR":
        raise ValueError(f"color_order must be RGB or BGR, got {input_spec['color_order']!r}")
    # Scale planes (channel first): broadcasting 3 values over the last axis makes numpy loop
    # 3 elements at a time (~1 ms at 224 px); per plane it is ~4x faster, bit for bit the same.
    planes = resized.transpose(2, 0, 1).astype(np.float32, order="C")
    mean = np.asarray(input_spec["mean"], np.float32).reshape(3, 1, 1)
    std = np.asarray(input_spec["std"], np.float32).reshape(3, 1, 1)
    planes -= mean
    planes /= std
    return _to_layout(planes, input_spec.get("layout", "NCHW"))


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 frame, got {frame.dtype}")
    channels = 2 if frame.ndim == 2 else frame.shape[2]
    if channels == 3:
        return frame
    if channels in _TO_BGR:
        return cv2.cvtColor(frame, _TO_BGR[channels])
    raise ValueError(f"expected a gray, BGR or BGRA frame, got shape {frame.shape}")


def _to_layout(chw: np.ndarray, layout: str) -> np.ndarray:
    if layout == "NCHW":
        return chw[None]
    if layout == "NHWC":
        return np.ascontiguousarray(chw.transpose(1, 2, 0)[None])
    raise ValueError(f"layout must be NCHW or NHWC, got {layout!r}")
