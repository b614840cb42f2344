"""The Beam pipeline the render job runs in, and Beam's Dask runner made fit for it.

Beam 2.59's `DaskRunner` runs the job on a real Dask cluster (`dask scheduler`
and `dask worker` processes), with gaps this module and the render job work
around, so that a user only adds two Beam options:

    --runner=apache_beam.runners.dask.dask_runner.DaskRunner
    --dask_client_address=tcp://SCHEDULER:8786

- Beam knows the runner only by that full name ("DaskRunner" alone is an
  unknown runner, also inside TFX, which builds the pipeline before the
  component runs), and without a scheduler address it starts a cluster
  inside the process: `check_beam_args` says so before anything runs.
- It hands every non-default pipeline option to `dask.distributed.Client`,
  which rejects them (TFX adds `--extra_package` and `--labels`, presets add
  direct-runner options): the job runs in a fresh pipeline that holds only the
  `--dask_*` options (`render_pipeline`).
- It never calls `DoFn.setup`, `start_bundle`, `finish_bundle` or `teardown`:
  the render DoFn prepares itself on its first element (`RenderShardFn`).
- No side inputs; `Reshuffle` is a no-op, and `Create` of up to 100 elements
  makes one Dask partition per element, so every shard is its own task and
  the shards spread over the workers.
- Every PCollection is gathered to the driver: the job's only output is one
  (split, count) pair per shard.
- Grouping would use Python's `hash()`, which differs between processes
  unless `PYTHONHASHSEED` is set on every worker; the render job groups
  nothing, so its bytes do not depend on it.
- It never closes its client (`dask_client_closed` does, after the job), and
  it calls `Client.wait_for_workers` in a way `distributed` warns about
  (a FutureWarning a user cannot act on: silenced).
"""

from __future__ import annotations

import argparse
import contextlib
import warnings
from collections.abc import Iterator, Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from headsynth.core.errors import ConfigError

DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"
# Names a user might try; Beam resolves neither (`apache_beam.runners.runner.create_runner`).
_SHORT_DASK_NAMES = ("dask", "daskrunner")


def _option_value(beam_args: Sequence[str], name: str) -> str | None:
    """The value of the last option `name` in `beam_args`, written `NAME=VALUE` or `NAME VALUE`."""
    value = None
    for i, arg in enumerate(beam_args):
        if arg.startswith(f"{name}="):
            value = arg.split("=", 1)[1]
        elif arg == name and i + 1 < len(beam_args):
            value = beam_args[i + 1]
    return value


def _no_scheduler_error() -> ConfigError:
    return ConfigError(
        "Beam's Dask runner was chosen without a Dask scheduler to run on.",
        "Add --beam-arg=--dask_client_address=tcp://SCHEDULER:8786 (or --dask_scheduler_file=PATH); "
        "for worker processes on this machine, use --direct_running_mode=multi_processing instead.",
    )


def check_beam_args(beam_args: Sequence[str]) -> None:
    """Checks the runner choice in Beam options before anything runs.

    Raises:
        ConfigError: for `--runner=DaskRunner` (a name Beam does not resolve;
            the error gives the one it does), or Beam's Dask runner without
            `--dask_client_address` or `--dask_scheduler_file` (it would start
            a cluster inside the process).
    """
    runner = _option_value(beam_args, "--runner")
    if runner is not None and runner.lower() in _SHORT_DASK_NAMES:
        raise ConfigError(
            f"Beam does not know the runner name {runner!r}; it knows Dask's runner only by its full name.",
            f"Write --beam-arg=--runner={DASK_RUNNER} (with --beam-arg=--dask_client_address=tcp://HOST:8786).",
        )
    scheduler_options = ("--dask_client_address", "--dask_scheduler_file")
    if runner == DASK_RUNNER and not any(_option_value(beam_args, name) for name in scheduler_options):
        raise _no_scheduler_error()


