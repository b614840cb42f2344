"""`headsynth predict` on scikit-image's astronaut with the tiny trained model (input size 32)."""

import json

import cv2
import numpy as np

from headsynth.cli.main import main


def test_predict_astronaut(tmp_path, trained_regressor, capsys):
    from skimage import data

    folder, _ = trained_regressor
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((200, 300, 3), 200, np.uint8))
    out = tmp_path / "predictions"
    status = main(["predict", str(photo), str(blank), "--model", str(folder / "serving"), "--out", str(out)])
    captured = capsys.readouterr()
    # The photo without a face is one clear error line; the other photo is still done.
    assert status == 2
    assert f"headsynth: error: {blank}: No face found in photo {blank}" in captured.err
    assert "Traceback" not in captured.err
    result = json.loads((out / "astronaut.json").read_text())
    assert len(result["q"]) == 8 and len(result["shape_parameters"]) == 4
    assert result["identity_backend"] == "dlib"
    assert isinstance(result["identity_score"], float) and -1.0 <= result["identity_score"] <= 1.0
    assert result["corrected_score"] <= result["identity_score"] + 1e-12
    assert result["face"]["score"] > 0.8
    obj = (out / "astronaut.obj").read_text().splitlines()
    vertices = [line for line in obj if line.startswith("v ")]
    assert len(vertices) > 1000 and len(vertices[0].split()) == 7  # x y z r g b
    assert (out / "astronaut.ply").read_bytes().startswith(b"ply\n")
    preview = cv2.imread(str(out / "astronaut_preview.png"))
    assert preview.shape == (256, 3 * 256, 3)
    assert "identity score" in captured.out and str(out / "report.html") in captured.out
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_predict_from_skimage_name_and_bad_model_dir(tmp_path, trained_regressor, capsys):
    folder, _ = trained_regressor
    out = tmp_path / "p"
    args = ["predict", "skimage:astronaut", "--model", str(folder / "serving"), "--out", str(out)]
    assert main([*args, "--identity-backend", "none"]) == 0
    assert json.loads((out / "astronaut.json").read_text())["identity_score"] is None
    assert (
        main(["predict", "skimage:astronaut", "--model", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    )
    assert "No SavedModel under" in capsys.readouterr().err
