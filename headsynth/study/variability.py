"""The variability study (the paper's experiment): train x test scenario matrix of the error on q.

One network is trained per training scenario (by default *none*, *angle*,
*angle_bg*, *all*) and each is evaluated on the test set of every scenario.
Shared work is done once: the parameters are sampled once, and each
scenario's data (its training split and its test split) is rendered once,
by the same Beam render job the pipeline uses; every network is evaluated on
the very same test images.

Layout of the study folder:

    config.json                 the resolved configuration
    face_model.npz, parameters.npz
    data/<scenario>/            rendered examples: Split-train (training), Split-eval (the test set)
    nets/<scenario>/serving/    the SavedModel trained on <scenario>
    nets/<scenario>/logs/       its TensorBoard logs and regressor.keras
    evaluation/errors.npz       per-example errors of every (network, test scenario) and of naive
    evaluation/*.png            error_violins (Fig. 7), error_vs_yaw (Fig. 8), saliency (Fig. 9),
                                identity_scores, identity_distributions (thesis Figs. 6.13, 4.7)
    evaluation/identity.json    identity scores, corrected scores, ranks, CIs
    tensorboard/                the matrix and figures as TensorBoard events
    study.json                  the matrix with 95% CIs, timings, paths
    report.html                 everything above in one self-contained page

Each stage writes a stamp of the configuration it ran with; a rerun with the
same configuration reuses finished stages (an interrupted study resumes).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from headsynth.config import HeadsynthConfig
from headsynth.io_utils import write_text_atomic
from headsynth.progress import report as progress
from headsynth.report.html import format_ci
from headsynth.report.values import json_ready
from headsynth.study.common import stamp_matches, train_study_networks, write_stamp


@dataclass
class StudyResult:
    """What a study produced (the same as study.json, plus paths)."""

    out_dir: str
    scenarios: list[str]
    matrix: dict[str, dict[str, dict]]
    naive: dict[str, dict]
    identity: dict | None
    seconds: dict[str, float]
    report: str
    figures: dict[str, str] = field(default_factory=dict)

    def table(self) -> str:
        """The matrix of mean errors with 95% CIs as aligned text."""
        rows = [["train \\ test", *self.scenarios]]
        for name in [*self.scenarios, "naive"]:
            cells = self.naive if name == "naive" else self.matrix[name]
            rows.append([name, *(_cell(cells[test]) for test in self.scenarios)])
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        return "\n".join(
            "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows
        )


def _cell(summary: dict) -> str:
    return format_ci(summary)


def model_fingerprint(model) -> str:
    """sha256 over a morphable model's arrays (what rendering depends on)."""
    import hashlib

    digest = hashlib.sha256()
    for array in (
        model.shape.mean,
        model.shape.basis,
        model.shape.sigma,
        model.texture.mean,
        model.texture.basis,
        model.texture.sigma,
        model.triangles,
        model.landmarks,
    ):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def study_scenarios(config: HeadsynthConfig) -> tuple[list[str], str]:
    """(the study's scenarios, its focus scenario: the configured one if studied, else the last)."""
    scenarios = list(config.evaluation.study_scenarios)
    focus = config.evaluation.focus_scenario
    return scenarios, focus if focus in scenarios else scenarios[-1]


