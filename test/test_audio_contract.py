"""The audio message contract: label <-> rate, chunk sizes, and every rule decode_chunk enforces."""

import numpy as np
import pytest

from gc_perception.audio_contract import (
    BadChunk,
    chunk_samples,
    decode_chunk,
    label_rate,
    layout_label,
)


def test_label_round_trip_and_chunk_size():
    assert layout_label(16000) == "mono_s16_16000hz"
    assert label_rate("mono_s16_16000hz") == 16000
    assert chunk_samples(16000, 100.0) == 1600
    assert chunk_samples(16000, 0.01) == 1


@pytest.mark.parametrize("label", ["stereo_s16_16000hz", "mono_s16_0hz", "", "mono_s16_16khz"])
def test_foreign_labels_are_refused(label):
    with pytest.raises(BadChunk, match="not 'mono_s16"):
        label_rate(label)


def test_a_good_chunk_decodes_to_int16():
    samples = decode_chunk([("mono_s16_16000hz", 3, 3)], 0, [1, -2, 3], 16000)
    assert samples.dtype == np.int16 and samples.tolist() == [1, -2, 3]


@pytest.mark.parametrize("dims, offset, data, reason", [
    ([("mono_s16_8000hz", 3, 3)], 0, [1, 2, 3], "8000 Hz"),
    ([("mono_s16_16000hz", 0, 0)], 0, [], "empty"),
    ([("mono_s16_16000hz", 4, 4)], 0, [1, 2, 3], "does not describe 3"),
    ([("mono_s16_16000hz", 3, 6)], 0, [1, 2, 3], "stride 6"),
    ([("mono_s16_16000hz", 3, 3)], 1, [1, 2, 3], "data_offset 1"),
    ([], 0, [1], "0 dimensions"),
    ([("mono_s16_16000hz", 3, 3), ("channel", 1, 1)], 0, [1, 2, 3], "2 dimensions"),
    ([("mono_s16_16000hz", 80001, 80001)], 0, np.zeros(80001, np.int16), "longer than"),
])
def test_broken_chunks_name_the_rule(dims, offset, data, reason):
    with pytest.raises(BadChunk, match=reason):
        decode_chunk(dims, offset, data, 16000)
