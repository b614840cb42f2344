"""The README's remote-run and serving sections: every command is exercised by a test or marked.

A command is "marked" when a comment on it (or on the line before it) says
what it needs that these machines lack: `(needs a cluster)`, `(needs Docker)`
or `(needs TF Serving)`. Every other command must be listed in `EXERCISED`
with the test that runs it; those tests take the command from the README
(`readme_command`), so a change to the README is a change to what they run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTIONS = ("Run on Kubeflow", "Run on a Beam cluster", "Serve with TF Serving")
MARKER = re.compile(r"\(needs (a cluster|Docker|TF Serving)\)")

# README command (whitespace-normalised, ".venv/bin/" kept) -> the test that runs it.
EXERCISED = {
    ".venv/bin/headsynth compile --target kubeflow --preset quickstart --image gcr.io/my-project/headsynth:0.1 "
    "--set pipeline.pipeline_root=gs://my-bucket/headsynth --out pipeline.json": (
        "tests/pipeline/test_kubeflow.py::test_readme_compile_commands_name_every_component_image_and_beam_arg"
    ),
    ".venv/bin/headsynth compile --target kubeflow --preset quickstart --image gcr.io/my-project/headsynth:0.1 "
    "--set pipeline.pipeline_root=gs://my-bucket/headsynth --out pipeline.yaml": (
        "tests/pipeline/test_kubeflow.py::test_readme_yaml_output_loads_with_kfp"
    ),
    ".venv/bin/headsynth compile --target kubeflow --preset paper --image gcr.io/my-project/headsynth:0.1 "
    "--set pipeline.pipeline_root=gs://my-bucket/headsynth --beam-arg=--runner=DataflowRunner "
    "--beam-arg=--project=my-project --beam-arg=--region=europe-west4 "
    "--beam-arg=--temp_location=gs://my-bucket/tmp "
    "--beam-arg=--sdk_container_image=gcr.io/my-project/headsynth:0.1 "
    "--beam-arg=--setup_file=/headsynth/setup.py --out pipeline.json": (
        "tests/pipeline/test_kubeflow.py::test_readme_compile_commands_name_every_component_image_and_beam_arg"
    ),
    ".venv/bin/headsynth run --preset ci --out runs/ci-multiprocess "
    "--beam-arg=--direct_running_mode=multi_processing --beam-arg=--direct_num_workers=2": (
        "tests/pipeline/test_beam_cluster.py::test_render_component_runs_on_worker_processes_from_command_line_args"
    ),
    "PYTHONHASHSEED=0 .venv/bin/dask scheduler --host 127.0.0.1 --port 8786": (
        "tests/pipeline/test_dask_cluster.py::test_render_component_on_a_dask_cluster_gives_the_direct_runners_bytes"
    ),
    "PYTHONHASHSEED=0 .venv/bin/dask worker tcp://127.0.0.1:8786 --nthreads 1": (
        "tests/pipeline/test_dask_cluster.py::test_render_component_on_a_dask_cluster_gives_the_direct_runners_bytes"
    ),
    ".venv/bin/headsynth run --preset ci --out runs/ci-dask "
    "--beam-arg=--runner=apache_beam.runners.dask.dask_runner.DaskRunner "
    "--beam-arg=--dask_client_address=tcp://127.0.0.1:8786": (
        "tests/pipeline/test_dask_cluster.py::test_render_component_on_a_dask_cluster_gives_the_direct_runners_bytes"
    ),
    ".venv/bin/headsynth run --preset ci --out runs/ci-bucket "
    "--set pipeline.pipeline_root=gs://my-bucket/headsynth": (
        "tests/pipeline/test_gcs.py::test_the_readme_bucket_run_puts_every_artifact_in_the_bucket"
    ),
    ".venv/bin/python -c \"import imageio.v3 as iio, skimage; iio.imwrite('face.jpg', skimage.data.astronaut())\"": (
        "tests/serving/test_serving_client.py::test_readme_curl_and_client_commands_over_http_and_grpc"
    ),
    'curl -s -X POST http://localhost:8501/v1/models/headsynth:predict -d "{\\"instances\\": '
    '[{\\"b64\\": \\"$(base64 -w0 face.jpg)\\"}]}"': (
        "tests/serving/test_serving_client.py::test_readme_curl_and_client_commands_over_http_and_grpc"
    ),
    ".venv/bin/headsynth client --url http://localhost:8501 face.jpg": (
        "tests/serving/test_serving_client.py::test_readme_curl_and_client_commands_over_http_and_grpc"
    ),
    ".venv/bin/headsynth client --transport grpc --url localhost:8500 --format ply face.jpg": (
        "tests/serving/test_serving_client.py::test_readme_curl_and_client_commands_over_http_and_grpc"
    ),
}


def section_text(title: str) -> str:
    """The text of a `## title` section of the README."""
    text = README.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def section_commands(title: str) -> list[tuple[str, str]]:
    """(command, comment) for every command in the section's ```bash blocks.

    Backslash continuations are joined and whitespace normalised; a trailing
    `# comment`, or a comment line right before the command, is its comment.
    """
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section_text(title), flags=re.S):
        pending_comment = ""
        current = ""
        for line in block.splitlines():
            stripped = line.strip()
            if not current and (not stripped or stripped.startswith("#")):
                pending_comment = stripped
                continue
            if stripped.endswith("\\"):
                current += stripped[:-1] + " "
                continue
            current += stripped
            command, comment = split_comment(current)
            commands.append((" ".join(command.split()), " ".join(filter(None, (pending_comment, comment)))))
            current, pending_comment = "", ""
        assert not current, f"unterminated command in README section {title!r}: {current}"
    return commands


def split_comment(line: str) -> tuple[str, str]:
    """Splits a shell line at its first unquoted ` #`."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote and line[i - 1] != "\\":
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i:]
    return line, ""


