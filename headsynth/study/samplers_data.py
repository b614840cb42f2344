"""The samplers study's data: realistic vectors, generative fits, training sets and their renders."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time

import numpy as np

from headsynth import wiring
from headsynth.components.generative.sources import RealisticVectors, realistic_vectors
from headsynth.components.generative.store import FittedGenerativeModel, fit_generative_model
from headsynth.components.rendering.render_job import RenderJob, run_render_job
from headsynth.components.sampling.samplers import FITTED_SAMPLERS, GENERATIVE_SAMPLERS, sample_parameters
from headsynth.config import HeadsynthConfig
from headsynth.core.errors import ParameterError
from headsynth.core.progress import report
from headsynth.data_schemas.parameter_files import save_parameter_file
from headsynth.data_schemas.parameter_store import save_split_parameters
from headsynth.morphable.loading import load_model
from headsynth.morphable.model import MorphableModel
from headsynth.study.common import stamp_matches, write_stamp
from headsynth.study.samplers import StudyPlan, StudySampler


def prepare_realistic(
    config: HeadsynthConfig, plan: StudyPlan, out_dir: str
) -> tuple[MorphableModel, RealisticVectors, RealisticVectors]:
    """Loads the face model and the realistic vectors; splits them into fit and held-out test parts.

    Returns:
        (face model, fit RealisticVectors, test RealisticVectors).

    Raises:
        ParameterError: if there are too few realistic vectors for the test set and the fits.
    """
    generative, face_model = config.generative, config.face_model
    model = load_model(face_model.source, face_model.shape_components, face_model.texture_components)
    realistic = realistic_vectors(
        generative.source,
        model,
        generative.source_scale,
        generative.photos_model,
        generative.photos,
        generative.photos_labels,
        generative.seed,
        generative.heldout_size,
    )
    needed = plan.test_identities + max(2, max(plan.gmm_components))
    if len(realistic.q) < needed:
        raise ParameterError(
            f"{realistic.source} has {len(realistic.q)} vectors; the study needs {needed} "
            f"({plan.test_identities} held out for the test set, {needed - plan.test_identities} for the "
            f"largest mixture of {max(plan.gmm_components)} components).",
            "Lower generative.study_test_identities or the GMM sizes, or give more vectors.",
        )
    order = np.random.default_rng([generative.seed, 7]).permutation(len(realistic.q))
    test = realistic.subset(np.sort(order[: plan.test_identities]))
    fit = realistic.subset(np.sort(order[plan.test_identities :]))
    return model, fit, test


def save_realistic(out_dir: str, fit: RealisticVectors, test: RealisticVectors) -> None:
    """`realistic/fit.npz` and `realistic/test.npz` (the fitted_* samplers read the first)."""
    save_parameter_file(os.path.join(out_dir, "realistic", "fit.npz"), fit.q, **fit.labels)
    save_parameter_file(os.path.join(out_dir, "realistic", "test.npz"), test.q, **test.labels)


def fit_models(config: HeadsynthConfig, plan: StudyPlan, fit: RealisticVectors, out_dir: str) -> dict:
    """Fits the GMMs and GANs to the fit part (reused when unchanged); returns the index."""
    settings = dataclasses.replace(
        wiring.generative_settings(config),
        gmm_components=plan.gmm_components,
        cgan_variants=plan.cgan_variants,
        seed=config.generative.seed,
    )
    folder = os.path.join(out_dir, "generative")
    stamp = {"settings": dataclasses.asdict(settings), "source": fit.source, "fit_sha": digest(fit.q)}
    if stamp_matches(folder, stamp, ["generative_model.json"]):
        report("study", "reusing the fitted generative models")
    else:
        report(
            "study",
            f"fitting GMMs ({', '.join(map(str, plan.gmm_components))} components) "
            + (f"and {', '.join(plan.cgan_variants)} " if plan.cgan_variants else "")
            + f"to {len(fit.q)} realistic vectors",
        )
        fit_generative_model(fit, folder, settings)
        write_stamp(folder, stamp)
    with open(os.path.join(folder, "generative_model.json")) as f:
        return json.load(f)


def digest(array: np.ndarray) -> str:
    """A short sha256 of an array's float32 bytes, for stamps."""
    return hashlib.sha256(np.ascontiguousarray(array, np.float32).tobytes()).hexdigest()[:16]


