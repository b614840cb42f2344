import json

from headsynth.data_schemas.render_summary import read_render_summary, rendered_framing, rendered_scale


def test_settings_come_from_render_json_and_default_when_unrecorded(tmp_path):
    assert read_render_summary(str(tmp_path)) == {}
    assert rendered_scale(str(tmp_path)) is None
    assert rendered_framing(str(tmp_path)) == "full"
    (tmp_path / "render.json").write_text(json.dumps({"job": {"scale": 1.0, "framing": "face"}}))
    assert rendered_scale(str(tmp_path)) == 1.0
    assert rendered_framing(str(tmp_path)) == "face"
