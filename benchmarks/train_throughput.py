"""Training throughput per stem mode, the feature cache's speed-up, and serving latency, side by side in one run.

For each backbone at its input size (small_cnn 64, facemesh 192, resnet50 and
wide_resnet50_2 224), on examples rendered once by the project's render job:

  trained      images/s of a training step with the whole network training
  frozen       images/s with the stem frozen (only the head trains), the stem recomputed every step
  from_block   images/s with the stem trained from the first block of its last stage on
  cached       images/s of the head trained on the frozen stem's cached features
               (the thesis's `cache_stem_features`), after the one-off feature pass

Rates are steady-state: after a warm-up fit that traces the step, each timed
fit starts with an untimed step (its input pipeline's start-up; none for
resnet50 and wide_resnet50_2, whose steps take seconds on a CPU). The repeats
of the modes are interleaved, so every ratio compares rates measured side by
side; figures are medians of `--repeats`. Below the table, the goals:

  cached-feature speed-up   cached-feature epochs over epochs that recompute the frozen stem (goal >= 10x)
  serving p50 / p99         one PNG image through the exported SavedModel's `serving_default` (goal p50 <= 20 ms)
  WRN-50-2 frozen           >= 1,000 images/s on an H200-class GPU in bf16 (only judged on a GPU)

Everything runs through the project's own code: `wiring.render_job` and
`run_render_job` for the data, `wiring.train_settings` (the presets' training
sections: quickstart for small_cnn and facemesh, paper for resnet50, thesis for
wide_resnet50_2; random stem weights, so nothing is downloaded), the training
module's `make_dataset`, `prepare_model` (build_regressor, make_optimizer),
`fit_inputs` (compute_stem_features, cached_dataset) and Keras' fit for the
rates, and `train_regressor` (which exports the SavedModel) for serving.

Run: .venv/bin/python benchmarks/train_throughput.py [--quick] [--repeats 3]
         [--backbones small_cnn,facemesh,resnet50,wide_resnet50_2] [--modes trained,frozen,from_block,cached]
         [--serving small_cnn,facemesh] [--batch N] [--steps N] [--examples N] [--calls N]
         [--mixed-precision bf16]
(`--quick`: small_cnn and facemesh at tiny sizes and few steps, to check that it runs, ~3 minutes
on 2 cores; the full run ~10 minutes; `benchmarks/gpu.sh` measures the GPU figures.)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import math
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from headsynth.core.logs import filtered_stderr, quiet_logging, quiet_start  # noqa: E402

quiet_start()
with filtered_stderr():  # TensorFlow's and Google's start-up lines
    import keras
    import numpy as np
    import tensorflow as tf

    from headsynth.components.rendering.render_job import run_render_job
    from headsynth.components.sampling.samplers import sample_parameters
    from headsynth.components.training.fit import fit_inputs, prepare_model, train_regressor
    from headsynth.components.training.inputs import make_dataset
    from headsynth.components.training.model import make_optimizer, make_strategy
    from headsynth.components.training.settings import TrainSettings
    from headsynth.config.presets import get_preset
    from headsynth.data_schemas import features
    from headsynth.data_schemas.parameter_store import save_split_parameters
    from headsynth.models.regressor import squared_euclidean_loss
    from headsynth.morphable.loading import load_model
    from headsynth.morphable.model import MorphableModel
    from headsynth.wiring import render_job, train_settings

MODES = ("trained", "frozen", "from_block", "cached")
DEFAULT_SERVING = ("small_cnn", "facemesh")  # the backbones with a serving goal
SPEED_UP_GOAL = 10.0
SERVING_P50_GOAL_MS = 20.0
GPU_FROZEN_GOAL = 1000.0  # images/s of wide_resnet50_2 frozen, bf16, H200-class GPU


@dataclass(frozen=True)
class Plan:
    """How one backbone is measured.

    Attributes:
        backbone: the backbone preset.
        preset: the configuration preset whose face model, rendering and training section it takes.
        image_size: input side in pixels.
        batch: examples per step.
        steps: timed steps per repeat of the image-fed modes.
        examples: rendered training examples (one epoch of the feature cache).
        from_block: the first trained block of `from_block` (the first block of the last stage).
        from_block_index: its index in the backbone's `block_names`.
        lead: untimed steps at the start of each timed fit (its input pipeline's start-up);
            0 where a step takes seconds.
    """

    backbone: str
    preset: str
    image_size: int
    batch: int
    steps: int
    examples: int
    from_block: str
    from_block_index: int
    lead: int = 1


PLANS = {
    "small_cnn": Plan("small_cnn", "quickstart", 64, 32, 20, 512, "stage3", 3),
    "facemesh": Plan("facemesh", "quickstart", 192, 32, 8, 256, "block12", 12),
    "resnet50": Plan("resnet50", "paper", 224, 8, 2, 64, "conv5_block1", 14, lead=0),
    "wide_resnet50_2": Plan("wide_resnet50_2", "thesis", 224, 8, 1, 64, "conv5_block1", 14, lead=0),
}
# --quick: the CPU backbones unless --backbones names others; the big networks at 64 px; facemesh resizes to 192 inside whatever its input.
QUICK_BACKBONES = ("small_cnn", "facemesh")
QUICK_CHANGES = {
    "small_cnn": {"batch": 16, "steps": 4, "examples": 64},
    "facemesh": {"image_size": 64, "batch": 8, "steps": 2, "examples": 32},
    "resnet50": {"image_size": 64, "batch": 4, "steps": 1, "examples": 16},
    "wide_resnet50_2": {"image_size": 64, "batch": 4, "steps": 1, "examples": 16},
}


# --- Data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Examples:
    """Rendered examples of one preset at one size: shard patterns and the face model."""

    train: str
    eval: str
    face_model: MorphableModel


def render_examples(root: str, preset: str, size: int, num_train: int, num_eval: int) -> Examples:
    """Renders train and eval examples with the preset's face model, sampler and scenario."""
    config = get_preset(preset)
    folder = os.path.join(root, f"{preset}-{size}-{num_train}")
    os.makedirs(folder, exist_ok=True)
    face = config.face_model
    face_model = load_model(face.source, face.shape_components, face.texture_components)
    model_path, parameters_path = os.path.join(folder, "model.npz"), os.path.join(folder, "params.npz")
    face_model.save_npz(model_path)
    m, sampling = face_model.num_parameters, config.sampling
    save_split_parameters(
        parameters_path,
        {
            "train": sample_parameters(sampling.sampler, num_train, m, [sampling.seed, 0]),
            "eval": sample_parameters(sampling.sampler, num_eval, m, [sampling.seed, 1]),
        },
    )
    output = os.path.join(folder, "examples")
    job = render_job(config, model_path, parameters_path, output, image_size=size, num_shards=2)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):  # the progress bar
        run_render_job(job)
    return Examples(
        os.path.join(output, "Split-train", "*"), os.path.join(output, "Split-eval", "*"), face_model
    )