def all_commands() -> list[tuple[str, str, str]]:
    return [(title, command, comment) for title in SECTIONS for command, comment in section_commands(title)]


def readme_command(prefix: str, suffix: str = "") -> str:
    """The one README command (of the sections above) that starts with `prefix` and ends with `suffix`."""
    found = [c for _, c, _ in all_commands() if c.startswith(prefix) and c.endswith(suffix)]
    assert len(found) == 1, f"expected one README command like {prefix!r}...{suffix!r}, found {found}"
    return found[0]


def headsynth_argv(command: str) -> list[str]:
    """The argument list of a `.venv/bin/headsynth ...` README command (without the program)."""
    words = shlex.split(command)
    assert words[0].endswith("headsynth"), command
    return words[1:]


def test_sections_are_in_order():
    text = README.read_text()
    positions = [text.index(f"\n## {title}\n") for title in SECTIONS]
    assert positions == sorted(positions)


def test_every_command_is_exercised_or_marked():
    unaccounted = [
        (title, command)
        for title, command, comment in all_commands()
        if command not in EXERCISED and not MARKER.search(comment)
    ]
    assert not unaccounted, f"README commands neither exercised by a test nor marked: {unaccounted}"
    marked_and_listed = [
        command for _, command, comment in all_commands() if MARKER.search(comment) and command in EXERCISED
    ]
    assert not marked_and_listed


def test_exercised_commands_are_in_the_readme_and_their_tests_exist():
    commands = {command for _, command, _ in all_commands()}
    for command, test_id in EXERCISED.items():
        assert command in commands, f"EXERCISED lists a command the README no longer has: {command}"
        path, name = test_id.split("::")
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {re.escape(name)}\(", source, flags=re.M), f"{test_id} does not exist"


def test_each_section_has_commands_and_every_cluster_command_parses():
    """Commands that cannot run here still parse and resolve (no typo in options or --set keys)."""
    from headsynth.cli.arguments import resolve_config
    from headsynth.cli.main import build_parser

    parser = build_parser()
    for title in SECTIONS:
        assert section_commands(title), f"README section {title!r} shows no command"
    for _, command, _ in all_commands():
        if not command.startswith(".venv/bin/headsynth "):
            continue
        args = parser.parse_args(headsynth_argv(command))
        if args.command in ("run", "compile"):
            config = resolve_config(args)
            if args.beam_args:
                assert config.rendering.beam_args[-len(args.beam_args) :] == tuple(args.beam_args)


@pytest.mark.parametrize("title", SECTIONS)
def test_marked_commands_say_what_they_need(title):
    for command, comment in section_commands(title):
        if "needs" in comment:
            assert MARKER.search(comment), f"unknown marker in {comment!r} for {command}"
