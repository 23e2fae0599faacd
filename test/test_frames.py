from pathlib import Path

import cv2
import numpy as np
import pytest

from gc_perception.sources.frames import (
    Backoff,
    FrameSource,
    SourceError,
    resize_frame,
    source_kind,
)


def write_video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    for index in range(frames):
        writer.write(np.full((24, 32, 3), index * 20, np.uint8))
    writer.release()
    return path


def test_source_kinds(tmp_path):
    video = write_video(tmp_path / "clip.avi", 2)
    assert source_kind(str(video)) == "file"
    assert source_kind(str(tmp_path)) == "folder"
    assert source_kind("0") == source_kind("device:1") == source_kind("/dev/video2") == "device"
    assert source_kind("rtsp://127.0.0.1:8554/cam") == "stream"
    with pytest.raises(SourceError, match="no such file"):
        source_kind(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError, match="empty"):
        source_kind(" ")


def test_video_ends_or_loops(tmp_path):
    video = write_video(tmp_path / "clip.avi", 3)
    once = FrameSource(str(video))
    once.open()
    assert once.native_fps() == pytest.approx(10.0)
    assert [once.read() is not None for _ in range(4)] == [True, True, True, False]
    looping = FrameSource(str(video), loop=True)
    looping.open()
    assert all(looping.read() is not None for _ in range(7))
    looping.close()


def test_folder_skips_unreadable_images_and_loops(tmp_path):
    for index in range(2):
        cv2.imwrite(str(tmp_path / f"{index}.png"), np.full((8, 8, 3), index, np.uint8))
    (tmp_path / "2.png").write_bytes(b"garbage")
    (tmp_path / "notes.txt").write_text("ignored")
    source = FrameSource(str(tmp_path), loop=True)
    source.open()
    values = [int(source.read()[0, 0, 0]) for _ in range(4)]
    assert values == [0, 1, 0, 1]
    assert source.unreadable == 1


def test_empty_folder_and_unopenable_stream_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="no images"):
        FrameSource(str(tmp_path)).open()
    bad = tmp_path / "fake.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(SourceError, match="could not open"):
        FrameSource(str(bad)).open()


def test_backoff_doubles_to_a_cap_and_resets():
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_resize_keeps_aspect_when_one_side_is_zero():
    frame = np.zeros((60, 80, 3), np.uint8)
    assert resize_frame(frame, 40, 0).shape == (30, 40, 3)
    assert resize_frame(frame, 0, 30).shape == (30, 40, 3)
    assert resize_frame(frame, 0, 0) is frame
