"""`headsynth evaluate-photos` on the tiny trained model: packaged photos, a folder with labels, bad inputs."""

import json

import cv2
import numpy as np
import pytest

from headsynth.cli.main import main


def write_photo(path, image):
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def test_packaged_photos_by_default(tmp_path, trained_regressor, capsys):
    folder, _ = trained_regressor
    out = tmp_path / "out"
    assert main(["evaluate-photos", "--model", str(folder / "serving"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "real_photos.json").read_text())
    for face in result["faces"]:
        verdict = "above" if face["own_similarity"] > face["mean_face_similarity"] else "NOT above"
        line = f"{face['name']}{' (gray)' if face['gray'] else ''}: own photo {face['own_similarity']:.3f}"
        assert line in printed and f"{verdict} the mean face" in printed
    summary = result["summary"]
    assert f"own photo above the mean face: {summary['own_above_mean_face']}/3" in printed
    assert f"rank-1: {summary['rank1']}/3 (chance 1/3)" in printed
    assert str(out / "report.html") in printed


def test_folder_with_two_faces_in_one_photo_and_labels(tmp_path, trained_regressor, capsys):
    from matplotlib import cbook
    from skimage import data

    folder, _ = trained_regressor
    photos = tmp_path / "photos"
    photos.mkdir()
    astronaut = data.astronaut()
    with cbook.get_sample_data("grace_hopper.jpg") as file:
        hopper = cv2.cvtColor(cv2.imdecode(np.frombuffer(file.read(), np.uint8), 1), cv2.COLOR_BGR2RGB)
    write_photo(photos / "astronaut.png", astronaut)
    write_photo(photos / "mirrored.png", astronaut[:, ::-1])
    side_by_side = np.concatenate([cv2.resize(astronaut, (512, 600)), hopper], axis=1)
    write_photo(photos / "pair.png", side_by_side)
    write_photo(photos / "wall.png", np.full((200, 300, 3), 200, np.uint8))
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "photo,person\nastronaut.png,Collins\nmirrored,Collins\npair#1,Collins\npair#2,Hopper\n"
    )
    out = tmp_path / "out"
    args = ["evaluate-photos", str(photos), "--model", str(folder / "serving"), "--labels", str(labels)]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "real_photos.json").read_text())
    names = [face["name"] for face in result["faces"]]
    assert sorted(names) == ["astronaut", "mirrored", "pair#1", "pair#2"]
    assert "note: No face found in photo wall; it is left out." in printed
    labelled = result["labels"]["reconstructions"]
    assert (labelled["same_pairs"], labelled["different_pairs"]) == (3, 3)
    assert "labels: reconstructions: same person L2" in printed


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("no_face", "No face found in any of the 1 photos"),
        ("empty_folder", "holds no photos"),
        ("missing", "does not exist"),
        ("malformed_labels", "expected two non-empty columns photo,person"),
        ("unknown_photo", "photo 'someone.jpg' is not among the evaluated faces"),
    ],
)
def test_bad_inputs_give_one_clear_line(tmp_path, trained_regressor, capsys, case, fragment):
    from skimage import data

    folder, _ = trained_regressor
    args = ["evaluate-photos", "--model", str(folder / "serving"), "--out", str(tmp_path / "out")]
    photo = tmp_path / "astronaut.png"
    write_photo(photo, data.astronaut())
    labels = tmp_path / "labels.csv"
    if case == "no_face":
        write_photo(tmp_path / "wall.png", np.full((200, 300, 3), 200, np.uint8))
        args.append(str(tmp_path / "wall.png"))
    elif case == "empty_folder":
        (tmp_path / "empty").mkdir()
        args.append(str(tmp_path / "empty"))
    elif case == "missing":
        args.append(str(tmp_path / "nowhere.jpg"))
    else:
        labels.write_text("astronaut.png\n" if case == "malformed_labels" else "someone.jpg,x\n")
        args += [str(photo), "--labels", str(labels)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not (tmp_path / "out" / "real_photos.json").exists()


def test_a_folder_with_bad_files_processes_the_good_ones(tmp_path, trained_regressor, capsys):
    """A non-image, a photo without a face, a grayscale photo and a 1x1 image: one line per bad file."""
    from skimage import data

    folder, _ = trained_regressor
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "notes.jpg").write_text("not an image")
    write_photo(photos / "wall.png", np.full((200, 300, 3), 200, np.uint8))
    write_photo(photos / "camera.png", np.repeat(data.camera()[..., None], 3, axis=-1))
    write_photo(photos / "tiny.png", np.zeros((1, 1, 3), np.uint8))
    write_photo(photos / "astronaut.png", data.astronaut())
    out = tmp_path / "out"
    assert main(["evaluate-photos", str(photos), "--model", str(folder / "serving"), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("headsynth: error:") == 1 and "notes.jpg is not an image" in captured.err
    assert "No face found in photo wall" in captured.out and "No face found in photo tiny" in captured.out
    result = json.loads((out / "real_photos.json").read_text())
    assert sorted(face["name"] for face in result["faces"]) == ["astronaut", "camera"]
    assert "Traceback" not in captured.err


def test_a_missing_model_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        main(
            ["evaluate-photos", "skimage:astronaut", "--model", str(tmp_path / "nomodel"), "--out", str(out)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("headsynth: error:") == 1 and "No SavedModel under" in err
    assert not out.exists()
