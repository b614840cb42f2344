"""Same seed, same bytes: training with op determinism gives identical weights on a rerun (CPU)."""

import subprocess
import sys
import textwrap


def test_rerun_with_op_determinism_gives_identical_weights(tmp_path, rendered_examples, small_model):
    small_model.save_npz(tmp_path / "model.npz")
    # A fresh process: op determinism is a process-wide TensorFlow switch.
    script = textwrap.dedent(
        f"""
        import hashlib
        from headsynth.morphable.model import load_npz
        from headsynth.components.training.fit import train_regressor
        from headsynth.components.training.settings import TrainSettings
        from headsynth.config import TrainingConfig

        digests = []
        for attempt in range(2):
            out = {str(tmp_path)!r} + f"/run{{attempt}}"
            train_regressor({str(rendered_examples / "Split-train" / "*")!r}, {str(rendered_examples / "Split-eval" / "*")!r},
                            load_npz({str(tmp_path / "model.npz")!r}),
                            TrainSettings(training=TrainingConfig(batch_size=8, train_steps=10, eval_steps=1,
                                                                  steps_per_epoch=5, backbone="tiny_cnn",
                                                                  log_renders=0, deterministic=True),
                                          image_size=32),
                            out + "/serving", out + "/logs")
            import keras
            model = keras.models.load_model(out + "/logs/regressor.keras")
            digests.append(hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest())
        print("DIGESTS", *digests)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    line = [x for x in result.stdout.splitlines() if x.startswith("DIGESTS")]
    assert line, result.stderr[-3000:]
    first, second = line[0].split()[1:]
    assert first == second
