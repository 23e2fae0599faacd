"""Write the small real test media shipped in media/ from the Debian/PyPI image sources.

    python -m gc_perception.training.make_media

The images are a reviewed choice from sources of the pool's TEST split (never trained on); the
script copies them, shrinks them to <= 640 px and checks each against the SSD-MobileNet-v2-COCO
teacher so a file's name (person_N, dog_N, empty_N) states what is in it. The clip is the first
seconds of opencv-doc's vtest.avi (pedestrians), whose first segments are test sources too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from gc_perception.training import vision_data

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO / "media"
MAX_SIDE = 640
JPEG_QUALITY = 85
VTEST = f"{vision_data.OPENCV_DOC}/examples/data/vtest.avi"
CURATED = {
    "person_1.jpg": f"{vision_data.OPENCV_DOC}/opencv4/html/230501201_1.jpg",
    "person_2.jpg": f"{vision_data.OPENCV_DOC}/opencv4/html/grabcut_rect.jpg",
    "person_3.jpg": f"{VTEST}#frame40",
    "dog_1.jpg": f"{vision_data.OPENCV_DOC}/examples/data/chicky_512.png",
    "dog_2.jpg": f"{vision_data.OPENCV_DOC}/opencv4/html/Remap_Tutorial_Result_1.jpg",
    "empty_1.jpg": f"{vision_data.OPENCV_DOC}/examples/data/aloeL.jpg",
    "empty_2.jpg": f"{vision_data.OPENCV_DOC}/examples/data/rubberwhale1.png",
    "empty_3.jpg": "skimage:rocket.jpg",
}
SURE, ABSENT = 0.6, 0.1
CLIP_SECONDS, CLIP_FPS = 8, 10


def load_source(source: str) -> np.ndarray:
    """A curated source: a file of the Debian packages, a skimage file or a video frame."""
    if source.startswith("skimage:"):
        import skimage.data

        return cv2.imread(str(Path(skimage.data.data_dir) / source.split(":", 1)[1]))
    path, _, frame = source.partition("#frame")
    full_path = vision_data.debian_root() / path
    if not frame:
        return cv2.imread(str(full_path), cv2.IMREAD_COLOR)
    capture = cv2.VideoCapture(str(full_path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, int(frame))
    ok, image = capture.read()
    capture.release()
    if not ok:
        raise ValueError(f"cannot read frame {frame} of {full_path}")
    return image


def teacher_agrees(net: cv2.dnn.Net, name: str, image: np.ndarray) -> bool:
    """The file name's claim holds for the SSD teacher (the other class absent)."""
    scores = vision_data.ssd_scores(net, image)
    claimed = name.split("_")[0]
    if claimed == "empty":
        return max(scores.values()) < ABSENT
    other = "dog" if claimed == "person" else "person"
    return scores[claimed] >= SURE and scores[other] < ABSENT


def shrink(image: np.ndarray) -> np.ndarray:
    scale = MAX_SIDE / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def write_images() -> None:
    """media/images/*.jpg from CURATED, each checked against the teacher."""
    net = vision_data.ssd_net()
    for name, source in CURATED.items():
        image = load_source(source)
        if not teacher_agrees(net, name, image):
            raise ValueError(f"{name}: the SSD teacher does not agree with the name ({source})")
        path = MEDIA / "images" / name
        cv2.imwrite(str(path), shrink(image), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        print(f"{path.relative_to(REPO)}: {source}")


def cut_clip() -> Path:
    """media/video/street.avi: vtest.avi's first seconds at 10 fps, 640 px wide, MJPG."""
    source = vision_data.debian_root() / vision_data.OPENCV_DOC / "examples/data/vtest.avi"
    capture = cv2.VideoCapture(str(source))
    step = max(1, round(capture.get(cv2.CAP_PROP_FPS) / CLIP_FPS))
    frames = []
    while len(frames) < CLIP_SECONDS * CLIP_FPS:
        ok, frame = capture.read()
        if not ok:
            break
        if int(capture.get(cv2.CAP_PROP_POS_FRAMES) - 1) % step == 0:
            frames.append(shrink(frame))
    capture.release()
    out = MEDIA / "video" / "street.mp4"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    for folder in ("images", "video"):
        (MEDIA / folder).mkdir(parents=True, exist_ok=True)
    write_images()
    clip = cut_clip()
    print(f"{clip.relative_to(REPO)}: {clip.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
