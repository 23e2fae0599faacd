"""The audio stream contract between audio_source and audio_detector (one place; no ROS here).

Topic `audio` (relative, so namespaces and remaps work), type std_msgs/Int16MultiArray:
  data                  mono, signed 16-bit samples, oldest first
  layout.dim            exactly one dimension:
    dim[0].label        "mono_s16_<rate>hz", e.g. "mono_s16_16000hz" (samples per second)
    dim[0].size         number of samples (== len(data))
    dim[0].stride       == size
  layout.data_offset    0
QoS: RELIABLE, KEEP_LAST, depth QUEUE_DEPTH at the publisher. Dropped audio cuts words in half,
which costs keyword recall, so the stream is reliable; the small depth bounds the memory a
stalled subscriber can pin (QUEUE_DEPTH chunks: 5 s at the default 100 ms chunks). Subscribers
keep SUBSCRIBER_QUEUE_DEPTH: a reliable reader's history still drops its oldest samples when its
executor falls behind, which a faster-than-real-time replay provokes (seen at depth 50 on 2
busy cores). A best-effort subscriber (e.g. a level meter) also matches this publisher.
Time: Int16MultiArray has no header. A chunk's time is the DDS source timestamp of its message
(the publisher's clock when it was published, i.e. when its last sample was captured or read);
the publication sequence number lets a subscriber count lost chunks. Exactly one publisher per
audio topic: chunks of two streams would interleave.
A chunk may hold any number of samples from 1 to MAX_CHUNK_S seconds' worth; the rate in the
label lets a subscriber refuse a stream whose rate differs from its model's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

QUEUE_DEPTH = 50
SUBSCRIBER_QUEUE_DEPTH = 200
MAX_CHUNK_S = 5.0
_LABEL = re.compile(r"mono_s16_(\d+)hz")


class BadChunk(ValueError):
    """A message that breaks the contract; the text says which rule."""


def layout_label(sample_rate: int) -> str:
    """dim[0].label of a stream at `sample_rate` samples per second."""
    return f"mono_s16_{int(sample_rate)}hz"


def label_rate(label: str) -> int:
    """The sample rate a dim[0].label declares (BadChunk when it is not our label)."""
    match = _LABEL.fullmatch(label)
    if match is None or int(match.group(1)) <= 0:
        raise BadChunk(f"layout label {label!r} is not 'mono_s16_<rate>hz'")
    return int(match.group(1))


def chunk_samples(sample_rate: int, chunk_ms: float) -> int:
    """Samples in one chunk of `chunk_ms` milliseconds (at least one)."""
    return max(1, round(sample_rate * chunk_ms / 1000.0))


def decode_chunk(
    dims: Sequence[tuple[str, int, int]], data_offset: int, data: Sequence[int] | np.ndarray,
    expected_rate: int,
) -> np.ndarray:
    """The int16 samples of a chunk given its layout (label, size, stride per dim) and data.

    BadChunk names the broken rule: layout shape, label, rate, size, emptiness or length.
    """
    if len(dims) != 1:
        raise BadChunk(f"layout has {len(dims)} dimensions, expected 1 (mono samples)")
    label, size, stride = dims[0]
    rate = label_rate(label)
    if rate != expected_rate:
        raise BadChunk(f"stream is {rate} Hz ({label!r}), expected {expected_rate} Hz")
    samples = np.asarray(data, dtype=np.int16)
    if samples.size == 0:
        raise BadChunk("empty chunk")
    if data_offset != 0 or size != samples.size or stride != size:
        raise BadChunk(
            f"layout (size {size}, stride {stride}, data_offset {data_offset}) does not "
            f"describe {samples.size} samples"
        )
    if samples.size > MAX_CHUNK_S * rate:
        raise BadChunk(f"chunk of {samples.size} samples is longer than {MAX_CHUNK_S} s")
    return samples
