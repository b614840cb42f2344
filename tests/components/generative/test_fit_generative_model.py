"""FitGenerativeModel: sources, errors naming the problem, the artifact, the gmm/cgan samplers, and TFX."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headsynth.components.generative.component import fit_from_parameters
from headsynth.components.generative.sources import population_vectors, realistic_vectors
from headsynth.components.generative.store import FittedGenerativeModel
from headsynth.components.sampling.samplers import sample_parameters
from headsynth.core.errors import ConfigError, ParameterError
from headsynth.data_schemas.parameter_files import save_parameter_file

WIDTH = 8  # small_model: 4 shape + 4 texture


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, small_model):
    path = tmp_path_factory.mktemp("face") / "model.npz"
    small_model.save_npz(path)
    return str(path)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, model_path):
    """GMMs of 1, 2, 4 components and a CVGAN2 (40 steps) fitted to the default source (held-out population)."""
    out = tmp_path_factory.mktemp("generative")
    fit_from_parameters(model_path, str(out), gmm_components="1,2,4", cgan_variants="cvgan2", cgan_steps=40)
    return str(out)


def test_population_source_is_sigma_units_with_labels(small_model):
    realistic = population_vectors(small_model)
    assert realistic.q.shape == (len(small_model.population["age"]), WIDTH)
    np.testing.assert_allclose(realistic.q.std(axis=0), 1.0, atol=0.01)  # standardized coefficients
    np.testing.assert_array_equal(realistic.q[:, :4], small_model.population["shape_coefficients"][:, :4])
    assert set(realistic.labels) == {"age", "sex"}
    assert realistic_vectors("population", small_model).q.shape == realistic.q.shape


def test_file_source_converts_to_sigma_units(tmp_path, small_model):
    q = np.random.default_rng(0).uniform(-1, 1, (50, WIDTH))
    save_parameter_file(tmp_path / "paper.npz", q, age=np.full(50, 30.0), sex=np.zeros(50))
    realistic = realistic_vectors(str(tmp_path / "paper.npz"), small_model, scale=1.6)
    np.testing.assert_allclose(realistic.q, (q * 1.6).astype(np.float32), rtol=1e-6)
    assert set(realistic.labels) == {"age", "sex"}


def test_the_artifact_and_the_samplers(fitted):
    index = json.loads(open(f"{fitted}/generative_model.json").read())
    assert [c["components"] for c in index["gmm"]["candidates"]] == [1, 2, 4]
    assert (
        index["gmm"]["selected"]["components"]
        == min(index["gmm"]["candidates"], key=lambda c: c["bic"])["components"]
    )
    assert index["units_scale"] == 1.0 and index["labels"] == ["age", "sex"]
    assert index["cgan"]["variants"]["cvgan2"]["steps"] == 40
    model = FittedGenerativeModel.load(fitted)
    realistic = model.realistic()
    # gmm: seeded, one of the fitted sizes, and converted to the rendering scale.
    q = sample_parameters("gmm", 4000, WIDTH, 3, {"model_dir": fitted, "components": 1})
    np.testing.assert_array_equal(
        q, sample_parameters("gmm", 4000, WIDTH, 3, {"model_dir": fitted, "components": 1})
    )
    np.testing.assert_allclose(q.mean(axis=0), realistic.q.mean(axis=0), atol=0.1)
    np.testing.assert_allclose(q.std(axis=0), realistic.q.std(axis=0), rtol=0.1)
    scaled = sample_parameters(
        "gmm", 4000, WIDTH, 3, {"model_dir": fitted, "components": 1, "target_scale": 1.6}
    )
    np.testing.assert_allclose(scaled * 1.6, q, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="No GMM with 3 components"):
        sample_parameters("gmm", 10, WIDTH, 0, {"model_dir": fitted, "components": 3})
    # cgan: at the requested ages and sexes, cycling through every combination.
    # (The held-out population's ages span 35..80.)
    q, ages, sexes = model.sample_cgan(np.random.default_rng(0), 8, ages=[40, 70], sexes=[0, 1])
    assert q.shape == (8, WIDTH)
    assert list(zip(ages, sexes, strict=True))[:4] == [(40, 0), (40, 1), (70, 0), (70, 1)]
    q = sample_parameters("cgan", 100, WIDTH, 1, {"model_dir": fitted, "ages": [50], "sexes": [1]})
    np.testing.assert_array_equal(
        q, sample_parameters("cgan", 100, WIDTH, 1, {"model_dir": fitted, "ages": [50], "sexes": [1]})
    )
    with pytest.raises(ConfigError, match="outside the range it was trained on"):
        sample_parameters("cgan", 10, WIDTH, 0, {"model_dir": fitted, "ages": [90]})
    with pytest.raises(ParameterError, match="width 8; width 6 was asked for"):
        sample_parameters("gmm", 10, 6, 0, {"model_dir": fitted})
    with pytest.raises(ConfigError, match="needs a fitted generative model"):
        sample_parameters("gmm", 10, WIDTH, 0)
    for name in ("aic_bic.png", "gmm_pca.png", "realistic.npz", "gmm/gmm_4_full.npz", "cgan/cvgan2.keras"):
        assert (__import__("pathlib").Path(fitted) / name).exists(), name


def test_bad_parameter_files_are_named(tmp_path, model_path):
    good = np.random.default_rng(0).normal(size=(30, WIDTH))
    save_parameter_file(tmp_path / "wide.npz", np.zeros((30, WIDTH + 2)))
    with pytest.raises(ParameterError, match="wide.npz has vectors of width 10; expected width 8"):
        fit_from_parameters(
            model_path, str(tmp_path / "a"), source=str(tmp_path / "wide.npz"), cgan_variants=""
        )
    nan = good.copy()
    nan[[3, 7], 2] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    with pytest.raises(ParameterError, match="NaN or infinite values in 2 rows \\(0-based rows 3, 7\\)"):
        fit_from_parameters(
            model_path, str(tmp_path / "b"), source=str(tmp_path / "nan.npy"), cgan_variants=""
        )
    save_parameter_file(tmp_path / "few.npz", good[:10])
    with pytest.raises(
        ParameterError, match="has 10 vectors, too few for a Gaussian mixture with 16 components"
    ):
        fit_from_parameters(
            model_path, str(tmp_path / "c"), source=str(tmp_path / "few.npz"), cgan_variants=""
        )
    save_parameter_file(tmp_path / "unlabelled.npz", good)
    with pytest.raises(ParameterError, match="no age or sex labels; the conditional GAN needs both"):
        fit_from_parameters(
            model_path, str(tmp_path / "d"), source=str(tmp_path / "unlabelled.npz"), gmm_components="1"
        )
    save_parameter_file(tmp_path / "badsex.npz", good, age=np.full(30, 40.0), sex=np.full(30, 2.0))
    with pytest.raises(ParameterError, match="sex labels \\[2.0\\]; expected 0 \\(female\\) or 1 \\(male\\)"):
        fit_from_parameters(
            model_path, str(tmp_path / "e"), source=str(tmp_path / "badsex.npz"), gmm_components="1"
        )
    with pytest.raises(ConfigError, match="Unknown CGAN variant"):
        fit_from_parameters(model_path, str(tmp_path / "f"), cgan_variants="cvgan9")
    with pytest.raises(ConfigError, match="component counts must be integers"):
        fit_from_parameters(model_path, str(tmp_path / "g"), gmm_components="1,two")


def test_pipeline_fits_and_samples_through_tfx(tmp_path):
    """FaceModel -> FitGenerativeModel -> SampleParameters(gmm), beside a plain SampleParameters."""
    from tfx import v1 as tfx

    from headsynth.components.face_model.component import FaceModel
    from headsynth.components.generative.component import FitGenerativeModel
    from headsynth.components.sampling.component import SampleParameters
    from headsynth.data_schemas.parameter_store import load_split_parameters

    face = FaceModel(source="builtin", shape_components=2, texture_components=2)
    fit = FitGenerativeModel(face_model=face.outputs["model"], gmm_components="1,2", cgan_variants="")
    from_gmm = SampleParameters(
        face_model=face.outputs["model"],
        generative_model=fit.outputs["generative_model"],
        sampler="gmm",
        num_train=20,
        num_eval=5,
        scale=1.6,
    ).with_id("SampleGmm")
    plain = SampleParameters(face_model=face.outputs["model"], num_train=20, num_eval=5).with_id(
        "SamplePlain"
    )
    pipeline = tfx.dsl.Pipeline(
        pipeline_name="generative-test",
        pipeline_root=str(tmp_path / "root"),
        components=[face, fit, from_gmm, plain],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(tmp_path / "mlmd.sqlite")
        ),
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)
    root = tmp_path / "root"
    (fitted,) = (root / "FitGenerativeModel" / "generative_model").iterdir()
    assert (fitted / "generative_model.json").exists()
    for node, expected in (("SampleGmm", None), ("SamplePlain", 1.0)):
        (folder,) = (root / node / "parameters").iterdir()
        q = load_split_parameters(folder / "parameters.npz", "train")
        assert q.shape == (20, 4)
        if expected is not None:
            assert np.abs(q).max() <= expected  # paper_uniform
    gmm_q = load_split_parameters(
        next((root / "SampleGmm" / "parameters").iterdir()) / "parameters.npz", "train"
    )
    expected = sample_parameters("gmm", 20, 4, [0, 0], {"model_dir": str(fitted), "target_scale": 1.6})
    np.testing.assert_array_equal(gmm_q, expected)


def test_photo_source_uses_a_trained_regressor(trained_regressor, small_model, tmp_path):
    out, _ = trained_regressor
    labels = tmp_path / "labels.csv"
    labels.write_text("photo,age,sex\nskimage:astronaut,45,0\n")
    realistic = realistic_vectors(
        "photos",
        small_model,
        photos_model=str(out / "serving"),
        photos=["skimage:astronaut", "skimage:coins"],
        photos_labels=str(labels),
    )
    assert realistic.q.shape == (1, WIDTH) and np.all(np.isfinite(realistic.q))
    assert realistic.labels["age"].tolist() == [45.0] and realistic.labels["sex"].tolist() == [0.0]
    assert realistic.notes == ["no face found in skimage:coins; left out"]
    with pytest.raises(ConfigError, match="needs a trained regressor"):
        realistic_vectors("photos", small_model, photos=["skimage:astronaut"])


def test_create_pipeline_adds_the_fit_only_for_generative_samplers(tmp_path):
    from headsynth.config import apply_overrides, get_preset
    from headsynth.pipeline.pipeline import RunPaths, create_pipeline

    paths = RunPaths.under(tmp_path, "m")
    plain = create_pipeline(get_preset("ci"), paths)
    assert "FitGenerativeModel" not in [c.id for c in plain.components]
    config = apply_overrides(get_preset("ci"), ["sampling.sampler=cgan", "generative.gan_ages=25,65"])
    components = {c.id: c for c in create_pipeline(config, paths).components}
    fit, sample = components["FitGenerativeModel"], components["SampleParameters"]
    assert (
        fit.exec_properties["cgan_variants"] == "cvgan2" and fit.exec_properties["gmm_components"] == "1,2,4"
    )
    assert sample.exec_properties["gan_ages"] == "25,65" and sample.exec_properties["scale"] == 1.6
    assert "generative_model" in sample.inputs
    gmm = create_pipeline(apply_overrides(get_preset("ci"), ["sampling.sampler=gmm"]), paths)
    assert (
        next(c for c in gmm.components if c.id == "FitGenerativeModel").exec_properties["cgan_variants"] == ""
    )


def test_cgan_training_repeats_to_the_byte():
    from headsynth.components.generative.cgan import train_cgan

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, WIDTH)).astype(np.float32)
    ages, sexes = rng.uniform(20, 60, 40), rng.integers(0, 2, 40)
    # 200 steps are two fit calls, so each call's batch order is covered, not only the first.
    weights = [
        b"".join(
            w.tobytes() for w in train_cgan(vectors, ages, sexes, steps=200, batch_size=16)[0].get_weights()
        )
        for _ in range(2)
    ]
    assert weights[0] == weights[1]
