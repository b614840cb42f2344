"""The command line's user errors: one clear line, exit status 2, nothing written."""

import subprocess
import sys
import textwrap

import pytest

from headsynth.cli.main import main


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--preset", "huge"], "Unknown preset 'huge'"),
        (["--preset", "ci", "--set", "training.bogus=3"], "Unknown --set key 'training.bogus'"),
        (["--preset", "ci", "--set", "training.train_steps=many"], "expected int"),
    ],
)
def test_user_errors_print_one_line_and_write_nothing(tmp_path, capsys, argv, fragment):
    out = tmp_path / "run"
    status = main(["run", *argv, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert fragment in err
    assert len(err.splitlines()) == 1
    assert err.startswith("headsynth: error:")
    assert not out.exists()


def test_missing_rasterizer_op_names_the_fix(tmp_path):
    # Fault injection at the third-party boundary: make TensorFlow fail to load
    # any custom op library, as it does when the op was never compiled.
    out = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import sys
        import tensorflow as tf
        def refuse(path):
            raise tf.errors.NotFoundError(None, None, path + ": cannot open shared object file")
        tf.load_op_library = refuse
        from headsynth.cli.main import main
        sys.exit(main(["run", "--preset", "ci", "--out", {str(out)!r}]))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 2, result.stderr[-2000:]
    assert "rasteriser op does not load" in last
    assert "make setup" in last and "build_rasterizer.py" in last
    assert not out.exists()


def test_show_config_prints_resolved_values(capsys):
    assert main(["run", "--preset", "ci", "--set", "training.train_steps=3", "--show-config"]) == 0
    assert '"train_steps": 3' in capsys.readouterr().out


def test_tensorboard_command_points_at_the_run(tmp_path):
    from headsynth.cli.tensorboard_command import tensorboard_argv
    from headsynth.core.errors import ConfigError

    (tmp_path / "pipeline_root").mkdir()
    argv = tensorboard_argv(str(tmp_path), 6007)
    assert argv[1:3] == ["-m", "tensorboard.main"]
    assert argv[argv.index("--logdir") + 1] == str(tmp_path / "pipeline_root")
    with pytest.raises(ConfigError, match="does not exist"):
        tensorboard_argv(str(tmp_path / "missing"), 6006)


def test_tensorboard_command_finds_the_logs_of_a_bucket_run(tmp_path):
    from headsynth.cli.tensorboard_command import tensorboard_argv

    (tmp_path / "config.json").write_text('{"pipeline": {"pipeline_root": "gs://my-bucket/headsynth"}}')
    argv = tensorboard_argv(str(tmp_path), 6007)
    assert argv[argv.index("--logdir") + 1] == "gs://my-bucket/headsynth"


def test_every_registered_command_has_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("run", "model", "tensorboard"):
        assert name in out
