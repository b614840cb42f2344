import base64

from headsynth.report.html import HtmlReport, format_ci


def _png() -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    return data.tobytes()


def test_report_is_self_contained_and_escaped(tmp_path):
    figure = tmp_path / "figure.png"
    figure.write_bytes(_png())
    report = HtmlReport("A <study>")
    report.heading("Matrix").paragraph("q & p").table(
        ["train \\ test", "none"], [["none", "1.000 [0.900, 1.100]"]], highlight={(0, 1)}
    )
    report.image(str(figure), "caption <b>")
    report.image(_png(), "from bytes")
    report.image(str(tmp_path / "missing.png"), "never made")
    path = report.write(tmp_path / "out" / "report.html")
    html = open(path).read()
    assert "<title>A &lt;study&gt;</title>" in html and "q &amp; p" in html
    assert "caption &lt;b&gt;" in html and "<td class=best>1.000 [0.900, 1.100]</td>" in html
    assert html.count("data:image/png;base64,") == 2
    encoded = html.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(encoded) == _png()
    assert "missing.png was not produced" in html
    for external in ('src="http', "href=", "<script", "<link"):
        assert external not in html


def test_format_ci():
    assert format_ci({"mean": 1.23456, "ci95_low": 1.0, "ci95_high": 1.5}) == "1.235 [1.000, 1.500]"


def test_tensorboard_summaries(tmp_path):
    import tensorflow as tf

    from headsynth.report.tensorboard import write_summaries

    figure = tmp_path / "figure.png"
    figure.write_bytes(_png())
    write_summaries(
        str(tmp_path / "tb"),
        scalars={"study/error": 1.5, "study/nan": float("nan")},
        images={"figure.png": str(figure)},
        texts={"study/matrix": "| a | b |"},
    )
    tags = set()
    for event_file in (tmp_path / "tb").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags.update(value.tag for value in event.summary.value)
    assert {"study/error", "figure", "study/matrix"} <= tags and "study/nan" not in tags
