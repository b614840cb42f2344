"""Training killed midway resumes from its last backup when run again."""

import json
import signal
import subprocess
import sys
import textwrap
import time

from headsynth.components.training.fit import train_regressor
from headsynth.components.training.settings import TrainSettings
from headsynth.config import TrainingConfig


def test_killed_training_resumes_from_the_last_backup(tmp_path, rendered_examples, small_model):
    small_model.save_npz(tmp_path / "model.npz")
    training = dict(
        batch_size=8,
        train_steps=60,
        eval_steps=1,
        steps_per_epoch=10,
        backbone="tiny_cnn",
        log_renders=0,
    )
    paths = dict(
        train=str(rendered_examples / "Split-train" / "*"),
        eval=str(rendered_examples / "Split-eval" / "*"),
        serving=str(tmp_path / "serving"),
        logs=str(tmp_path / "logs"),
        backup=str(tmp_path / "backup"),
    )
    script = textwrap.dedent(
        f"""
        import time, keras
        from headsynth.morphable.model import load_npz
        from headsynth.components.training.fit import train_regressor
        from headsynth.components.training.settings import TrainSettings
        from headsynth.config import TrainingConfig

        # Slow each step down (at Keras' callback) so the tiny run can be killed midway.
        keras.callbacks.BackupAndRestore.on_train_batch_begin = lambda self, batch, logs=None: time.sleep(0.03)
        train_regressor({paths["train"]!r}, {paths["eval"]!r}, load_npz({str(tmp_path / "model.npz")!r}),
                        TrainSettings(training=TrainingConfig(**{training!r}), image_size=32),
                        {paths["serving"]!r}, {paths["logs"]!r},
                        backup_dir={paths["backup"]!r})
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    metadata = tmp_path / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (
        metadata.exists() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 2
    ):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    epochs_done = json.loads(metadata.read_text())["epoch"]
    assert 2 <= epochs_done < 6, "the run must be killed midway for this test to mean anything"
    assert not (tmp_path / "serving" / "saved_model.pb").exists()

    result = train_regressor(
        paths["train"],
        paths["eval"],
        small_model,
        TrainSettings(training=TrainingConfig(**training), image_size=32),
        paths["serving"],
        paths["logs"],
        backup_dir=paths["backup"],
    )
    assert result["resumed_from_step"] == 10 * epochs_done
    assert result["train_steps"] == 60  # the optimizer's step count continued from the backup
    assert (tmp_path / "serving" / "saved_model.pb").exists()
    assert not (tmp_path / "backup" / "training_metadata.json").exists()  # backup removed when done
