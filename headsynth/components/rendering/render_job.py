"""The Beam job that renders examples to gzipped TFRecord shards.

Layout of the output (a TFX Examples artifact):

    <output_dir>/Split-train/data_tfrecord-00000-of-00004.gz ...
    <output_dir>/Split-eval/data_tfrecord-00000-of-00001.gz ...
    <output_dir>/render.json                  what was rendered, and how
    <output_dir>/face_model.npz               the model the examples come from
    <output_dir>/contact_sheet_<scenario>.png a grid of examples per scenario

Determinism: every example's scene comes from (seed, split, index) and its
parameters from the parameter file by index; each shard holds a fixed range
of indices (`shard_plan`) and is rendered and written, in index order, by one
worker. So the bytes do not depend on the number of workers or on the order
Beam processes shards in. Shards are streamed to a temporary name and renamed
when complete, so a killed job never leaves a shard that looks complete
(`resume`), and memory stays at one batch whatever the number of examples.

Runners: any Beam runner given by `--runner`; on Beam's Dask runner (a real
Dask cluster) the job works around the runner's gaps itself (`beam_runners`):
its worker state is prepared on the first shard, a shard task rerun after a
worker died finds the shard complete or renders it again, and leftover
temporary files of a killed worker are removed at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from headsynth.components.rendering.backgrounds import load_backgrounds
from headsynth.components.rendering.beam_runners import dask_client_closed, render_pipeline
from headsynth.components.rendering.codecs import encode_depth, encode_image, encode_mask, gzip_record_writer
from headsynth.components.rendering.contact_sheet import write_contact_sheets
from headsynth.components.rendering.framing import FaceFramer, frame_batch
from headsynth.components.rendering.renderer import HeadRenderer, RenderedBatch
from headsynth.components.rendering.resume import prepare_output, remove_partial_shards, verify_output
from headsynth.components.rendering.scenarios import get_scenario, sample_lighting_and_expression
from headsynth.components.rendering.shard_plan import ShardItem, plan_shards, shard_path, shards_in_split
from headsynth.components.rendering.worker_tuning import threads_per_worker, tune_worker
from headsynth.config import RenderConfig, SamplingConfig
from headsynth.core.io_utils import atomic_path, write_text_atomic
from headsynth.data_schemas.features import make_example
from headsynth.data_schemas.parameter_store import load_split_parameters, split_counts
from headsynth.data_schemas.render_summary import RENDER_SUMMARY
from headsynth.morphable.model import load_npz

MODEL_COPY = "face_model.npz"


@dataclass(frozen=True)
class RenderJob:
    """Plain parameters of one render job (everything a worker needs).

    Defaults are the configuration's (`RenderConfig`, `SamplingConfig`).

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
        framing: "full" or "face" (each render cropped around its detected face; `framing.py`).
        render_size: with framing "face", the side rendered before the crop (0: 1.5 x image_size).
    """

    model_path: str
    parameters_path: str
    output_dir: str
    scenario: str = RenderConfig.scenario
    eval_scenario: str = RenderConfig.scenario  # RenderConfig's "" means "the same"; a job names it
    image_size: int = RenderConfig.image_size
    batch_size: int = RenderConfig.batch_size
    num_shards: int = RenderConfig.num_shards
    seed: int = SamplingConfig.seed
    scale: float = SamplingConfig.scale
    image_format: str = RenderConfig.image_format
    antialias: int = RenderConfig.antialias
    backgrounds: str = RenderConfig.backgrounds
    store_mask: bool = RenderConfig.store_mask
    store_depth: bool = RenderConfig.store_depth
    store_landmarks: bool = RenderConfig.store_landmarks
    framing: str = RenderConfig.framing
    render_size: int = RenderConfig.render_size

    @property
    def rendered_size(self) -> int:
        """The side the renderer draws: the image size, or the size before the face crop."""
        if self.framing != "face":
            return self.image_size
        return self.render_size or int(round(1.5 * self.image_size))

    def scenario_of(self, split: str) -> str:
        """The scenario name of a split."""
        return self.scenario if split == "train" else self.eval_scenario

    def shards_of(self, split: str, count: int) -> int:
        """Shard files of a split of `count` examples (see `shard_plan.shards_in_split`)."""
        return shards_in_split(split, count, self.num_shards)


class _Rendered(NamedTuple):
    """One rendered batch of a split and what its examples store beside the pictures."""

    split: str
    batch: RenderedBatch
    indices: range
    q: np.ndarray  # [B, m]
    factors: list[dict[str, float]]
    sh_light: np.ndarray  # [B, 9, 3]
    expression: np.ndarray | None  # [B, k]


_PROGRESS: dict = {}


@contextlib.contextmanager
def _progress_bar(total: int) -> Iterator[None]:
    """Counts the examples this process renders while the block runs (in-process runners only)."""
    _PROGRESS["total"] = total
    _PROGRESS.pop("bar", None)
    try:
        yield
    finally:
        bar = _PROGRESS.pop("bar", None)
        if bar is not None:
            bar.close()
        _PROGRESS.pop("total", None)


def _progress(step: int) -> None:
    """Advances this process's bar, made on first use; Beam's worker processes have none."""
    total = _PROGRESS.get("total")
    if total is None:
        return
    bar = _PROGRESS.get("bar")
    if bar is None:
        bar = _PROGRESS["bar"] = tqdm(total=total, desc="rendering", unit="img", leave=False)
    bar.update(step)


class _WorkerState(NamedTuple):
    """What a render worker loads once: scenarios and parameters per split, the renderer, the face framer."""

    scenarios: dict
    renderer: HeadRenderer
    parameters: dict[str, np.ndarray]  # split -> [N, m]
    framer: FaceFramer | None  # None unless the job frames faces


def _prepare_worker(job: RenderJob, counts: dict[str, int]) -> _WorkerState:
    """Loads the model, backgrounds and parameters of a job and builds its renderer."""
    scenarios = {split: get_scenario(job.scenario_of(split)) for split in counts}
    needs_photos = any(scenario.uses_photographs() for scenario in scenarios.values())
    photos = load_backgrounds(job.backgrounds) if needs_photos else []
    renderer = HeadRenderer(
        load_npz(job.model_path),
        job.rendered_size,
        job.scale,
        job.antialias,
        photos,
        with_depth=job.store_depth,
    )
    parameters = {split: load_split_parameters(job.parameters_path, split) for split in counts}
    framer = FaceFramer() if job.framing == "face" else None
    return _WorkerState(scenarios, renderer, parameters, framer)


# Worker processes that never call DoFn.setup() (Beam's Dask runner) unpickle a
# fresh DoFn for every task; each thread keeps its latest job's state instead of
# rebuilding the renderer per shard. Only that path caches: a process that
# calls setup() (in-process runners) frees it with the DoFn.
_WORKER = threading.local()


def _worker_state(job: RenderJob, counts: dict[str, int]) -> _WorkerState:
    """This thread's state for `job`, prepared on first use; another job replaces it."""
    key = (job, tuple(sorted(counts.items())))
    if getattr(_WORKER, "key", None) != key:
        _WORKER.key = _WORKER.state = None  # frees the previous job's renderer first
        _WORKER.state = _prepare_worker(job, counts)
        _WORKER.key = key
    return _WORKER.state


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
            tune_worker(self._threads)
        self._use(_prepare_worker(self._job, self._counts))

    def _use(self, state: _WorkerState) -> None:
        self._scenarios, self._renderer, self._parameters, self._framer = state
        self._rendered = beam.metrics.Metrics.counter("headsynth", "examples_rendered")

    def process(self, item: ShardItem) -> Iterator[tuple[str, int]]:
        if not hasattr(self, "_renderer"):  # a runner that never calls setup(): Beam's Dask runner
            self._use(_worker_state(self._job, self._counts))
        split, shard, start, stop = item
        job = self._job
        path = shard_path(job.output_dir, split, shard, job.shards_of(split, self._counts[split]))
        # A shard exists only complete (atomic rename): a task rerun after its worker
        # died, or a resumed job, need not render it again.
        if not tf.io.gfile.exists(path):
            with atomic_path(path) as tmp, gzip_record_writer(tmp) as writer:
                self._write_shard(writer, split, start, stop)
        yield split, stop - start

    def _write_shard(self, writer: tf.io.TFRecordWriter, split: str, start: int, stop: int) -> None:
        """Renders examples start..stop-1 batch by batch and writes them in index order.

        A process with TensorFlow's default threads owns the machine: one more
        thread encodes and writes batch n while TensorFlow renders batch n + 1
        (both release the GIL for their heavy parts). Worker processes sharing
        the cores encode in turn.
        """
        batch_size = self._job.batch_size
        with ThreadPoolExecutor(max_workers=1) as encoder:
            pending: Future | None = None
            for batch_start in range(start, stop, batch_size):
                rendered = self._render_batch(split, batch_start, min(batch_start + batch_size, stop))
                if pending is not None:
                    pending.result()  # re-raises an encoding or write error here
                if self._threads > 0:
                    self._write_batch(writer, rendered)
                else:
                    pending = encoder.submit(self._write_batch, writer, rendered)
            if pending is not None:
                pending.result()

    def _write_batch(self, writer: tf.io.TFRecordWriter, rendered: _Rendered) -> None:
        for example in self._serialize(rendered):
            writer.write(example)
        count = len(rendered.indices)
        self._rendered.inc(count)
        _progress(count)

    def render_examples(self, split: str, start: int, stop: int) -> list[bytes]:
        """Serialized examples start..stop-1 of a split, in index order."""
        return self._serialize(self._render_batch(split, start, stop))

    def _render_batch(self, split: str, start: int, stop: int) -> _Rendered:
        """Renders examples start..stop-1 of a split with their scenes, light and expressions."""
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
        if self._framer is not None:
            batch, _ = frame_batch(batch, self._framer, job.image_size)
        return _Rendered(split, batch, indices, q, factors, sh_light, expression)

    def _serialize(self, rendered: _Rendered) -> list[bytes]:
        job = self._job
        batch, expression = rendered.batch, rendered.expression
        scenario = self._scenarios[rendered.split]
        return [
            make_example(
                image=encode_image(batch.images[offset], job.image_format),
                q=rendered.q[offset],
                factors=rendered.factors[offset],
                scenario=scenario.name,
                seed=job.seed,
                index=index,
                landmarks=batch.landmarks[offset] if job.store_landmarks else None,
                mask=encode_mask(batch.masks[offset]) if job.store_mask else None,
                depth=encode_depth(batch.depth[offset]) if job.store_depth else None,
                sh_light=rendered.sh_light[offset],
                expression=expression[offset] if expression is not None else None,
            )
            for offset, index in enumerate(rendered.indices)
        ]


