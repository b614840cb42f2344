"""The variability study (the paper's experiment): train x test scenario matrix of the error on q.

`variability.seeds` networks are trained per training scenario (by default
*none*, *angle*, *angle_bg*, *all*), each with its own seed, and each is
evaluated on the test set of every scenario. The study has its own data and
network settings (the `variability` section), so it trains the paper's
end-to-end full-image CNN whatever the main job trains.
Shared work is done once: the parameters are sampled once, and each
scenario's data (its training split and its test split) is rendered once,
by the same Beam render job the pipeline uses; every network is evaluated on
the very same test images.

Layout of the study folder:

    config.json                 the resolved configuration
    face_model.npz, parameters.npz
    data/<scenario>/            rendered examples: Split-train (training), Split-eval (the test set)
    data/probes/<factor>/       the factor probes' test sets (`variability_probes`)
    nets/<scenario>/seed<k>/serving/  the SavedModel trained on <scenario> with seed k
    nets/<scenario>/seed<k>/logs/     its TensorBoard logs, regressor.keras, training_result.json
    evaluation/errors.npz       per-seed, per-example errors of every (network, test scenario) and of naive
    evaluation/learning_curves.png  training and validation error of every network, in inference mode
    evaluation/*.png            error_violins (Fig. 7), error_vs_yaw (Fig. 8), saliency (Fig. 9),
                                identity_scores, identity_distributions (thesis Figs. 6.13, 4.7)
    evaluation/identity.json    identity scores, corrected scores, ranks, CIs
    tensorboard/                the matrix and figures as TensorBoard events
    study.json                  the matrix with 95% CIs over seeds and images, the findings, timings, paths
    report.html                 everything above in one self-contained page

Each stage writes a stamp of the configuration it ran with; a rerun with the
same configuration reuses finished stages (an interrupted study resumes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time

import numpy as np

from headsynth import wiring
from headsynth.components.rendering.render_job import run_render_job
from headsynth.components.sampling.samplers import sample_parameters
from headsynth.config import HeadsynthConfig
from headsynth.core.progress import report as progress
from headsynth.data_schemas.parameter_store import save_split_parameters
from headsynth.morphable.loading import load_model
from headsynth.morphable.model import MorphableModel, load_npz
from headsynth.study.common import stamp_matches, start_study, train_study_networks, write_stamp
from headsynth.study.variability_evaluation import evaluate_study
from headsynth.study.variability_probes import ProbeSets, probe_base, render_probes
from headsynth.study.variability_report import write_study_report
from headsynth.study.variability_result import StudyResult, study_scenarios, write_study_json

# What a trained network's folder holds once it is finished.
NETWORK_FILES = ["serving/saved_model.pb", "logs/regressor.keras", "logs/training_result.json"]


def network_name(scenario: str, seed_index: int) -> str:
    """The name (and folder under nets/) of the network trained on `scenario` with seed `seed_index`."""
    return f"{scenario}/seed{seed_index}"


def model_fingerprint(model: MorphableModel) -> str:
    """sha256 over a morphable model's arrays (what rendering depends on)."""
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


def prepare_data(config: HeadsynthConfig, out_dir: str) -> tuple[MorphableModel, dict[str, str], float]:
    """Samples the parameters once and renders each scenario's train and test split once.

    Returns:
        (the face model, scenario -> examples folder, seconds spent rendering).
    """
    started = time.monotonic()
    scenarios, _ = study_scenarios(config)
    base_stamp = sample_study_parameters(config, out_dir)
    model_path = os.path.join(out_dir, "face_model.npz")
    parameters_path = os.path.join(out_dir, "parameters.npz")
    data_dirs = {}
    for scenario in scenarios:
        data_dirs[scenario] = os.path.join(out_dir, "data", scenario)
        job = wiring.variability_render_job(
            config, model_path, parameters_path, data_dirs[scenario], scenario
        )
        stamp = {**base_stamp, "scenario": scenario, "job": dataclasses.asdict(job)}
        for path in ("model_path", "parameters_path", "output_dir"):
            stamp["job"].pop(path)
        if stamp_matches(job.output_dir, stamp, ["render.json"]):
            progress("study", f"reusing the rendered {scenario!r} data")
            continue
        progress(
            "study",
            f"rendering {base_stamp['num_train']} train + {base_stamp['num_test']} test examples of {scenario!r}",
        )
        run_render_job(job, beam_args=list(config.rendering.beam_args))
        write_stamp(job.output_dir, stamp)
    model = load_npz(model_path)  # what the data was rendered with, exactly
    return model, data_dirs, time.monotonic() - started


