"""Rendering throughput at 224x224 with the built-in model, measured side by side in one run.

Prints, as medians of several repeats:
  raw       tfg's CPU rasteriser alone on the same meshes (tfg's CPU backend, triangle ids),
            over as many images as the jobs render
  render    the full HeadRenderer (vertices, hair, shading, rasterise, interpolate, composite),
            over as many images
  e2e       the render job's shard writer in this process, after set-up: render + shade +
            composite + encode PNG + serialize + write a gzipped TFRecord shard
  job x1/x2 the Beam render job (fresh process) with 1 and 2 multi-process workers of
            one TensorFlow thread each, in steady state: from the completion times of
            its 32 shards, the examples after each worker's first shard over the time
            they took (the first shard also paid for start-up, ~25 s here)
and the ratios e2e/raw and job x2/x1, plus the peak memory of the job at N
and 2N examples to show it does not grow.
Rates are per wall-clock second; CPU-second rates are printed too because
shared machines are noisy.

Run: .venv/bin/python benchmarks/render_throughput.py [--examples 1536] [--repeats 3] [--size 224]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _model_and_params(root: str, size_train: int, shape_k: int = 18, texture_k: int = 18):
    from headsynth.components.sampling.samplers import sample_parameters
    from headsynth.data_schemas.parameter_store import save_split_parameters
    from headsynth.morphable.loading import load_model

    model = load_model("builtin", shape_k, texture_k)
    model.save_npz(os.path.join(root, "model.npz"))
    m = model.num_parameters
    save_split_parameters(
        os.path.join(root, "params.npz"),
        {
            "train": sample_parameters("paper_uniform", size_train, m, 0),
            "eval": sample_parameters("paper_uniform", 1, m, 1),
        },
    )
    return model


def raw_and_render_rates(model, size: int, batch: int, repeats: int, examples: int) -> tuple[float, float]:
    """Images/s of the bare rasteriser and of the full renderer on the same meshes.

    Each repeat times `examples` images (the same batch again and again), so the rates are steady-state
    over seconds, as the jobs' are, not one ~50 ms burst.
    """
    import tensorflow as tf
    from tensorflow_graphics.geometry.transformation import rotation_matrix_3d
    from tensorflow_graphics.rendering import rasterization_backend
    from tensorflow_graphics.rendering.camera import perspective

    from headsynth.components.rendering.renderer import HeadRenderer
    from headsynth.components.rendering.scenarios import get_scenario
    from headsynth.components.sampling.samplers import sample_parameters

    renderer = HeadRenderer(model, size)
    q = sample_parameters("paper_uniform", batch, model.num_parameters, 0)
    factors = [get_scenario("angle").sample(0, "train", i) for i in range(batch)]
    scene = renderer.scene_tensors(factors)
    # The same camera-space meshes the renderer rasterises, in metres.
    vertices = model.vertices(q) - renderer._centre
    rotation = rotation_matrix_3d.from_euler(scene["angles"])
    camera = (tf.einsum("bij,bvj->bvi", rotation, vertices) + scene["translation"][:, None]) / 1000.0
    ones = tf.ones([batch, 1])
    projection = perspective.right_handed(scene["fov"], ones, 0.01 * ones, 5.0 * ones)
    triangles = tf.constant(model.triangles)

    @tf.function(autograph=False)
    def raw(camera):
        return rasterization_backend.rasterize(
            camera,
            triangles,
            projection,
            (size, size),
            False,
            1,
            rasterization_backend.RasterizationBackends.CPU,
        ).triangle_id

    raw(camera)
    renderer.render(q, factors)
    calls = max(1, examples // batch)
    raw_times, render_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            raw(camera).numpy()
        raw_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(calls):
            renderer.render(q, factors)
        render_times.append(time.perf_counter() - start)
    return calls * batch / statistics.median(raw_times), calls * batch / statistics.median(render_times)


def shard_writer_rate(root: str, size: int, batch: int, examples: int, repeats: int) -> tuple[float, float]:
    """Steady-state examples/s (wall, CPU) of the job's per-shard render-and-write, set-up excluded."""
    from headsynth.components.rendering.render_job import RenderJob, RenderShardFn

    job = RenderJob(
        os.path.join(root, "model.npz"),
        os.path.join(root, "params.npz"),
        os.path.join(root, "in-process"),
        scenario="angle",
        eval_scenario="angle",
        image_size=size,
        batch_size=batch,
        num_shards=1,
    )
    shards = os.path.join(job.output_dir, "Split-train")
    os.makedirs(shards, exist_ok=True)
    writer = RenderShardFn(job, {"train": examples})
    writer.setup()
    list(writer.process(("train", 0, 0, batch)))  # trace the graph once
    walls, cpus = [], []
    for _ in range(repeats):
        for name in os.listdir(shards):  # a finished shard is not rendered again (resumable jobs)
            os.remove(os.path.join(shards, name))
        wall, cpu = time.perf_counter(), time.process_time()
        list(writer.process(("train", 0, 0, examples)))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return examples / statistics.median(walls), examples / statistics.median(cpus)