def first_encoded_image(pattern: str) -> bytes:
    """The encoded PNG of the first example of the first shard matching `pattern`."""
    files = sorted(tf.io.gfile.glob(pattern))
    record = next(iter(tf.data.TFRecordDataset(files[:1], compression_type="GZIP")))
    example = tf.train.Example.FromString(record.numpy())
    return example.features.feature[features.IMAGE].bytes_list.value[0]


# --- Training rates -------------------------------------------------------------------------------


def settings_for(plan: Plan, mode: str, **changes) -> TrainSettings:
    """The TrainSettings of a plan's preset for one stem mode (random stem weights)."""
    settings = train_settings(
        get_preset(plan.preset),
        backbone=plan.backbone,
        stem_weights="",
        stem_mode="frozen" if mode == "cached" else mode,
        stem_train_from_block=plan.from_block_index,
        cache_stem_features=mode == "cached",
        batch_size=plan.batch,
        eval_steps=1,
        log_renders=0,
        **changes,
    )
    return dataclasses.replace(settings, image_size=plan.image_size)


class SteadyTimer(keras.callbacks.Callback):
    """Wall time of a fit's steps after its first `lead` steps."""

    def __init__(self, lead: int) -> None:
        super().__init__()
        self.lead = lead
        self.start = self.end = None

    def _now(self) -> float:
        self.model.optimizer.iterations.numpy()  # waits for the steps so far: a GPU runs ahead of the host
        return time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.lead:
            self.start = self._now()

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.params["steps"] - 1:
            self.end = self._now()


