"""The `audio` topic in ROS terms: its QoS and Int16MultiArray <-> numpy (contract in
gc_perception.audio_contract)."""

from __future__ import annotations

import array

import numpy as np
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Int16MultiArray, MultiArrayDimension

from gc_perception.audio_contract import (
    QUEUE_DEPTH,
    SUBSCRIBER_QUEUE_DEPTH,
    decode_chunk,
    layout_label,
)

AUDIO_TOPIC = "audio"
AUDIO_QOS = QoSProfile(
    depth=QUEUE_DEPTH, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE
)
AUDIO_SUBSCRIBER_QOS = QoSProfile(
    depth=SUBSCRIBER_QUEUE_DEPTH, history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
)


def chunk_message(samples: np.ndarray, sample_rate: int) -> Int16MultiArray:
    message = Int16MultiArray()
    message.layout.dim = [MultiArrayDimension(
        label=layout_label(sample_rate), size=samples.size, stride=samples.size
    )]
    message.layout.data_offset = 0
    message.data = array.array("h", samples.astype(np.int16, copy=False).tobytes())
    return message


def message_samples(message: Int16MultiArray, expected_rate: int) -> np.ndarray:
    """The chunk's int16 samples; audio_contract.BadChunk when the message breaks the contract."""
    dims = [(d.label, d.size, d.stride) for d in message.layout.dim]
    return decode_chunk(dims, message.layout.data_offset, message.data, expected_rate)