def job_run(root: str, size: int, batch: int, workers: int, examples: int, threads: int, shards: int) -> dict:
    """Runs the Beam render job in a fresh process.

    Returns its wall seconds, the peak RSS of any of its processes, and when
    each train shard was completed (its file's modification time: shards are
    streamed to a temporary file and renamed once whole).
    """
    output = tempfile.mkdtemp(dir=root)
    code = f"""
import json, os, resource, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from headsynth.components.rendering.render_job import RenderJob, run_render_job
from headsynth.data_schemas.parameter_store import save_split_parameters
from headsynth.components.sampling.samplers import sample_parameters
from headsynth.morphable.model import load_npz
m = load_npz({os.path.join(root, "model.npz")!r}).num_parameters
params = os.path.join({root!r}, "params-{examples}.npz")
save_split_parameters(params, {{"train": sample_parameters("paper_uniform", {examples}, m, 0),
                                "eval": sample_parameters("paper_uniform", 1, m, 1)}})
job = RenderJob({os.path.join(root, "model.npz")!r}, params, {output!r},
                scenario="angle", eval_scenario="angle", image_size={size}, batch_size={batch},
                num_shards={shards})
args = ["--direct_running_mode=multi_processing", "--direct_num_workers={workers}"]
start = time.perf_counter()
run_render_job(job, beam_args=args, threads={threads})
seconds = time.perf_counter() - start
peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print("RESULT" + json.dumps({{"seconds": seconds, "peak_mb": peak_kb / 1024}}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    line = [x for x in result.stdout.splitlines() if x.startswith("RESULT")]
    if not line:
        raise RuntimeError(result.stderr[-3000:])
    values = json.loads(line[0][len("RESULT") :])
    train = os.path.join(output, "Split-train")
    values["done"] = sorted(os.path.getmtime(os.path.join(train, name)) for name in os.listdir(train))
    return values


def steady_rate(run: dict, workers: int, examples: int) -> float:
    """Examples/s between each worker's first finished shard and the last shard.

    The first `workers` completions end each worker's first shard, which also
    paid for starting Python, TensorFlow and the worker; every later shard is
    rendering alone. Shards hold equal numbers of examples.
    """
    done = run["done"]
    per_shard = examples / len(done)
    return (len(done) - workers) * per_shard / max(done[-1] - done[workers - 1], 1e-9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3072)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as root:
        model = _model_and_params(root, args.examples)
        raw, render = raw_and_render_rates(model, args.size, args.batch, args.repeats, args.examples)
        e2e_in_process, e2e_cpu = shard_writer_rate(root, args.size, args.batch, args.examples, args.repeats)
        # Interleaved so that slow spells of a shared machine hit both alike.
        shards = 32
        one, two = [], []
        for _ in range(args.repeats):
            run = job_run(root, args.size, args.batch, 1, args.examples, threads=1, shards=shards)
            one.append(dict(run, rate=steady_rate(run, 1, args.examples)))
            run = job_run(root, args.size, args.batch, 2, args.examples, threads=1, shards=shards)
            two.append(dict(run, rate=steady_rate(run, 2, args.examples)))
        double = job_run(root, args.size, args.batch, 1, 2 * args.examples, threads=1, shards=shards)
    job1 = statistics.median(r["rate"] for r in one)
    job2 = statistics.median(r["rate"] for r in two)
    peak_n = statistics.median(r["peak_mb"] for r in one)
    peak_2n = double["peak_mb"]
    e2e = max(job2, e2e_in_process)
    print(
        f"render throughput at {args.size}x{args.size}, {model.num_vertices} vertices, "
        f"{len(model.triangles)} triangles, batch {args.batch}, {cpus} CPUs, "
        f"{args.examples} examples, median of {args.repeats}"
    )
    print(f"  raw rasterisation (tfg backend, all cores)   {raw:8.1f} img/s")
    print(f"  full renderer, no I/O (all cores)            {render:8.1f} img/s")
    print(
        f"  end-to-end in one process (all cores)        {e2e_in_process:8.1f} ex/s"
        f"   ({e2e_cpu:.1f} per CPU-second)"
    )

    def spread(runs):
        rates = [r["rate"] for r in runs]
        return f"range {min(rates):.0f}-{max(rates):.0f}"

    print(f"  end-to-end Beam job, 1 worker x 1 thread     {job1:8.1f} ex/s   (steady state; {spread(one)})")
    print(f"  end-to-end Beam job, 2 workers x 1 thread    {job2:8.1f} ex/s   (steady state; {spread(two)})")
    print(f"  end-to-end, best of the above                {e2e:8.1f} ex/s   (goal >= 300)")
    print(f"  end-to-end / raw                             {e2e / raw:8.2f}        (goal >= 0.85)")
    print(
        f"  2 workers / 1 worker                         {job2 / job1:8.2f}        (goal >= 1.8 in every repeat)"
    )
    ratios = [b["rate"] / a["rate"] for a, b in zip(one, two, strict=True)]
    print(
        "  2 workers / 1 worker, each repeat            "
        + " ".join(f"{r:.2f}" for r in ratios)
        + f"   ({sum(r >= 1.8 for r in ratios)} of {len(ratios)} >= 1.8)"
    )
    print(
        f"  Beam job wall time incl. start-up, {args.examples} examples: 1 worker "
        f"{statistics.median(r['seconds'] for r in one):.1f} s, 2 workers "
        f"{statistics.median(r['seconds'] for r in two):.1f} s"
    )
    print(f"  peak memory, {args.examples:5d} examples           {peak_n:8.0f} MB")
    print(
        f"  peak memory, {2 * args.examples:5d} examples           {peak_2n:8.0f} MB  "
        f"(ratio {peak_2n / peak_n:.2f}; flat = memory does not grow with the example count)"
    )


if __name__ == "__main__":
    main()