def prepare_data(config: HeadsynthConfig, out_dir: str) -> tuple[object, dict[str, str], float]:
    """Samples the parameters once and renders each scenario's train and test split once.

    Returns:
        (the face model, scenario -> examples folder, seconds spent rendering).
    """
    from headsynth.components.face_model.morphable_model import load_model, load_npz
    from headsynth.components.rendering.render_job import RenderJob, run_render_job
    from headsynth.components.sampling.parameter_store import save_split_parameters
    from headsynth.components.sampling.samplers import sample_parameters

    started = time.monotonic()
    scenarios, _ = study_scenarios(config)
    model = load_model(
        config.face_model.source, config.face_model.shape_components, config.face_model.texture_components
    )
    model_path = os.path.join(out_dir, "face_model.npz")
    parameters_path = os.path.join(out_dir, "parameters.npz")
    num_test = config.evaluation.study_num_test or config.sampling.num_eval
    sampling = config.sampling
    base_stamp = {
        "face_model": dataclasses.asdict(config.face_model),
        "face_model_sha256": model_fingerprint(model),  # a changed model file invalidates every stage
        "sampling": dataclasses.asdict(sampling),
        "num_test": num_test,
        "num_parameters": model.num_parameters,
    }
    if not stamp_matches(out_dir, base_stamp, ["face_model.npz", "parameters.npz"]):
        model.save_npz(model_path)
        width = model.num_parameters
        save_split_parameters(
            parameters_path,
            {
                "train": sample_parameters(
                    sampling.sampler, sampling.num_train, width, seed=[sampling.seed, 0]
                ),
                "eval": sample_parameters(sampling.sampler, num_test, width, seed=[sampling.seed, 1]),
            },
            sampler=sampling.sampler,
            seed=sampling.seed,
        )
        write_stamp(out_dir, base_stamp)
    model = load_npz(model_path)  # what the data was rendered with, exactly
    data_dirs = {}
    for scenario in scenarios:
        folder = os.path.join(out_dir, "data", scenario)
        data_dirs[scenario] = folder
        job = RenderJob(
            model_path,
            parameters_path,
            folder,
            scenario=scenario,
            eval_scenario=scenario,
            image_size=config.rendering.image_size,
            batch_size=config.rendering.batch_size,
            num_shards=config.rendering.num_shards,
            seed=sampling.seed,
            scale=sampling.scale,
            image_format=config.rendering.image_format,
        )
        stamp = {**base_stamp, "scenario": scenario, "rendering": dataclasses.asdict(config.rendering)}
        stamp["rendering"].pop("beam_args", None)
        if stamp_matches(folder, stamp, ["render.json"]):
            progress("study", f"reusing the rendered {scenario!r} data")
            continue
        progress("study", f"rendering {sampling.num_train} train + {num_test} test examples of {scenario!r}")
        run_render_job(job, beam_args=list(config.rendering.beam_args))
        write_stamp(folder, stamp)
    return model, data_dirs, time.monotonic() - started


def train_networks(
    config: HeadsynthConfig, out_dir: str, model, data_dirs: dict[str, str]
) -> tuple[dict, dict]:
    """Trains one network per scenario on its training split (validation: its own test split).

    Returns:
        (scenario -> training result dict, scenario -> seconds).
    """
    from headsynth.components.training.trainer import TrainSettings

    settings = TrainSettings.from_dict(
        {**dataclasses.asdict(config.training), "image_size": config.rendering.image_size}
    )
    return train_study_networks(
        settings,
        model,
        out_dir,
        {name: (data_dir, os.path.join(data_dir, "Split-eval", "*")) for name, data_dir in data_dirs.items()},
        required=["serving/saved_model.pb", "logs/regressor.keras", "logs/training_result.json"],
    )


def run_variability_study(config: HeadsynthConfig, out_dir: str) -> StudyResult:
    """Runs (or resumes) the whole study; writes study.json, the figures and report.html.

    Raises:
        IdentityBackendUnavailable: before any work, if the identity backend cannot run.
    """
    from headsynth.components.identity.embedding import check_backend
    from headsynth.components.rendering.rasterizer import require_rasterizer

    if config.evaluation.identity_backend != "none":
        check_backend(config.evaluation.identity_backend)
    require_rasterizer()
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    write_text_atomic(os.path.join(out_dir, "config.json"), config.to_json())
    started = time.monotonic()
    model, data_dirs, render_seconds = prepare_data(config, out_dir)
    training, train_seconds = train_networks(config, out_dir, model, data_dirs)
    eval_started = time.monotonic()
    result = evaluate_study(config, out_dir, model, data_dirs, training)
    result.seconds.update(
        {
            "rendering": render_seconds,
            "training": sum(train_seconds.values()),
            **{f"training_{k}": v for k, v in train_seconds.items()},
            "evaluation": time.monotonic() - eval_started,
        }
    )
    result.seconds["total"] = time.monotonic() - started
    from headsynth.study.study_report import write_study_report

    write_study_json(result, config, training)
    result.report = write_study_report(result, config, training, data_dirs)
    return result