@dataclass
class Trainee:
    """One stem mode ready to train: the fitted model, its data and the step count to time."""

    mode: str
    fitted: keras.Model
    train: tf.data.Dataset
    steps: int
    batch: int
    lead: int
    rates: list[float] = field(default_factory=list)

    def time_once(self) -> None:
        """Fits `lead` + `steps` steps and records the images/s of the last `steps`."""
        timer = SteadyTimer(self.lead)
        self.fitted.fit(
            self.train,
            epochs=1,
            steps_per_epoch=self.lead + self.steps,
            callbacks=[timer],
            shuffle=False,
            verbose=0,
        )
        self.rates.append(self.steps * self.batch / (timer.end - timer.start))


@dataclass
class FeaturePass:
    """The one-off pass of the frozen stem over the training (and eval) examples of the cache."""

    images: int
    seconds: float


def prepare_trainees(
    plan: Plan, data: Examples, modes: list[str]
) -> tuple[list[Trainee], FeaturePass | None]:
    """Builds, compiles and warms up one model per image-fed mode, and the cached head (sharing the frozen model)."""
    m, size, batch = data.face_model.num_parameters, plan.image_size, plan.batch
    trainees, feature_pass, frozen_model = [], None, None
    image_modes = [mode for mode in ("trained", "frozen", "from_block") if mode in modes]
    if "cached" in modes and "frozen" not in image_modes:
        image_modes.append("frozen")
    for mode in image_modes:
        settings = settings_for(plan, mode)
        training = settings.training
        keras.utils.set_random_seed(training.seed)
        strategy = make_strategy(training.distribution)
        train_ds = make_dataset(data.train, m, size, batch, True, training.seed)
        model, optimizer = prepare_model(settings, strategy, data.train, m)
        name = model.backbone.block_names[plan.from_block_index]
        if mode == "from_block" and name != plan.from_block:
            raise ValueError(
                f"Block {plan.from_block_index} of {plan.backbone} is {name}, not {plan.from_block}."
            )
        with strategy.scope():
            model.compile(optimizer=optimizer, loss=squared_euclidean_loss)
        frozen_model = model if mode == "frozen" else frozen_model
        if mode in modes:
            trainees.append(Trainee(mode, model, train_ds, plan.steps, batch, plan.lead))
    if "cached" in modes:
        settings = settings_for(plan, "cached")
        eval_ds = make_dataset(data.eval, m, size, batch, False, settings.training.seed)
        start = time.perf_counter()
        inputs = fit_inputs(frozen_model, settings, data.train, m, None, eval_ds)
        feature_pass = FeaturePass(plan.examples + batch, time.perf_counter() - start)
        inputs.fitted.compile(optimizer=make_optimizer(settings.training), loss=squared_euclidean_loss)
        epoch_steps = plan.examples // batch
        steps = epoch_steps * max(2, math.ceil(50 / epoch_steps))  # whole epochs, at least 50 steps
        trainees.append(Trainee("cached", inputs.fitted, inputs.train, steps, batch, lead=1))
    for trainee in trainees:  # warm-up: traces the step
        trainee.fitted.fit(trainee.train, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0)
    return trainees, feature_pass


@dataclass
class BackboneResult:
    """Median images/s per mode of one backbone, and its feature pass."""

    plan: Plan
    rates: dict[str, float]
    feature_pass: FeaturePass | None


def measure_backbone(plan: Plan, data: Examples, modes: list[str], repeats: int) -> BackboneResult:
    """Interleaved repeats of every mode of one backbone; medians of images/s."""
    trainees, feature_pass = prepare_trainees(plan, data, modes)
    for _ in range(repeats):
        for trainee in trainees:
            trainee.time_once()
    rates = {trainee.mode: statistics.median(trainee.rates) for trainee in trainees}
    del trainees
    keras.backend.clear_session()
    gc.collect()
    return BackboneResult(plan, rates, feature_pass)


# --- Serving --------------------------------------------------------------------------------------


