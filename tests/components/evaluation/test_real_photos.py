"""Real-photo evaluation: scores from embeddings by hand, labels, gray matching, and a run on the packaged photos."""

import html
import json

import cv2
import numpy as np
import pytest

from headsynth.components.evaluation.real_photos import (
    PhotoFace,
    read_labels,
    summary_line,
)
from headsynth.components.evaluation.real_photos_scores import (
    DLIB_THRESHOLD,
    face_scores,
    label_comparison,
    own_ranks,
    probe_matrices,
)
from headsynth.components.identity.detection import FaceBox
from headsynth.config import EvaluationConfig, apply_overrides, get_preset
from headsynth.core.errors import ConfigError, DataError
from headsynth.core.photos import PACKAGED_PHOTOS, is_grayscale, packaged_photos, to_grayscale


def unit(*values):
    v = np.asarray(values, np.float64)
    return v / np.linalg.norm(v)


def gallery_and_probes():
    """Three orthogonal photo faces; each reconstruction leans towards its own photo."""
    gallery = np.eye(3)
    recon = np.stack([unit(0.9, 0.3, 0.3), unit(0.3, 0.9, 0.3), unit(0.3, 0.3, 0.9)])
    mean_face = unit(1, 1, 1)
    return gallery, recon, mean_face


def test_scores_follow_the_embeddings():
    gallery, recon, mean_face = gallery_and_probes()
    gray = np.zeros(3, bool)
    scores = face_scores((recon, recon), (mean_face, mean_face), gallery, gray)
    np.testing.assert_allclose(scores["own"], np.full(3, 0.9 / np.sqrt(0.99)))
    np.testing.assert_allclose(scores["mean_face"], np.full(3, 1 / np.sqrt(3)))
    np.testing.assert_allclose(scores["l2"], np.linalg.norm(recon[:, None] - gallery[None], axis=-1))
    summary = scores["summary"]
    assert summary["rank1"] == 3 and summary["own_above_mean_face"] == 3 and summary["rank1_chance"] == 1 / 3
    # Reconstruction 1 turned towards photo 2: its own photo drops to rank 2, and below the mean face.
    recon[1] = unit(0.2, 0.3, 0.9)
    scores = face_scores((recon, recon), (mean_face, mean_face), gallery, gray)
    np.testing.assert_array_equal(scores["rank"], [1, 2, 1])
    assert scores["summary"]["rank1"] == 2 and scores["summary"]["rank1_l2"] == 2
    assert scores["summary"]["own_above_mean_face"] == 2
    assert "rank-1: 2/3 (chance 1/3)" in summary_line(scores["summary"])


def test_verification_counts_use_dlibs_threshold():
    gallery = np.eye(2)
    near = gallery + np.array([[0.0, 0.5], [0.0, 0.0]])  # L2 0.5 from its own photo, 1.12 from the other
    far = gallery * 1.7  # L2 0.7 from its own photo
    mean_face = np.array([0.5, 0.5])  # L2 0.707 from both
    scores = face_scores(
        (np.stack([near[0], far[1]]),) * 2, (mean_face, mean_face), gallery, np.zeros(2, bool)
    )
    np.testing.assert_allclose(np.diag(scores["l2"]), [0.5, 0.7])
    summary = scores["summary"]
    assert (summary["verified"], summary["mean_face_verified"], summary["other_photos_accepted"]) == (1, 0, 0)
    assert summary["threshold"] == DLIB_THRESHOLD


def test_gray_photos_are_compared_with_gray_renderings():
    gallery, recon, mean_face = gallery_and_probes()
    recon_gray = recon.copy()
    recon_gray[0] = gallery[0]  # in gray, reconstruction 0 matches photo 0 exactly
    cosine, l2 = probe_matrices(recon, recon_gray, gallery, np.array([True, False, False]))
    assert cosine[0, 0] == pytest.approx(1.0) and l2[0, 0] == pytest.approx(0.0)
    assert cosine[1, 0] == pytest.approx(recon_gray[1] @ gallery[0])
    cosine, _ = probe_matrices(recon, recon_gray, gallery, np.zeros(3, bool))
    assert cosine[0, 0] == pytest.approx(0.9 / np.sqrt(0.99))
    # The mean face takes the gray path too.
    scores = face_scores((recon, recon), (mean_face, gallery[0]), gallery, np.array([True, False, False]))
    assert scores["mean_face"][0] == pytest.approx(1.0) and scores["mean_face"][1] == pytest.approx(
        1 / np.sqrt(3)
    )


def test_ranks_count_ties_against_and_leave_unscored_rows_out():
    similarities = np.array([[0.5, 0.5, 0.1], [0.2, 0.9, 0.3], [np.nan, np.nan, np.nan]])
    ranks = own_ranks(similarities)
    assert ranks[0] == 2 and ranks[1] == 1 and np.isnan(ranks[2])


def test_grayscale_detection_and_conversion():
    from skimage import data

    assert is_grayscale(np.repeat(data.camera()[..., None], 3, axis=-1))
    assert not is_grayscale(data.astronaut())
    gray = to_grayscale(data.astronaut())
    assert is_grayscale(gray) and gray.dtype == np.uint8
    expected = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    assert np.abs(gray[..., 0].astype(int) - expected).max() <= 1


def test_label_comparison_by_hand():
    embeddings = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 0.0], [1.0, 0.2], [np.nan, np.nan]])
    persons = ["a", "a", "b", "b", "b"]
    result = label_comparison(embeddings, persons)
    assert (result["same_pairs"], result["different_pairs"]) == (2, 4)  # the NaN row's pairs are left out
    assert result["same_l2_mean"] == pytest.approx(0.15)
    assert result["closer_fraction"] == 1.0
    swapped = label_comparison(embeddings, ["a", "b", "a", "b", None])
    assert swapped["closer_fraction"] < 0.5
    assert np.isnan(label_comparison(embeddings, ["a", "b", "c", "d", "e"])["closer_fraction"])