def other_components_beam_args(beam_args: Sequence[str]) -> list[str]:
    """Beam options to add for the pipeline's other Beam steps (StatisticsGen) under these options.

    On Beam's Dask runner only the render job can run: TFX's statistics need
    transforms that runner lacks, and it would hand TFX's options to
    `dask.Client`. Those steps run on the direct runner instead (a later
    `--runner` wins); under any other runner they get nothing more.
    """
    return ["--runner=DirectRunner"] if _option_value(beam_args, "--runner") == DASK_RUNNER else []


def is_dask_runner(runner: str | beam.runners.PipelineRunner | None) -> bool:
    """Whether `runner` (a `--runner` value or a runner object) is Beam's Dask runner."""
    if runner is None:
        return False
    if isinstance(runner, str):
        return runner == DASK_RUNNER
    kind = type(runner)
    return f"{kind.__module__}.{kind.__qualname__}" == DASK_RUNNER


def dask_options(options: PipelineOptions) -> PipelineOptions:
    """Only the `--dask_*` options of `options` that differ from their defaults.

    Raises:
        ConfigError: if they name no scheduler (see `check_beam_args`).
    """
    # Beam's Dask runner imports dask.distributed: a heavy optional dependency, loaded only for it.
    from apache_beam.runners.dask.dask_runner import DaskOptions

    parser = argparse.ArgumentParser()
    DaskOptions._add_argparse_args(parser)  # the options DaskOptions declares, by their dest names
    names = vars(parser.parse_args([]))
    values = options.view_as(DaskOptions).get_all_options(drop_default=True)
    chosen = {name: values[name] for name in names if name in values}
    if not chosen.get("address") and not chosen.get("scheduler_file"):
        raise _no_scheduler_error()
    return PipelineOptions([], **chosen)


def render_pipeline(beam_args: Sequence[str] | None, beam_pipeline: beam.Pipeline | None) -> beam.Pipeline:
    """The pipeline to run the render job in.

    Args:
        beam_args: Beam pipeline options (used when `beam_pipeline` is None).
        beam_pipeline: a pipeline to run in (TFX passes one).

    Returns:
        `beam_pipeline`, or one made from `beam_args`; for Beam's Dask runner,
        a fresh pipeline on that runner with only the `--dask_*` options.
    """
    if beam_pipeline is not None:
        if not is_dask_runner(beam_pipeline.runner):
            return beam_pipeline
        options = beam_pipeline.options
    else:
        check_beam_args(beam_args or [])
        options = PipelineOptions(list(beam_args or []))
        if not is_dask_runner(options.view_as(StandardOptions).runner):
            return beam.Pipeline(options=options)
    # Imported only for a Dask job: loading it imports dask.distributed, a heavy optional dependency.
    from apache_beam.runners.dask.dask_runner import DaskRunner

    # The runner calls Client.wait_for_workers() without n_workers; distributed warns at every run.
    warnings.filterwarnings(
        "ignore", message="Please specify the `n_workers` argument", category=FutureWarning
    )
    return beam.Pipeline(runner=DaskRunner(), options=dask_options(options))


@contextlib.contextmanager
def dask_client_closed(pipeline: beam.Pipeline) -> Iterator[None]:
    """Runs the block that runs `pipeline`; on Beam's Dask runner, closes the client it opened.

    Raises:
        ConfigError: if the Dask runner could not reach its scheduler.
    """
    on_dask = is_dask_runner(pipeline.runner)
    try:
        yield
    except OSError as error:
        # Only connecting can fail before the run has a result: the client is made first.
        if on_dask and getattr(pipeline, "result", None) is None:
            raise ConfigError(
                f"No Dask scheduler answered ({error}).",
                "Start `dask scheduler` and `dask worker` processes, or fix --dask_client_address "
                "(--dask_connection_timeout=SECONDS waits longer).",
            ) from error
        raise
    finally:
        client = getattr(getattr(pipeline, "result", None), "client", None)
        if on_dask and client is not None:
            client.close()
