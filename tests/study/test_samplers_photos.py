"""The samplers study's real-photo table is computed from the per-seed photo results."""

import numpy as np
import pytest

from headsynth.study.samplers_photos import network_photo_scores, photo_table


def photo_result(own, mean, ranks):
    faces = [
        {"own_similarity": o, "mean_face_similarity": m, "rank": r}
        for o, m, r in zip(own, mean, ranks, strict=True)
    ]
    return {"faces": faces}


def test_counts_and_means_come_from_the_seeds_results():
    a = network_photo_scores(
        [
            photo_result([0.9, 0.8, 0.7], [0.85, 0.85, 0.85], [1, 2, 1]),
            photo_result([0.6, 0.9, 0.9], [0.85] * 3, [3, 1, 1]),
        ]
    )
    b = network_photo_scores([photo_result([0.5, float("nan"), 0.5], [0.85] * 3, [2, None, 3])] * 2)
    table = {row["network"]: row for row in photo_table({"a": a, "b": b}, resamples=200)}
    assert table["a"]["above_mean_face_count"] == 3 and table["a"]["rank1_count"] == 4
    assert table["a"]["own"]["mean"] == pytest.approx(np.mean([0.9, 0.8, 0.7, 0.6, 0.9, 0.9]))
    assert table["b"]["above_mean_face_count"] == 0 and table["b"]["rank1_count"] == 0
    assert table["b"]["scored"] == 4  # the face without a rendering counts as unscored
    assert table["naive"]["own"]["mean"] == pytest.approx(0.85)
    assert table["b"]["own"]["mean"] == pytest.approx(0.5)  # over the faces scored in every seed
    assert table["a"]["own"]["ci95_low"] <= table["a"]["own"]["mean"] <= table["a"]["own"]["ci95_high"]

    # Changing one seed's result changes the counts.
    flipped = network_photo_scores(
        [
            photo_result([0.9, 0.8, 0.7], [0.95, 0.95, 0.95], [2, 2, 2]),
            photo_result([0.6, 0.9, 0.9], [0.85] * 3, [3, 1, 1]),
        ]
    )
    row = photo_table({"a": flipped}, resamples=200)[0]
    assert row["above_mean_face_count"] == 2 and row["rank1_count"] == 2