class RenderShards(beam.PTransform):
    """Renders and writes shard files; the output is a PCollection of (split, examples written) per shard.

    Args:
        job: what to render.
        counts: examples per split.
        shards: the (split, shard, start, stop) items to render; None: all of them.
        threads: TensorFlow threads per worker process (0: TensorFlow's default).
    """

    def __init__(
        self,
        job: RenderJob,
        counts: dict[str, int],
        shards: list[ShardItem] | None = None,
        threads: int = 0,
    ) -> None:
        super().__init__()
        self._job = job
        self._counts = counts
        self._shards = plan_shards(counts, job.num_shards) if shards is None else shards
        self._threads = threads

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            pbegin
            | "PlanShards" >> beam.Create(self._shards)
            | "SpreadOverWorkers" >> beam.Reshuffle()
            | "RenderAndWriteShards" >> beam.ParDo(RenderShardFn(self._job, self._counts, self._threads))
        )


def _split_counts(job: RenderJob) -> dict[str, int]:
    """Examples per split; checks both scenarios first so a bad name fails before any output."""
    for split in ("train", "eval"):
        get_scenario(job.scenario_of(split))
    return split_counts(job.parameters_path)


def _finish_output(job: RenderJob, counts: dict[str, int]) -> dict:
    """Checks the shards, adds the model, contact sheets and `render.json`; returns the summary."""
    written = verify_output(job.output_dir, counts, job.num_shards)
    remove_partial_shards(job.output_dir, counts)  # left by a worker killed mid-shard
    tf.io.gfile.copy(job.model_path, os.path.join(job.output_dir, MODEL_COPY), overwrite=True)
    sheets = write_contact_sheets(job.output_dir, {split: job.scenario_of(split) for split in counts})
    summary = {
        "job": dataclasses.asdict(job),
        "counts": counts,
        "shards": written,
        "contact_sheets": sheets,
    }
    text = json.dumps(summary, indent=2, sort_keys=True)
    write_text_atomic(os.path.join(job.output_dir, RENDER_SUMMARY), text)
    return summary


