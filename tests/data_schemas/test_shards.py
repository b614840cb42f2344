"""A corrupt or truncated TFRecord shard is named in one clear error, wherever it is read."""

import shutil

import pytest

from headsynth.components.rendering.shard_plan import read_examples
from headsynth.components.training.fit import train_regressor
from headsynth.components.training.settings import TrainSettings
from headsynth.config import TrainingConfig
from headsynth.core.errors import DataError


@pytest.fixture
def damaged_copy(tmp_path, rendered_examples):
    copy = tmp_path / "examples"
    shutil.copytree(rendered_examples, copy)
    shard = sorted((copy / "Split-train").glob("*.gz"))[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])  # truncated mid-record, as a killed copy would leave it
    return copy, shard


def test_reading_a_truncated_shard_names_it(damaged_copy):
    copy, shard = damaged_copy
    with pytest.raises(DataError, match=f"{shard.name} is corrupt or truncated.*Render the examples again"):
        read_examples(str(copy), "train")
    assert len(read_examples(str(copy), "eval")) == 16  # the intact split still reads


def test_training_on_a_truncated_shard_names_it(tmp_path, damaged_copy, small_model):
    copy, shard = damaged_copy
    settings = TrainSettings(
        training=TrainingConfig(
            batch_size=8, train_steps=8, eval_steps=1, steps_per_epoch=8, backbone="tiny_cnn", log_renders=0
        ),
        image_size=32,
    )
    with pytest.raises(DataError, match=f"{shard.name} is corrupt or truncated"):
        train_regressor(
            str(copy / "Split-train" / "*"),
            str(copy / "Split-eval" / "*"),
            small_model,
            settings,
            str(tmp_path / "serving"),
            str(tmp_path / "logs"),
        )
    assert not (tmp_path / "serving" / "saved_model.pb").exists()