def sample_training_sets(
    config: HeadsynthConfig, plan: StudyPlan, width: int, out_dir: str
) -> dict[str, dict]:
    """Draws every sampler's training vectors in sigma units; returns name -> {"q", "labels"}."""
    sets = {}
    os.makedirs(os.path.join(out_dir, "samples"), exist_ok=True)
    for i, (name, entry) in enumerate(plan.entries.items()):
        q, labels = sample_entry(config, plan, entry, width, out_dir, seed=[config.sampling.seed, 100 + i])
        q = (np.asarray(q, np.float64) * entry.scale).astype(np.float32)
        np.savez(os.path.join(out_dir, "samples", f"{name}.npz"), q=q, **labels)
        sets[name] = {"q": q, "labels": labels}
    return sets


def entry_options(entry: StudySampler, out_dir: str) -> dict:
    """The sampler's options in the study: its spec's arguments, and where the fitted samplers find the
    realistic vectors (`realistic/fit.npz`) and the generative ones their models (`generative/`)."""
    options = dict(entry.options)
    if entry.sampler in FITTED_SAMPLERS:
        options["parameter_file"] = os.path.join(out_dir, "realistic", "fit.npz")
    if entry.sampler in GENERATIVE_SAMPLERS:
        options["model_dir"] = os.path.join(out_dir, "generative")
    return options


def sample_entry(
    config: HeadsynthConfig, plan: StudyPlan, entry: StudySampler, width: int, out_dir: str, seed: list[int]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """`[num_train, width]` q of one sampler at its own scale, and its labels (the GANs' age and sex)."""
    options = entry_options(entry, out_dir)
    if entry.sampler != "cgan":
        return sample_parameters(entry.sampler, plan.num_train, width, seed, options), {}
    # Sampled here (not through sample_parameters) to keep the labels for the PCA figures.
    fitted = FittedGenerativeModel.load(options["model_dir"])
    q, ages, sexes = fitted.sample_cgan(
        np.random.default_rng(seed),
        plan.num_train,
        options["variant"],
        config.generative.gan_ages,
        config.generative.gan_sexes,
    )
    return q, {"age": ages, "sex": sexes}


def sampler_render_job(
    config: HeadsynthConfig, plan: StudyPlan, model_path: str, parameters_path: str, output_dir: str
) -> RenderJob:
    """The job rendering one set: the configured job, both splits in the study's scenario, at scale 1.

    Scale 1 because every vector of the study is already in sigma units (the module docstring of
    `headsynth.study.samplers`).
    """
    return wiring.render_job(
        config,
        model_path,
        parameters_path,
        output_dir,
        scenario=plan.scenario,
        eval_scenario=plan.scenario,
        scale=1.0,
        image_size=wiring.samplers_image_size(config),
    )


def render_sets(
    config: HeadsynthConfig,
    plan: StudyPlan,
    model_path: str,
    out_dir: str,
    test: RealisticVectors,
    sets: dict[str, dict],
) -> tuple[dict[str, str], str, float]:
    """Renders the test set and every training set (each reused when unchanged).

    Returns:
        (name -> training examples folder, the test examples folder, seconds).
    """
    started = time.monotonic()
    test_dir = os.path.join(out_dir, "data", "test")
    test_q = np.repeat(test.q, plan.renders_per_identity, axis=0)
    render_set(config, plan, model_path, test_dir, "eval", test_q, "test examples")
    data_dirs = {}
    for name, data in sets.items():
        data_dirs[name] = os.path.join(out_dir, "data", name)
        render_set(
            config, plan, model_path, data_dirs[name], "train", data["q"], f"training examples of {name}"
        )
    return data_dirs, test_dir, time.monotonic() - started


def render_set(
    config: HeadsynthConfig,
    plan: StudyPlan,
    model_path: str,
    folder: str,
    split: str,
    q: np.ndarray,
    what: str,
) -> None:
    """Renders `[N, m]` q as `split` into `folder`, unless the folder already holds them."""
    rendering = dataclasses.asdict(config.rendering)
    rendering.pop("beam_args", None)
    stamp = {
        "rendering": rendering,
        "split": split,
        "q": digest(q),
        "count": len(q),
        "seed": config.sampling.seed,
    }
    if stamp_matches(folder, stamp, ["render.json"]):
        report("study", f"reusing the rendered {what}")
        return
    os.makedirs(folder, exist_ok=True)
    parameters_path = os.path.join(folder, "parameters.npz")
    save_split_parameters(parameters_path, {split: q})
    report("study", f"rendering {len(q)} {what} ({plan.scenario}, {wiring.samplers_image_size(config)}px)")
    job = sampler_render_job(config, plan, model_path, parameters_path, folder)
    run_render_job(job, beam_args=list(config.rendering.beam_args))
    write_stamp(folder, stamp)
