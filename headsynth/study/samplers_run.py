"""The samplers study's stages in order (what the study is: `headsynth.study.samplers`)."""

from __future__ import annotations

import os
import time

from headsynth.config import HeadsynthConfig
from headsynth.study.common import start_study
from headsynth.study.samplers import plan_study
from headsynth.study.samplers_data import (
    fit_models,
    prepare_realistic,
    render_sets,
    sample_training_sets,
    save_realistic,
)
from headsynth.study.samplers_networks import evaluate_networks, measure_diversity, train_networks
from headsynth.study.samplers_report import write_samplers_report
from headsynth.study.samplers_result import SamplerStudyResult, write_study_json


def run_sampler_study(config: HeadsynthConfig, out_dir: str) -> SamplerStudyResult:
    """Runs (or resumes) the whole study; writes study.json, the figures and report.html.

    Raises:
        ConfigError, ParameterError: for unusable settings or realistic vectors, before rendering.
        IdentityBackendUnavailable: before any work, if the identity backend cannot run.
    """
    plan = plan_study(config)
    out_dir = start_study(config, out_dir)
    started = time.monotonic()
    seconds: dict[str, float] = {}
    model, fit, test = prepare_realistic(config, plan, out_dir)
    save_realistic(out_dir, fit, test)
    model_path = os.path.join(out_dir, "face_model.npz")
    model.save_npz(model_path)

    stage = time.monotonic()
    generative = fit_models(config, plan, fit, out_dir)
    seconds["fitting"] = time.monotonic() - stage
    stage = time.monotonic()
    sets = sample_training_sets(config, plan, model.num_parameters, out_dir)
    seconds["sampling"] = time.monotonic() - stage
    data_dirs, test_dir, seconds["rendering"] = render_sets(config, plan, model_path, out_dir, test, sets)
    training, train_seconds = train_networks(config, plan, model, out_dir, data_dirs, test_dir)
    seconds["training"] = sum(train_seconds.values())
    seconds.update({f"training_{k}": v for k, v in train_seconds.items()})
    stage = time.monotonic()
    evaluation = evaluate_networks(config, plan, model, out_dir, test_dir)
    seconds["evaluation"] = time.monotonic() - stage
    stage = time.monotonic()
    diversity = measure_diversity(config, plan, out_dir, fit, test, sets)
    seconds["diversity"] = time.monotonic() - stage
    seconds["total"] = time.monotonic() - started
    result = SamplerStudyResult(out_dir, plan, evaluation, diversity, generative, training, seconds)
    write_study_json(result, config)
    result.report = write_samplers_report(result, config, data_dirs)
    return result