def run_render_job(
    job: RenderJob,
    beam_args: list[str] | None = None,
    beam_pipeline: beam.Pipeline | None = None,
    threads: int | None = None,
) -> dict:
    """Renders every example of both splits and writes the Examples layout.

    Resumes a killed run of the same job in the same folder (`resume`).

    Args:
        job: what to render.
        beam_args: Beam pipeline options, e.g. ["--direct_num_workers=2"].
        beam_pipeline: a pipeline to run in (TFX passes one); if None, one is
            made from `beam_args`. On Beam's Dask runner (either way) the job
            runs in a fresh Dask pipeline (`beam_runners.render_pipeline`).
        threads: TensorFlow threads per worker process; None derives them from
            the pipeline options (`worker_tuning.threads_per_worker`).

    Returns:
        A summary dict (also written to `render.json`).

    Raises:
        ConfigError: for an unknown scenario, or Beam options that choose the
            Dask runner badly or name a scheduler that does not answer
            (`beam_runners`).
    """
    counts = _split_counts(job)
    beam_pipeline = render_pipeline(beam_args, beam_pipeline)  # checks the runner options first
    todo = prepare_output(job.output_dir, dataclasses.asdict(job), counts, job.num_shards)
    if threads is None:
        threads = threads_per_worker(beam_pipeline.options)
    total = sum(stop - start for _, _, start, stop in todo)
    # Leaving the pipeline's block runs it; then the Dask client closes and the bar after.
    with _progress_bar(total), dask_client_closed(beam_pipeline), beam_pipeline as pipeline:
        _ = pipeline | "RenderShards" >> RenderShards(job, counts, todo, threads)
    return _finish_output(job, counts)
