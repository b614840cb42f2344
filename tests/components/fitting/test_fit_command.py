"""`headsynth fit` on the packaged photos, and its bad inputs."""

import cv2
import numpy as np
from matplotlib import cbook

from headsynth.cli.main import main
from headsynth.data_schemas.parameter_files import load_parameter_file


def grace_hopper_path() -> str:
    return str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def test_fit_packaged_photos_into_a_parameter_file(tmp_path, capsys):
    out = tmp_path / "vectors.npz"
    args = ["fit", "skimage:astronaut", "skimage:camera", grace_hopper_path(), "--out", str(out)]
    assert main([*args, "--shape-components", "8", "--texture-components", "6"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("landmark residual") == 3 and "texture luminance" in printed
    q = load_parameter_file(out, width=14)
    assert q.shape == (3, 14)
    with np.load(out) as saved:
        assert list(saved["names"]) == ["skimage:astronaut", "skimage:camera", grace_hopper_path()]
        assert saved["boxes"].shape == (3, 4) and saved["residuals"].shape == (3, 68)
        assert np.all(saved["residuals"].mean(axis=1) < 2.5)
        assert list(saved["texture_mode"]) == ["rgb", "luminance", "rgb"]
    # Same photos, same bytes.
    again = tmp_path / "again.npz"
    assert main(["fit", "skimage:astronaut", "skimage:camera", grace_hopper_path(), "--out", str(again),
                 "--shape-components", "8", "--texture-components", "6"]) == 0  # fmt: skip
    assert again.read_bytes() == out.read_bytes()


def test_fit_bad_inputs(tmp_path, capsys):
    out = tmp_path / "v.npz"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["fit", str(empty), "--out", str(out)]) == 2
    assert f"Folder {empty} holds no photos" in capsys.readouterr().err
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    assert main(["fit", "skimage:astronaut", str(broken), "--out", str(out)]) == 2
    assert "is not an image OpenCV can decode" in capsys.readouterr().err
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((120, 160, 3), 200, np.uint8))
    assert main(["fit", str(wall), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No face could be fitted in 1 photo(s)" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob("*.npz*"))
    # A faceless photo beside a face is skipped with a warning.
    assert main(["fit", str(wall), "skimage:astronaut", "--out", str(out), "--shape-components", "4",
                 "--texture-components", "4"]) == 0  # fmt: skip
    assert f"warning: {wall}: no face found" in capsys.readouterr().err
    assert load_parameter_file(out).shape == (1, 8)