def write_study_json(result: StudyResult, config: HeadsynthConfig, training: dict) -> None:
    payload = {
        "preset": config.preset,
        "scenarios": result.scenarios,
        "matrix": result.matrix,
        "naive": result.naive,
        "identity": result.identity,
        "training": training,
        "seconds": result.seconds,
        "figures": {name: os.path.join(result.out_dir, "evaluation", name) for name in result.figures},
        "report": os.path.join(result.out_dir, "report.html"),
    }
    write_text_atomic(os.path.join(result.out_dir, "study.json"), json.dumps(json_ready(payload), indent=2))


def evaluate_study(
    config: HeadsynthConfig, out_dir: str, model, data_dirs: dict[str, str], training: dict
) -> StudyResult:
    """Evaluates every network on every test set; writes errors, figures, identity and TensorBoard."""
    import tensorflow as tf

    from headsynth.components.evaluation.evaluate import (
        load_example_set,
        predict_examples,
        squared_errors,
        summarize_errors,
    )
    from headsynth.components.evaluation.figures import plot_error_violins, plot_error_vs_yaw_panels
    from headsynth.components.evaluation.saliency import HeadPainter

    scenarios, focus = study_scenarios(config)
    options = config.evaluation
    eval_dir = os.path.join(out_dir, "evaluation")
    os.makedirs(eval_dir, exist_ok=True)
    test_sets = {s: load_example_set(data_dirs[s], "eval") for s in scenarios}
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for net in scenarios:
        progress("study", f"evaluating the {net!r} network on {len(scenarios)} test sets")
        loaded = tf.saved_model.load(os.path.join(out_dir, "nets", net, "serving"))
        predictions[net] = {s: predict_examples("", test_sets[s].records, loaded=loaded) for s in scenarios}
    errors = {
        net: {s: squared_errors(test_sets[s].q, predictions[net][s]) for s in scenarios} for net in scenarios
    }
    naive_errors = {s: squared_errors(test_sets[s].q, np.zeros_like(test_sets[s].q)) for s in scenarios}
    matrix = {
        net: {s: dataclasses.asdict(summarize_errors(errors[net][s])) for s in scenarios} for net in scenarios
    }
    naive = {s: dataclasses.asdict(summarize_errors(naive_errors[s])) for s in scenarios}
    arrays = {f"{net}__on__{s}": errors[net][s] for net in scenarios for s in scenarios}
    arrays.update({f"naive__on__{s}": naive_errors[s] for s in scenarios})
    arrays.update({f"yaw__{s}": test_sets[s].yaw for s in scenarios})
    np.savez(os.path.join(eval_dir, "errors.npz"), **arrays)

    figures = {}
    panels = {s: {**{net: errors[net][s] for net in scenarios}, "naive": naive_errors[s]} for s in scenarios}
    plot_error_violins(panels, os.path.join(eval_dir, "error_violins.png"))
    figures["error_violins.png"] = (
        "Error per trained network (rows of the matrix) on each test scenario, with the naive predictor "
        "(q = 0); horizontal lines: median and quartiles (the paper's Fig. 7)."
    )
    varying = [s for s in scenarios if np.ptp(test_sets[s].yaw) > 0]
    if varying:
        curves = {
            s: {
                **{net: (test_sets[s].yaw, errors[net][s]) for net in scenarios},
                "naive": (test_sets[s].yaw, naive_errors[s]),
            }
            for s in varying
        }
        plot_error_vs_yaw_panels(
            curves, os.path.join(eval_dir, "error_vs_yaw.png"), options.moving_average_window
        )
        figures["error_vs_yaw.png"] = (
            "Moving average of the error against the yaw angle, per test scenario with varying yaw "
            "(the paper's Fig. 8)."
        )
    painter = HeadPainter(model, config.sampling.scale)
    if options.saliency_examples > 0:
        write_study_saliency(
            out_dir, scenarios, test_sets[focus], predictions, focus, painter, options.saliency_examples
        )
        figures["saliency.png"] = (
            f"Test examples of scenario {focus}: input, saliency (|gradient| of the first parameter w.r.t. the "
            "input), the prediction and the truth rendered in scenario none; one row per network (the paper's Fig. 9)."
        )
    identity = None
    if options.identity_backend != "none" and options.identity_examples > 0:
        from headsynth.components.evaluation.identity_eval import identity_evaluation

        progress(
            "study",
            f"identity scores ({options.identity_backend}) on {options.identity_examples} {focus!r} examples",
        )
        compared = {net: predictions[net][focus] for net in scenarios}
        compared["naive"] = np.zeros_like(test_sets[focus].q)
        identity = identity_evaluation(test_sets[focus], compared, painter, options, eval_dir)
        identity["test_scenario"] = focus
        figures.update(identity["figures"])
    result = StudyResult(out_dir, scenarios, matrix, naive, identity, {}, "", figures)
    write_study_tensorboard(result)
    return result