def serving_latency(plan: Plan, data: Examples, root: str, repeats: int, calls: int) -> tuple[float, float]:
    """Median over repeats of p50 and p99 (ms) of one-image requests to `serving_default`.

    The SavedModel comes from `train_regressor` (2 steps of the head on cached
    features: the weights do not change the latency).
    """
    settings = settings_for(plan, "cached", train_steps=2, steps_per_epoch=2)
    out = tempfile.mkdtemp(prefix=f"serving-{plan.backbone}-", dir=root)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):  # fit's per-epoch lines
        train_regressor(
            data.train,
            data.eval,
            data.face_model,
            settings,
            os.path.join(out, "serving"),
            os.path.join(out, "logs"),
        )
    keras.backend.clear_session()
    serve = tf.saved_model.load(os.path.join(out, "serving")).signatures["serving_default"]
    request = tf.constant([first_encoded_image(data.eval)])

    def call() -> float:
        start = time.perf_counter()
        {name: value.numpy() for name, value in serve(images=request).items()}
        return time.perf_counter() - start

    for _ in range(5):
        call()
    p50s, p99s = [], []
    for _ in range(repeats):
        latencies = np.array([call() for _ in range(calls)]) * 1000.0
        p50s.append(float(np.percentile(latencies, 50)))
        p99s.append(float(np.percentile(latencies, 99)))
    return statistics.median(p50s), statistics.median(p99s)


# --- Report ---------------------------------------------------------------------------------------


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def print_rates(results: list[BackboneResult], repeats: int) -> None:
    """The table of images/s per stem mode."""
    print(f"\nTraining images/s, median of {repeats} interleaved repeats (steady state, after a warm-up)")
    header = f"{'backbone':<16} {'input':>5} {'batch':>5} {'steps':>5} {'trained':>9} {'frozen':>9} "
    print(header + f"{'from_block':>10} {'(from)':<13} {'cached':>9} {'feature pass':>14}")
    for result in results:
        plan, rates, features = result.plan, result.rates, result.feature_pass
        feature_pass = f"{features.seconds:.1f} s/{features.images}" if features else "-"
        print(
            f"{plan.backbone:<16} {plan.image_size:>5} {plan.batch:>5} {plan.steps:>5} "
            f"{_rate(rates.get('trained')):>9} {_rate(rates.get('frozen')):>9} "
            f"{_rate(rates.get('from_block')):>10} {'(' + plan.from_block + ')':<13} "
            f"{_rate(rates.get('cached')):>9} {feature_pass:>14}"
        )
    print(
        "  cached: the head alone on cached stem features, timed over whole epochs; feature pass: the one-off\n"
        "  pass of the frozen stem over the training examples and one eval batch, tracing included"
    )


def _verdict(met: bool) -> str:
    return "meets the goal" if met else "MISSES the goal"


def print_goals(
    results: list[BackboneResult], serving: dict[str, tuple[float, float]], gpu: bool, policy: str
) -> None:
    """One line per goal, starting with the goal's name; the GPU goal is judged only on a GPU in bf16."""
    print("\nGoals")
    for result in results:
        rates, plan = result.rates, result.plan
        if "frozen" in rates and "cached" in rates:
            speed_up = rates["cached"] / rates["frozen"]
            epoch_frozen, epoch_cached = plan.examples / rates["frozen"], plan.examples / rates["cached"]
            print(
                f"cached-feature speed-up {plan.backbone}: {speed_up:,.1f}x "
                f"(an epoch of {plan.examples}: {epoch_frozen:.3g} s recomputing the frozen stem, "
                f"{epoch_cached:.3g} s on cached features; goal >= {SPEED_UP_GOAL:g}x): {_verdict(speed_up >= SPEED_UP_GOAL)}"
            )
    for backbone, (p50, p99) in serving.items():
        goal = (
            f"goal p50 <= {SERVING_P50_GOAL_MS:g} ms): {_verdict(p50 <= SERVING_P50_GOAL_MS)}"
            if backbone in DEFAULT_SERVING
            else "no goal set)"
        )
        print(f"serving p50 {backbone}: {p50:.1f} ms, p99 {p99:.1f} ms (one PNG per request; {goal}")
    for result in results:
        if result.plan.backbone == "wide_resnet50_2" and "frozen" in result.rates:
            rate = result.rates["frozen"]
            verdict = (
                _verdict(rate >= GPU_FROZEN_GOAL)
                if gpu and policy == "mixed_bfloat16"
                else f"not judged ({'policy ' + policy if gpu else 'no GPU visible'})"
            )
            print(
                f"wide_resnet50_2 frozen: {rate:,.1f} images/s "
                f"(goal >= {GPU_FROZEN_GOAL:,.0f} on an H200-class GPU in bf16): {verdict}"
            )