def prepare_probes(config: HeadsynthConfig, out_dir: str) -> ProbeSets | None:
    """Renders the factor probes' test sets (`variability_probes`), if asked for and there is a base."""
    scenarios, focus = study_scenarios(config)
    base = probe_base(scenarios, focus) if config.variability.factor_probes else None
    if base is None:
        return None
    return render_probes(config, out_dir, base, focus)


def sample_study_parameters(config: HeadsynthConfig, out_dir: str) -> dict:
    """Writes `face_model.npz` and the q of both splits to `parameters.npz`, unless already there.

    Returns:
        The stamp of what they were made from (every scenario's data stamp includes it).
    """
    face_model, sampling = config.face_model, config.sampling
    model = load_model(face_model.source, face_model.shape_components, face_model.texture_components)
    num_test = config.evaluation.study_num_test or sampling.num_eval
    num_train = config.variability.num_train or sampling.num_train
    stamp = {
        "face_model": dataclasses.asdict(face_model),
        "face_model_sha256": model_fingerprint(model),  # a changed model file invalidates every stage
        "sampling": dataclasses.asdict(sampling),
        "num_train": num_train,
        "num_test": num_test,
        "num_parameters": model.num_parameters,
    }
    if stamp_matches(out_dir, stamp, ["face_model.npz", "parameters.npz"]):
        return stamp
    model.save_npz(os.path.join(out_dir, "face_model.npz"))
    width = model.num_parameters
    save_split_parameters(
        os.path.join(out_dir, "parameters.npz"),
        {
            "train": sample_parameters(sampling.sampler, num_train, width, seed=[sampling.seed, 0]),
            "eval": sample_parameters(sampling.sampler, num_test, width, seed=[sampling.seed, 1]),
        },
        sampler=sampling.sampler,
        seed=sampling.seed,
    )
    write_stamp(out_dir, stamp)
    return stamp


def train_networks(
    config: HeadsynthConfig, out_dir: str, model: MorphableModel, data_dirs: dict[str, str]
) -> tuple[dict, dict]:
    """Trains `variability.seeds` networks per scenario on its training split (validation: its own test split).

    Returns:
        (network name -> training result dict, network name -> seconds); names from `network_name`.
    """
    results, seconds = {}, {}
    for seed_index in range(config.variability.seeds):
        data = {
            network_name(scenario, seed_index): (data_dir, os.path.join(data_dir, "Split-eval", "*"))
            for scenario, data_dir in data_dirs.items()
        }
        settings = wiring.variability_train_settings(config, seed_index)
        seed_results, seed_seconds = train_study_networks(
            settings, model, out_dir, data, required=NETWORK_FILES
        )
        results.update(seed_results)
        seconds.update(seed_seconds)
    return results, seconds


def run_variability_study(config: HeadsynthConfig, out_dir: str) -> StudyResult:
    """Runs (or resumes) the whole study; writes study.json, the figures and report.html.

    Raises:
        IdentityBackendUnavailable: before any work, if the identity backend cannot run.
    """
    out_dir = start_study(config, out_dir)
    started = time.monotonic()
    model, data_dirs, render_seconds = prepare_data(config, out_dir)
    probes = prepare_probes(config, out_dir)
    training, train_seconds = train_networks(config, out_dir, model, data_dirs)
    eval_started = time.monotonic()
    result = evaluate_study(config, out_dir, model, data_dirs, training, probes)
    result.seconds.update(
        {
            "rendering": render_seconds,
            "training": sum(train_seconds.values()),
            **{f"training_{k}": v for k, v in train_seconds.items()},
            "evaluation": time.monotonic() - eval_started,
        }
    )
    result.seconds["total"] = time.monotonic() - started
    write_study_json(result, config, training)
    result.report = write_study_report(result, config, training, data_dirs)
    return result
