"""The Beam job that renders examples to gzipped TFRecord shards.

Layout of the output (a TFX Examples artifact):

    <output_dir>/Split-train/data_tfrecord-00000-of-00004.gz ...
    <output_dir>/Split-eval/data_tfrecord-00000-of-00001.gz ...
    <output_dir>/render.json                  what was rendered, and how
    <output_dir>/face_model.npz               the model the examples come from
    <output_dir>/contact_sheet_<scenario>.png a grid of examples per scenario

Determinism: every example's scene comes from (seed, split, index) and its
parameters from the parameter file by index; each shard holds a fixed range
of indices and is rendered and written, in index order, by one worker. So the
bytes do not depend on the number of workers or on the order Beam processes
shards in. Shards are streamed to a temporary name and renamed when complete,
so a killed job never leaves a shard that looks complete, and memory stays at
one batch whatever the number of examples.
"""

from __future__ import annotations

import dataclasses
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import apache_beam as beam
import numpy as np

SPLIT_DIR = "Split-{split}"
SHARD_NAME = "data_tfrecord-{shard:05d}-of-{num_shards:05d}.gz"


@dataclass(frozen=True)
class RenderJob:
    """Plain parameters of one render job (everything a worker needs).

    Attributes:
        model_path: the morphable model `.npz`.
        parameters_path: `.npz` with `q_train` and `q_eval` arrays.
        output_dir: the Examples artifact directory.
        scenario: scenario of the train split.
        eval_scenario: scenario of the eval split.
        image_size: image side in pixels.
        batch_size: meshes per rasteriser call.
        num_shards: shards of the train split (eval gets proportionally fewer, at least 1).
        seed: root seed of the scenes.
        scale: p = scale * sigma * q.
        image_format: "png" or "jpeg".
        antialias: supersampling factor.
        backgrounds: "builtin" or a folder of photographs.
        store_mask: also store the head mask as a PNG per example.
        store_depth: also store the depth map (16-bit PNG, millimetres) per example.
        store_landmarks: store the projected 2D landmarks per example.
    """

    model_path: str
    parameters_path: str
    output_dir: str
    scenario: str = "angle"
    eval_scenario: str = "angle"
    image_size: int = 64
    batch_size: int = 32
    num_shards: int = 2
    seed: int = 0
    scale: float = 1.6
    image_format: str = "png"
    antialias: int = 1
    backgrounds: str = "builtin"
    store_mask: bool = False
    store_depth: bool = False
    store_landmarks: bool = True

    def scenario_of(self, split: str) -> str:
        return self.scenario if split == "train" else self.eval_scenario

    def shards_of(self, split: str, count: int) -> int:
        if split == "train":
            return max(1, min(self.num_shards, count))
        return max(1, min(count, self.num_shards // 4 or 1))


def shard_of(index: int, count: int, num_shards: int) -> int:
    """Shard holding example `index` of `count`: contiguous, balanced ranges."""
    return index * num_shards // count


def shard_range(shard: int, count: int, num_shards: int) -> tuple[int, int]:
    """[start, stop) of the indices in one shard (the inverse of `shard_of`)."""
    start = -(-shard * count // num_shards)  # ceil(shard * count / num_shards)
    stop = -(-(shard + 1) * count // num_shards)
    return start, stop


def plan_shards(job: RenderJob, counts: dict[str, int]) -> list[tuple[str, int, int, int]]:
    """(split, shard, start, stop) work items: one per output file, covering every example once."""
    items = []
    for split, count in counts.items():
        num_shards = job.shards_of(split, count)
        items += [(split, shard, *shard_range(shard, count, num_shards)) for shard in range(num_shards)]
    return items


def encode_image(image: np.ndarray, image_format: str) -> bytes:
    """Encodes `[H, W, 3]` uint8 RGB deterministically."""
    if image_format == "png":
        return encode_png(image)
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} image as {image_format}.")
    return data.tobytes()


def encode_png(image: np.ndarray) -> bytes:
    """`[H, W, 3]` uint8 RGB -> PNG bytes, every row with PNG's "Up" filter, deflated by ISA-L at level 1.

    About a seventh of the time of libpng through OpenCV, at a slightly smaller
    size: libpng tries every filter on every row (on renders, smooth shading
    over flat or photographic backgrounds, "Up" is what it mostly picks), and
    ISA-L's deflate is about 4x zlib's at level 1. The bytes are the same on
    every run and worker of a machine; ISA-L picks its code path by CPU, and
    its output is reported (not promised) to be the same on x86-64 hosts with
    SSE4.2 or later.
    """
    import struct
    import zlib

    from isal import isal_zlib

    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"encode_png needs an [H, W, 3] uint8 image. Received: {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    pixels = image.reshape(height, width * 3)
    rows = np.empty((height, width * 3 + 1), np.uint8)
    rows[:, 0] = 2  # filter type "Up": each byte minus the byte above it, modulo 256
    rows[0, 1:] = pixels[0]
    np.subtract(pixels[1:], pixels[:-1], out=rows[1:, 1:])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", isal_zlib.compress(rows.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


class RenderShardFn(beam.DoFn):
    """Renders one shard in batches and streams it to its file; emits (split, examples written).

    Memory stays at one batch whatever the number of examples: nothing is
    grouped or buffered between transforms.
    """

    def __init__(self, job: RenderJob, counts: dict[str, int], threads: int = 0) -> None:
        self._job = job
        self._counts = counts
        self._threads = threads

    def setup(self) -> None:
        if self._threads > 0:  # a worker process of our own, sharing the machine
            limit_tensorflow_threads(self._threads)
            keep_freed_memory()
        # Imports here: Beam workers do not receive module globals.
        from headsynth.components.face_model.morphable_model import load_npz
        from headsynth.components.rendering.backgrounds import load_backgrounds
        from headsynth.components.rendering.renderer import HeadRenderer
        from headsynth.components.rendering.scenarios import get_scenario
        from headsynth.components.sampling.parameter_store import load_split_parameters

        job = self._job
        model = load_npz(job.model_path)
        needs_photos = any(get_scenario(job.scenario_of(s)).uses_photographs() for s in self._counts)
        photos = load_backgrounds(job.backgrounds) if needs_photos else []
        self._renderer = HeadRenderer(
            model, job.image_size, job.scale, job.antialias, photos, with_depth=job.store_depth
        )
        self._parameters = {
            split: load_split_parameters(job.parameters_path, split) for split in self._counts
        }
        self._scenarios = {split: get_scenario(job.scenario_of(split)) for split in self._counts}
        self._rendered = beam.metrics.Metrics.counter("headsynth", "examples_rendered")

    def process(self, item: tuple[str, int, int, int]):
        import tensorflow as tf

        from headsynth.io_utils import atomic_path

        split, shard, start, stop = item
        job = self._job
        num_shards = job.shards_of(split, self._counts[split])
        path = os.path.join(
            job.output_dir,
            SPLIT_DIR.format(split=split),
            SHARD_NAME.format(shard=shard, num_shards=num_shards),
        )
        with atomic_path(path) as tmp:
            # Huffman-only deflate: the images inside are already compressed, so
            # searching them for repeats costs 3x the time and saves nothing.
            options = tf.io.TFRecordOptions(compression_type="GZIP", compression_strategy=2)
            with tf.io.TFRecordWriter(tmp, options=options) as writer:
                # A process with TensorFlow's default threads owns the machine:
                # one more thread encodes and writes batch n while TensorFlow
                # renders batch n + 1 (both release the GIL for their heavy
                # parts). Worker processes sharing the cores encode in turn.
                # Either way examples are written in index order.
                with ThreadPoolExecutor(max_workers=1) as encoder:
                    pending = None
                    for batch_start in range(start, stop, job.batch_size):
                        batch_stop = min(batch_start + job.batch_size, stop)
                        rendered = self._render_batch(split, batch_start, batch_stop)
                        if pending is not None:
                            pending.result()  # re-raises an encoding or write error here
                        if self._threads > 0:
                            self._write_batch(writer, rendered)
                        else:
                            pending = encoder.submit(self._write_batch, writer, rendered)
                    if pending is not None:
                        pending.result()
        yield split, stop - start

    def _write_batch(self, writer, rendered: tuple) -> None:
        for example in self._serialize(*rendered):
            writer.write(example)
        count = len(rendered[2])
        self._rendered.inc(count)
        _progress(count)

    def render_examples(self, split: str, start: int, stop: int) -> list[bytes]:
        """Serialized examples start..stop-1 of a split, in index order."""
        return self._serialize(*self._render_batch(split, start, stop))

    def _render_batch(self, split: str, start: int, stop: int) -> tuple:
        """Renders examples start..stop-1; returns what `_serialize` needs."""
        from headsynth.components.rendering.scenarios import sample_lighting_and_expression

        job = self._job
        indices = range(start, stop)
        scenario = self._scenarios[split]
        factors = [scenario.sample(job.seed, split, i) for i in indices]
        expression_part = self._renderer.model.expression
        num_expression = expression_part.num_components if expression_part is not None else 0
        extras = [
            sample_lighting_and_expression(f, job.seed, split, i, num_expression)
            for f, i in zip(factors, indices, strict=True)
        ]
        sh_light = np.stack([sh for sh, _ in extras])
        expression = np.stack([e for _, e in extras]) if num_expression else None
        q = self._parameters[split][start:stop]
        batch = self._renderer.render(
            q, factors, pad_to=job.batch_size, sh_light=sh_light, expression=expression
        )
        return split, batch, indices, q, factors, sh_light, expression

    def _serialize(self, split, batch, indices, q, factors, sh_light, expression) -> list[bytes]:
        from headsynth.data_schemas.features import make_example

        job = self._job
        scenario = self._scenarios[split]
        return [
            make_example(
                image=encode_image(batch.images[offset], job.image_format),
                q=q[offset],
                factors=factors[offset],
                scenario=scenario.name,
                seed=job.seed,
                index=index,
                landmarks=batch.landmarks[offset] if job.store_landmarks else None,
                mask=encode_mask(batch.masks[offset]) if job.store_mask else None,
                depth=encode_depth(batch.depth[offset]) if job.store_depth else None,
                sh_light=sh_light[offset],
                expression=expression[offset] if expression is not None else None,
            )
            for offset, index in enumerate(indices)
        ]


def limit_tensorflow_threads(threads: int) -> bool:
    """Caps this process's TensorFlow thread pools; False if TensorFlow already started its runtime.

    Worker processes of Beam's direct runner each start TensorFlow afresh;
    several processes each using every core only fight over them.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # the runtime is already up (e.g. the in-process runner)
        return False
    return True


def keep_freed_memory() -> bool:
    """Makes glibc's malloc keep freed memory for reuse; False where malloc is not glibc's.

    Every batch allocates and frees the same few-MB buffers. By default glibc
    gives such blocks back to the kernel (unmapping them, trimming the heap),
    so each batch paid again for page faults and zeroed pages: about 5 % of a
    render worker's rate (an A/B of the Beam job with 1 and 2 workers). Memory
    still does not grow with the number of examples; freed blocks only stay
    mapped. Called only in worker processes of the render job; a process that
    renders in line is left as it is.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    # 32 MiB is the largest mmap threshold glibc accepts on 64-bit machines.
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


def threads_per_worker(options) -> int:
    """TensorFlow threads for each render worker under these Beam pipeline options.

    With the direct runner's `multi_processing` mode the machine's cores are
    shared among its worker processes; elsewhere (in-process runners, remote
    runners with a machine per worker) 0 keeps TensorFlow's default, all cores.
    """
    from apache_beam.options.pipeline_options import DirectOptions

    direct = options.view_as(DirectOptions)
    if direct.direct_running_mode != "multi_processing":
        return 0
    workers = direct.direct_num_workers or os.cpu_count() or 1
    return max(1, (os.cpu_count() or 1) // workers)


def encode_mask(mask: np.ndarray) -> bytes:
    """`[H, W]` bool -> 8-bit PNG (255 = head)."""
    import cv2

    return cv2.imencode(".png", (mask.astype(np.uint8) * 255))[1].tobytes()


def encode_depth(depth: np.ndarray) -> bytes:
    """`[H, W]` float mm -> 16-bit PNG in millimetres (0 = background)."""
    import cv2

    return cv2.imencode(".png", np.clip(np.rint(depth), 0, 65535).astype(np.uint16))[1].tobytes()


_PROGRESS = {}


def _progress(step: int) -> None:
    """Per-process progress bar (one per Beam worker process)."""
    total = _PROGRESS.get("total")
    if total is None:
        return
    bar = _PROGRESS.get("bar")
    if bar is None:
        from tqdm import tqdm

        bar = _PROGRESS["bar"] = tqdm(total=total, desc="rendering", unit="img", leave=False)
    bar.update(step)


def build_render_pipeline(
    pipeline: beam.Pipeline,
    job: RenderJob,
    counts: dict[str, int],
    shards: list[tuple[str, int, int, int]] | None = None,
    threads: int = 0,
):
    """Adds the render transforms to `pipeline`; returns the PCollection of (split, count) per shard.

    Args:
        shards: the (split, shard, start, stop) items to render; default all.
        threads: TensorFlow threads per worker process (0: TensorFlow's default).
    """
    return (
        pipeline
        | "PlanShards" >> beam.Create(plan_shards(job, counts) if shards is None else shards)
        | "SpreadOverWorkers" >> beam.Reshuffle()
        | "RenderAndWriteShards" >> beam.ParDo(RenderShardFn(job, counts, threads))
    )


def run_render_job(
    job: RenderJob,
    beam_pipeline: beam.Pipeline | None = None,
    beam_args: list[str] | None = None,
    threads: int | None = None,
) -> dict:
    """Renders every example of both splits and writes the Examples layout.

    Args:
        job: what to render.
        beam_pipeline: a pipeline to run in (TFX passes one); if None, one is
            made from `beam_args`.
        beam_args: Beam pipeline options, e.g. ["--direct_num_workers=2"].
        threads: TensorFlow threads per worker process; None derives them from
            the pipeline options (`threads_per_worker`).

    Returns:
        A summary dict (also written to `render.json`).
    """
    import tensorflow as tf

    from headsynth.components.rendering.scenarios import get_scenario
    from headsynth.components.sampling.parameter_store import split_counts
    from headsynth.io_utils import write_text_atomic

    for split in ("train", "eval"):
        get_scenario(job.scenario_of(split))
    counts = split_counts(job.parameters_path)
    todo = prepare_output(job, counts)
    _PROGRESS["total"] = sum(stop - start for _, _, start, stop in todo)
    _PROGRESS.pop("bar", None)
    if beam_pipeline is None:
        from apache_beam.options.pipeline_options import PipelineOptions

        beam_pipeline = beam.Pipeline(options=PipelineOptions(beam_args or []))
    if threads is None:
        threads = threads_per_worker(beam_pipeline.options)
    with beam_pipeline as pipeline:
        build_render_pipeline(pipeline, job, counts, todo, threads)
    bar = _PROGRESS.pop("bar", None)
    if bar is not None:
        bar.close()
    _PROGRESS.pop("total", None)
    written = verify_output(job, counts)
    tf.io.gfile.copy(job.model_path, os.path.join(job.output_dir, "face_model.npz"), overwrite=True)
    sheets = {}
    for split in counts:
        name = job.scenario_of(split)
        if name not in sheets:
            sheets[name] = write_contact_sheet(job.output_dir, split, name)
    summary = {
        "job": dataclasses.asdict(job),
        "counts": counts,
        "shards": written,
        "contact_sheets": sheets,
    }
    write_text_atomic(
        os.path.join(job.output_dir, "render.json"), json.dumps(summary, indent=2, sort_keys=True)
    )
    return summary


JOB_FILE = ".render_job.json"


def shard_path(job: RenderJob, split: str, shard: int, count: int) -> str:
    return os.path.join(
        job.output_dir,
        SPLIT_DIR.format(split=split),
        SHARD_NAME.format(shard=shard, num_shards=job.shards_of(split, count)),
    )


def prepare_output(job: RenderJob, counts: dict[str, int]) -> list[tuple[str, int, int, int]]:
    """Makes the output folder ready and returns the shards still to render.

    A folder left by a killed run of the *same* job (same parameters and
    counts, recorded in `.render_job.json`) is resumed: its complete shards
    (they only ever appear by an atomic rename) are kept and temporary files
    are removed. Anything else in the split folders is cleared first.
    """
    import tensorflow as tf

    tf.io.gfile.makedirs(job.output_dir)
    identity = json.dumps({"job": dataclasses.asdict(job), "counts": counts}, sort_keys=True)
    job_file = os.path.join(job.output_dir, JOB_FILE)
    same_job = tf.io.gfile.exists(job_file) and tf.io.gfile.GFile(job_file).read() == identity
    for split in counts:
        split_dir = os.path.join(job.output_dir, SPLIT_DIR.format(split=split))
        if tf.io.gfile.exists(split_dir):
            for name in tf.io.gfile.listdir(split_dir):
                if not same_job or ".tmp-" in name:
                    tf.io.gfile.remove(os.path.join(split_dir, name))
        tf.io.gfile.makedirs(split_dir)
    if not same_job:
        from headsynth.io_utils import write_text_atomic

        write_text_atomic(job_file, identity)
    return [
        item
        for item in plan_shards(job, counts)
        if not tf.io.gfile.exists(shard_path(job, item[0], item[1], counts[item[0]]))
    ]


def verify_output(job: RenderJob, counts: dict[str, int]) -> dict[str, list[str]]:
    """Checks every expected shard exists; returns the shard paths per split."""
    import tensorflow as tf

    written = {}
    for split, count in counts.items():
        num_shards = job.shards_of(split, count)
        paths = [
            os.path.join(
                job.output_dir,
                SPLIT_DIR.format(split=split),
                SHARD_NAME.format(shard=s, num_shards=num_shards),
            )
            for s in range(num_shards)
        ]
        missing = [p for p in paths if not tf.io.gfile.exists(p)]
        if missing:
            raise RuntimeError(
                f"Render job finished but {len(missing)} shard(s) are missing, e.g. {missing[0]}."
            )
        written[split] = paths
    return written


def read_examples(output_dir: str, split: str, limit: int | None = None) -> list[bytes]:
    """Serialized examples of one split, in index order (reads shards in order).

    Raises:
        DataError: naming a corrupt or truncated shard.
    """
    import tensorflow as tf

    from headsynth.data_schemas.shards import read_records

    pattern = os.path.join(output_dir, SPLIT_DIR.format(split=split), "*.gz")
    return read_records(sorted(tf.io.gfile.glob(pattern)), limit)


def write_contact_sheet(output_dir: str, split: str, scenario: str, rows: int = 4, cols: int = 8) -> str:
    """Writes a grid of the first examples of a split (like the paper's Figures 1-4)."""
    import cv2
    import tensorflow as tf

    from headsynth.io_utils import atomic_path

    images = []
    for record in read_examples(output_dir, split, rows * cols):
        example = tf.train.Example.FromString(record)
        encoded = example.features.feature["image"].bytes_list.value[0]
        images.append(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR))
    if not images:
        return ""
    blank = np.zeros_like(images[0])
    images += [blank] * (rows * cols - len(images))
    grid = np.concatenate(
        [np.concatenate(images[r * cols : (r + 1) * cols], axis=1) for r in range(rows)], axis=0
    )
    path = os.path.join(output_dir, f"contact_sheet_{scenario}.png")
    with atomic_path(path) as tmp:
        ok, data = cv2.imencode(".png", grid)
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(data.tobytes())
    return path