def write_study_saliency(out_dir, scenarios, examples, predictions, focus, painter, count) -> None:
    """Fig. 9: for each chosen test example, one row per network."""
    from headsynth.components.evaluation.evaluate import pick_examples
    from headsynth.components.evaluation.figures import SaliencyRow, plot_saliency
    from headsynth.components.evaluation.saliency import decode_images, load_keras_regressor, saliency_maps

    chosen = pick_examples(count, len(examples.q))
    view = 96  # side of the scenario-none renders of prediction and truth
    truths = painter.render(examples.q[chosen], view)
    rows = []
    per_net = {}
    for net in scenarios:
        keras_model = load_keras_regressor(os.path.join(out_dir, "nets", net, "logs", "regressor.keras"))
        size = int(keras_model.input_shape[1])
        images = decode_images([examples.images[i] for i in chosen], size)
        saliency, _ = saliency_maps(keras_model, images)
        per_net[net] = (images, saliency, painter.render(predictions[net][focus][chosen], view))
    per_line = 2 if len(chosen) > 1 else 1  # two examples side by side, one line per network
    for start in range(0, len(chosen), per_line):
        for net in scenarios:
            images, saliency, renders = per_net[net]
            for r in range(start, start + per_line):
                if r >= len(chosen):
                    rows.append(None)
                    continue
                label = f"net {net}\nexample {examples.index[chosen[r]]}"
                rows.append(SaliencyRow(label, images[r], saliency[r], renders[r], truths[r]))
    plot_saliency(rows, os.path.join(out_dir, "evaluation", "saliency.png"), per_line)


def write_study_tensorboard(result: StudyResult) -> None:
    """The matrix as scalars (one run per network) and text, and the figures as images."""
    from headsynth.report.tensorboard import write_summaries

    root = os.path.join(result.out_dir, "tensorboard")
    for net in [*result.scenarios, "naive"]:
        cells = result.naive if net == "naive" else result.matrix[net]
        scalars = {f"study/mean_error_on_{test}": cells[test]["mean"] for test in result.scenarios}
        if result.identity:
            for row in result.identity["table"]:
                if row["network"] == net:
                    scalars["study/identity_score"] = row["score"]["mean"]
                    scalars["study/identity_corrected_score"] = row["corrected_score"]["mean"]
        write_summaries(os.path.join(root, f"net_{net}"), scalars)
    header = "| train \\ test | " + " | ".join(result.scenarios) + " |\n"
    header += "|---" * (len(result.scenarios) + 1) + "|\n"
    body = "".join(
        f"| {net} | "
        + " | ".join(
            _cell((result.naive if net == "naive" else result.matrix[net])[t]) for t in result.scenarios
        )
        + " |\n"
        for net in [*result.scenarios, "naive"]
    )
    images = {name: os.path.join(result.out_dir, "evaluation", name) for name in result.figures}
    write_summaries(
        os.path.join(root, "figures"), images=images, texts={"study/mean_error_matrix": header + body}
    )