# --- Main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per figure (median)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps: checks that it runs")
    parser.add_argument(
        "--backbones",
        default=None,
        help=f"comma-separated subset of {','.join(PLANS)} (default: all; with --quick: {','.join(QUICK_BACKBONES)})",
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of %(default)s")
    parser.add_argument(
        "--serving",
        default=None,
        help="backbones whose serving latency is measured, or 'none' "
        "(default: small_cnn and facemesh, those of --backbones)",
    )
    parser.add_argument("--batch", type=int, default=None, help="batch size for every backbone")
    parser.add_argument(
        "--steps", type=int, default=None, help="timed steps per repeat of the image-fed modes"
    )
    parser.add_argument("--examples", type=int, default=None, help="rendered training examples per backbone")
    parser.add_argument("--calls", type=int, default=None, help="one-image requests per serving repeat")
    parser.add_argument(
        "--mixed-precision",
        choices=("none", "bf16", "fp16"),
        default="none",
        help="Keras' mixed precision policy",
    )
    args = parser.parse_args(argv)
    default_backbones = QUICK_BACKBONES if args.quick else tuple(PLANS)
    args.backbones = _names(args.backbones or ",".join(default_backbones), PLANS, "--backbones")
    args.modes = _names(args.modes, MODES, "--modes")
    if args.serving is None:
        args.serving = [b for b in DEFAULT_SERVING if b in args.backbones]
    else:
        args.serving = [] if args.serving == "none" else _names(args.serving, PLANS, "--serving")
    return args


def _names(value: str, known, option: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"{option}: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def plan_of(backbone: str, args: argparse.Namespace) -> Plan:
    """The backbone's plan, with --quick's and the command line's changes."""
    plan = PLANS[backbone]
    if args.quick:
        plan = dataclasses.replace(plan, **QUICK_CHANGES[backbone])
    changes = {"batch": args.batch, "steps": args.steps, "examples": args.examples}
    plan = dataclasses.replace(plan, **{k: v for k, v in changes.items() if v is not None})
    # An epoch holds at least one batch.
    return dataclasses.replace(plan, examples=max(plan.examples, plan.batch))


def measure_all(args: argparse.Namespace, root: str) -> tuple[list[BackboneResult], dict]:
    """The training rates of every backbone, then the serving latencies; data rendered under `root`."""
    datasets: dict[tuple[str, int, int], Examples] = {}

    def data_for(plan: Plan) -> Examples:
        key = (plan.preset, plan.image_size, plan.examples)
        if key not in datasets:
            start = time.perf_counter()
            datasets[key] = render_examples(root, *key, num_eval=max(plan.batch, 8))
            print(
                f"rendered {plan.examples} examples, {plan.preset} preset, {plan.image_size} px: "
                f"{time.perf_counter() - start:.1f} s",
                flush=True,
            )
        return datasets[key]

    results = []
    for backbone in args.backbones:
        plan = plan_of(backbone, args)
        start = time.perf_counter()
        results.append(measure_backbone(plan, data_for(plan), args.modes, args.repeats))
        print(f"measured {backbone}: {time.perf_counter() - start:.0f} s", flush=True)
    serving = {}
    calls = args.calls or (20 if args.quick else 100)
    for backbone in args.serving:
        plan = plan_of(backbone, args)
        start = time.perf_counter()
        serving[backbone] = serving_latency(plan, data_for(plan), root, args.repeats, calls)
        print(f"measured serving of {backbone}: {time.perf_counter() - start:.0f} s", flush=True)
    return results, serving


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    quiet_logging()
    policy = {"none": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[args.mixed_precision]
    keras.mixed_precision.set_global_policy(policy)
    gpus = tf.config.list_physical_devices("GPU")
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, policy {policy}; "
        f"GPUs: {[g.name for g in gpus] or 'none visible'}; {os.cpu_count()} CPU cores; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    root = tempfile.mkdtemp(prefix="train-throughput-")
    try:
        results, serving = measure_all(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_rates(results, args.repeats)
    print_goals(results, serving, bool(gpus), policy)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
