"""How face-like the built-in model's renders are, to off-the-shelf face software.

Prints two figures for the built-in model (or any `--model`):

1. detection: the share of 224x224 renders in which mediapipe's shipped face
   detector (mediapipe 0.10.21, `solutions.face_detection`, short-range model
   from the wheel, offline, confidence 0.5) finds exactly one face. Renders:
   `--count` identities q ~ paper_uniform (scale 1.6), yaw uniform in
   [-45, 45] degrees, otherwise scenario "none" (gray background, 50 mm lens
   at 480 mm, fixed light).
2. identity: dlib's face-recognition embedding (`face_recognition_models`'
   ResNet, 5-point alignment; faces found by dlib's frontal detector, else by
   mediapipe's box). For `--pairs` identity pairs (i, j): "same" = identity i
   under scene A vs identity i under scene B; "different" = identity i vs
   identity j, both under scene A. A scene draws yaw in [-45, 45], pitch in
   [-10, 10], light azimuth in [-60, 60], elevation in [0, 50] and ambient in
   [0.25, 0.45]. The ROC AUC (sklearn) of -distance for same vs different is
   printed, with the share of pairs where same < different.

Run: .venv/bin/python benchmarks/face_model_realism.py [--count 500] [--pairs 250] [--model builtin]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np  # noqa: E402

IMAGE_SIZE = 224
SCALE = 1.6


def render_all(renderer, q: np.ndarray, factors: list[dict], batch: int = 16) -> np.ndarray:
    """`[N, H, W, 3]` uint8 renders, in batches of `batch` (padded so the graph is traced once)."""
    images = []
    for start in range(0, len(q), batch):
        out = renderer.render(q[start : start + batch], factors[start : start + batch], pad_to=batch)
        images.append(out.images)
    return np.concatenate(images)


def scene(base: dict, rng: np.random.Generator, vary_light: bool) -> dict:
    factors = dict(base, yaw_deg=float(rng.uniform(-45.0, 45.0)))
    if vary_light:
        factors.update(
            pitch_deg=float(rng.uniform(-10.0, 10.0)),
            light_azimuth_deg=float(rng.uniform(-60.0, 60.0)),
            light_elevation_deg=float(rng.uniform(0.0, 50.0)),
            ambient=float(rng.uniform(0.25, 0.45)),
        )
    return factors


class MediapipeDetector:
    """mediapipe's shipped BlazeFace (short range), offline."""

    def __init__(self, confidence: float = 0.5) -> None:
        from mediapipe.python.solutions import face_detection

        self._detector = face_detection.FaceDetection(model_selection=0, min_detection_confidence=confidence)

    def boxes(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """(left, top, right, bottom) pixel boxes of the faces found."""
        result = self._detector.process(image)
        height, width = image.shape[:2]
        boxes = []
        for detection in result.detections or []:
            box = detection.location_data.relative_bounding_box
            left, top = int(box.xmin * width), int(box.ymin * height)
            boxes.append((left, top, left + int(box.width * width), top + int(box.height * height)))
        return boxes


class DlibEmbedder:
    """dlib's 128-d face-recognition embedding with 5-point alignment."""

    def __init__(self, fallback: MediapipeDetector) -> None:
        import dlib
        import face_recognition_models as models

        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(models.face_recognition_model_location())
        self._fallback = fallback
        self.dlib_found = 0

    def embed(self, image: np.ndarray) -> np.ndarray:
        rects = self._detector(image, 1)
        if len(rects):
            self.dlib_found += 1
            rect = max(rects, key=lambda r: r.area())
        else:
            boxes = self._fallback.boxes(image)
            if boxes:
                rect = self._dlib.rectangle(*boxes[0])
            else:  # the head fills the middle of the frame
                side = IMAGE_SIZE // 2
                rect = self._dlib.rectangle(side // 2, side // 2, side * 3 // 2, side * 3 // 2)
        shape = self._shape(image, rect)
        return np.array(self._net.compute_face_descriptor(image, shape))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="renders for the detection rate")
    parser.add_argument("--pairs", type=int, default=250, help="identity pairs for the AUC")
    parser.add_argument("--model", default="builtin", help="'builtin' or a model .npz/.h5 path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-examples", default="", help="write a PNG grid of the first renders here")
    args = parser.parse_args(argv)

    from sklearn.metrics import roc_auc_score

    from headsynth.components.rendering.renderer import HeadRenderer
    from headsynth.components.rendering.scenarios import get_scenario
    from headsynth.components.sampling.samplers import sample_parameters
    from headsynth.morphable.loading import load_model

    model = load_model(args.model)
    renderer = HeadRenderer(model, IMAGE_SIZE, scale=SCALE)
    none = get_scenario("none")
    detector = MediapipeDetector()
    start = time.perf_counter()

    # 1. Detection.
    rng = np.random.default_rng([args.seed, 1])
    q = sample_parameters("paper_uniform", args.count, model.num_parameters, args.seed)
    factors = [scene(none.sample(args.seed, "train", i), rng, vary_light=False) for i in range(args.count)]
    images = render_all(renderer, q, factors)
    counts = np.array([len(detector.boxes(image)) for image in images])
    if args.save_examples:
        import PIL.Image

        grid = images[:32].reshape(4, 8, IMAGE_SIZE, IMAGE_SIZE, 3).transpose(0, 2, 1, 3, 4)
        PIL.Image.fromarray(grid.reshape(4 * IMAGE_SIZE, 8 * IMAGE_SIZE, 3)).save(args.save_examples)
    print(
        f"model {model.name!r}: {model.num_vertices} vertices, {model.num_parameters} parameters (scale {SCALE})"
    )
    print(
        f"detection: exactly one face in {np.mean(counts == 1):.1%} of {args.count} renders "
        f"(none: {np.mean(counts == 0):.1%}, several: {np.mean(counts > 1):.1%}; "
        f"mediapipe short-range BlazeFace, confidence 0.5, yaw in [-45, 45], gray background)"
    )

    # 2. Identity separation.
    pairs = args.pairs
    rng = np.random.default_rng([args.seed, 2])
    q_id = sample_parameters("paper_uniform", 2 * pairs, model.num_parameters, args.seed + 1)
    first, other = q_id[:pairs], q_id[pairs:]
    scene_a = [scene(none.sample(args.seed, "eval", i), rng, vary_light=True) for i in range(pairs)]
    scene_b = [scene(none.sample(args.seed, "eval", i), rng, vary_light=True) for i in range(pairs)]
    renders = render_all(renderer, np.concatenate([first, first, other]), scene_a + scene_b + scene_a)
    embedder = DlibEmbedder(detector)
    embeddings = np.stack([embedder.embed(image) for image in renders])
    a, b, c = embeddings[:pairs], embeddings[pairs : 2 * pairs], embeddings[2 * pairs :]
    same = np.linalg.norm(a - b, axis=1)
    different = np.linalg.norm(a - c, axis=1)
    labels = np.concatenate([np.ones(pairs), np.zeros(pairs)])
    auc = roc_auc_score(labels, -np.concatenate([same, different]))
    print(
        f"identity: dlib embedding ROC AUC {auc:.3f} over {pairs} same + {pairs} different pairs; "
        f"same closer than different in {np.mean(same < different):.1%} of pairs; "
        f"mean distance same {same.mean():.3f}, different {different.mean():.3f} "
        f"(dlib's detector found {embedder.dlib_found}/{len(renders)} faces, mediapipe's box the rest)"
    )
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
