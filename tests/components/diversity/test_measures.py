"""Diversity measures: KS sums, k-means distortion, distance quartiles, PCA, and the tables and figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headsynth.components.diversity.measures import (
    age_groups,
    distance_quartiles,
    diversity_summary,
    kmeans_distortions,
    ks_statistics,
    pca_basis,
    sex_groups,
)
from headsynth.components.diversity.tables import diversity_tables, measure_sets, text_tables
from headsynth.components.sampling.samplers import sample_parameters
from headsynth.core.errors import ParameterError


def test_ks_sum_of_a_sampler_against_itself_is_near_zero_and_against_a_shifted_copy_larger():
    width = 10
    sample = sample_parameters("naive_normal", 4000, width, seed=1)
    again = sample_parameters("naive_normal", 4000, width, seed=2)
    assert ks_statistics(sample, sample).total == 0.0
    same = ks_statistics(sample, again)
    # Each statistic of two 4000-samples of one distribution is ~ 0.87 / sqrt(2000) ~ 0.02.
    assert same.total < width * 0.05 and same.mean_p > 0.1
    shifted = ks_statistics(sample + 0.5, again)
    # A shift of a third of a standard deviation moves every CDF by ~ 0.13.
    assert shifted.total > 5 * same.total and shifted.total > width * 0.1
    assert shifted.rejected == width and np.all(shifted.p_values < 1e-6)
    assert shifted.statistics.shape == (width,)
    with pytest.raises(ParameterError, match="width 10 but the reference 9"):
        ks_statistics(sample, again[:, :9])


def test_distortion_decreases_with_k_and_ignores_the_units_of_each_parameter():
    data = sample_parameters("naive_uniform", 1500, 8, seed=3)
    distortions = kmeans_distortions(data, clusters=(2, 5, 10, 25, 100), seed=0)
    values = [distortions[k] for k in (2, 5, 10, 25, 100)]
    assert all(a > b for a, b in zip(values[:-1], values[1:], strict=True))
    # Unit-variance scaling: for 8 spread-out unit-variance parameters, k = 2 is near sqrt(8) (scipy's distortion).
    assert np.sqrt(8) * 0.85 < values[0] < np.sqrt(8)
    stretched = data * np.arange(1, 9)
    assert kmeans_distortions(stretched, (2,), seed=0)[2] == pytest.approx(distortions[2], rel=1e-3)
    # Clustered data loses distortion much faster than spread-out data.
    centres = np.random.default_rng(0).normal(0, 3, size=(10, 8))
    clustered = centres[np.arange(1500) % 10] + np.random.default_rng(1).normal(0, 0.1, size=(1500, 8))
    clustered_10 = kmeans_distortions(clustered, (2, 10), seed=0)
    assert clustered_10[10] < 0.2 * clustered_10[2]
    assert np.isnan(kmeans_distortions(data[:50], (100,))[100])  # more clusters than vectors


def test_distance_quartiles_by_hand():
    # The 4 unit axis vectors of the plane: 4 neighbouring pairs at L2 distance sqrt(2) and cosine
    # distance 1, 2 opposite pairs at 2 and 2. Sorted: [r2, r2, r2, r2, 2, 2]; numpy's linear
    # percentiles: Q1 = Q2 = r2, Q3 at position 3.75 = r2 + 0.75 (2 - r2).
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    quartiles = distance_quartiles(x)
    r2 = np.sqrt(2)
    assert (quartiles["l2"].q1, quartiles["l2"].q2) == (pytest.approx(r2), pytest.approx(r2))
    assert quartiles["l2"].q3 == pytest.approx(r2 + 0.75 * (2 - r2))
    assert (quartiles["cosine"].q2, quartiles["cosine"].q3) == (pytest.approx(1.0), pytest.approx(1.75))
    # Cosine distance ignores length; L2 scales with it.
    doubled = distance_quartiles(2 * x)
    assert doubled["cosine"] == quartiles["cosine"] and doubled["l2"].q2 == pytest.approx(
        2 * quartiles["l2"].q2
    )


def test_pca_and_groups():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(500, 4)) * [5.0, 2.0, 1.0, 0.5]
    basis = pca_basis(data, 3)
    assert basis.axes.shape == (3, 4) and np.all(np.diff(basis.explained) < 0)
    np.testing.assert_allclose(np.abs(basis.axes[0]), [1, 0, 0, 0], atol=0.05)
    np.testing.assert_allclose(basis.transform(data).mean(axis=0), 0, atol=1e-9)
    assert list(age_groups([18, 30, 44.9, 59, 60, 80])) == [
        "< 30",
        "30-45",
        "30-45",
        "45-60",
        ">= 60",
        ">= 60",
    ]
    assert list(sex_groups([0, 1, 1.0])) == ["female", "male", "male"]


def test_measure_sets_writes_the_tables_and_figures(tmp_path):
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(300, 6))
    labels = {"age": rng.uniform(18, 80, 300), "sex": (rng.uniform(size=300) < 0.5).astype(float)}
    sets = {
        "realistic": reference,
        "naive uniform 4": sample_parameters("naive_uniform", 300, 6, seed=0),
        "GAN-like": rng.normal(size=(300, 6)) * 0.5,
    }
    result = measure_sets(
        sets,
        reference,
        str(tmp_path),
        labels={"realistic": labels, "GAN-like": labels},
        reference_name="realistic",
        clusters=(2, 10, 25),
    )
    for name in ("distortions.png", "pca_sex.png", "pca_age.png", "pca_projection.png", "diversity.json"):
        assert (tmp_path / name).stat().st_size > 1000, name
    stored = json.loads((tmp_path / "diversity.json").read_text())
    assert stored["sets"]["realistic"]["ks"]["total"] == 0.0
    assert stored["sets"]["naive uniform 4"]["ks"]["total"] > 1.0
    tables = diversity_tables(result["summaries"])
    assert tables["distortion"][0] == ["set", "k=2", "k=10", "k=25"]
    assert [row[0] for row in tables["distances"][1]] == list(sets)
    text = text_tables(result["summaries"])
    assert "Table 6.3" in text and "Table 6.4" in text and "Table 6.5" in text
    summary = diversity_summary(sets["naive uniform 4"], clusters=(2,))
    assert summary.ks is None and summary.mean_abs == pytest.approx(2.0, abs=0.15)


def test_diversity_command_measures_parameter_files(tmp_path, capsys):
    import argparse

    from headsynth.cli.diversity_command import add_arguments, command
    from headsynth.data_schemas.parameter_files import save_parameter_file

    rng = np.random.default_rng(0)
    save_parameter_file(
        tmp_path / "real.npz",
        rng.normal(size=(200, 4)),
        age=rng.uniform(18, 80, 200),
        sex=rng.integers(0, 2, 200),
    )
    save_parameter_file(tmp_path / "paper.npz", rng.uniform(-1, 1, (200, 4)))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            str(tmp_path / "paper.npz"),
            "--reference",
            str(tmp_path / "real.npz"),
            "--scale",
            "1.6",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert command(args) == 0
    out = capsys.readouterr().out
    assert "real.npz" in out and "paper.npz" in out and "Table 6.5" in out
    stored = json.loads((tmp_path / "out" / "diversity.json").read_text())
    assert stored["sets"]["paper.npz"]["mean_abs"] == pytest.approx(0.8, abs=0.08)  # U[-1, 1] x 1.6
    assert (tmp_path / "out" / "pca_sex.png").exists()