def faces_of(*names):
    box = FaceBox(0, 0, 10, 10, 0.9, np.zeros((6, 2)))
    return [PhotoFace(name, name.split("#")[0], box, False) for name in names]


def test_labels_file(tmp_path):
    faces = faces_of("astronaut", "group#1", "group#2", "hopper")
    path = tmp_path / "labels.csv"
    path.write_text(
        "photo,person\nastronaut.png,Eileen Collins\ngroup,Eileen Collins\ngroup#2, Grace Hopper\n\n"
    )
    persons = read_labels(str(path), faces, {"astronaut.png": "astronaut"})
    assert persons == ["Eileen Collins", "Eileen Collins", "Grace Hopper", None]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("astronaut\n", "line 1: expected two non-empty columns photo,person"),
        ("photo,person\nastronaut,a,b\n", "line 2: expected two non-empty columns"),
        ("astronaut,\n", "line 1: expected two non-empty columns"),
        ("nobody.jpg,someone\n", "photo 'nobody.jpg' is not among the evaluated faces (astronaut, hopper)"),
        ("astronaut,a\nastronaut,b\n", "astronaut is labelled both 'a' and 'b'"),
    ],
)
def test_bad_labels_files_are_named(tmp_path, text, fragment):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        read_labels(str(path), faces_of("astronaut", "hopper"))
    with pytest.raises(DataError, match="does not exist"):
        read_labels(str(tmp_path / "missing.csv"), faces_of("astronaut"))


def test_real_photos_setting_is_checked(tmp_path):
    assert EvaluationConfig().real_photos == "packaged"
    assert apply_overrides(get_preset("ci"), [f"evaluation.real_photos={tmp_path}"]).evaluation.real_photos
    with pytest.raises(
        ConfigError, match="evaluation.real_photos must be 'packaged', '' \\(skip\\) or a folder"
    ):
        apply_overrides(get_preset("ci"), [f"evaluation.real_photos={tmp_path / 'nowhere'}"])


def test_packaged_photos_load_offline():
    photos, notes = packaged_photos()
    assert [name for name, _ in photos] == list(PACKAGED_PHOTOS) and notes == []
    assert all(image.dtype == np.uint8 and image.shape[2] == 3 for _, image in photos)
    assert is_grayscale(dict(photos)["camera"]) and not is_grayscale(dict(photos)["grace_hopper"])


# One run on the tiny trained regressor ------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluated(trained_regressor, tmp_path_factory):
    from headsynth.components.evaluation.real_photos import evaluate_real_photos
    from headsynth.components.prediction.predict import load_regressor

    folder, _ = trained_regressor
    out = tmp_path_factory.mktemp("real_photos")
    photos, notes = packaged_photos()
    result = evaluate_real_photos(load_regressor(str(folder / "serving")), photos, str(out), notes=notes)
    return result, out


def test_every_packaged_face_is_found_and_scored(evaluated):
    result, out = evaluated
    assert [face["name"] for face in result["faces"]] == list(PACKAGED_PHOTOS)
    assert [face["gray"] for face in result["faces"]] == [False, True, False]
    assert all(face["detection_score"] > 0.8 for face in result["faces"])
    for face in result["faces"]:
        assert 0.0 < face["own_similarity"] <= 1.0 and 0.0 < face["mean_face_similarity"] <= 1.0
        assert len(face["q"]) == 8
        # The fitting module's pose fit: the reconstruction's landmarks against mediapipe's, in IODs.
        assert 0.0 < face["landmark_error"] < 1.0
    assert result["summary"]["landmark_error_faces"] == 3
    written = json.loads((out / "real_photos.json").read_text())
    assert written["summary"] == result["summary"]


def test_summary_is_computed_from_the_matrix(evaluated):
    result, _ = evaluated
    cosine = np.array(result["matrix"]["cosine"], float)
    l2 = np.array(result["matrix"]["l2"], float)
    summary = result["summary"]
    assert cosine.shape == (3, 3) and summary["faces"] == 3
    others = np.where(np.eye(3, dtype=bool), -np.inf, cosine)
    assert summary["rank1"] == int(np.sum(np.diag(cosine) > others.max(axis=1)))
    assert summary["own_above_mean_face"] == sum(
        f["own_similarity"] > f["mean_face_similarity"] for f in result["faces"]
    )
    assert summary["verified"] == int(np.sum(np.diag(l2) < DLIB_THRESHOLD))
    assert [f["own_l2"] for f in result["faces"]] == pytest.approx(np.diag(l2).tolist())


def test_report_is_self_contained(evaluated):
    result, out = evaluated
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 1 + len(result["faces"])  # the matrix + one row per face
    assert 'src="http' not in page and "grayscale versions of the renderings" in page
    assert "rank-1 identification (cosine)" in page


def test_run_report_section_and_run_table_line(evaluated, tmp_path):
    from headsynth.components.evaluation.run_report import add_real_photos_section
    from headsynth.pipeline.local_runner import real_photos_row
    from headsynth.report.html import HtmlReport

    result, _ = evaluated
    summary = result["summary"]
    step = {"source": "packaged", "summary": summary, "faces": result["faces"], "notes": ["a note"]}
    report = HtmlReport("run")
    add_real_photos_section(report, step)
    page = report.render()
    assert (
        html.escape(summary_line(summary)) in page
        and 'href="real_photos/report.html"' in page
        and "a note" in page
    )
    row = real_photos_row(summary)
    assert row.startswith(f"own > mean face {summary['own_above_mean_face']}/3, rank-1 {summary['rank1']}/3")
