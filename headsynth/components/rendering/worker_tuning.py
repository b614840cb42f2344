"""Per-process tuning of render workers that share one machine.

Worker processes of Beam's direct runner (`multi_processing` mode) each start
TensorFlow afresh; several processes each using every core only fight over
them, so each gets a share of the cores (`threads_per_worker`), set with
`limit_tensorflow_threads` before TensorFlow's runtime starts.
"""

from __future__ import annotations

import ctypes
import os

import tensorflow as tf
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

# mallopt parameters of glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# The largest mmap threshold glibc accepts on 64-bit machines.
_MAX_MMAP_THRESHOLD = 32 << 20


def threads_per_worker(options: PipelineOptions) -> int:
    """TensorFlow threads for each render worker under these Beam pipeline options.

    With the direct runner's `multi_processing` mode the machine's cores are
    shared among its worker processes; elsewhere (in-process runners, remote
    runners with a machine per worker) 0 keeps TensorFlow's default, all cores.
    """
    direct = options.view_as(DirectOptions)
    if direct.direct_running_mode != "multi_processing":
        return 0
    workers = direct.direct_num_workers or os.cpu_count() or 1
    return max(1, (os.cpu_count() or 1) // workers)


def limit_tensorflow_threads(threads: int) -> bool:
    """Caps this process's TensorFlow thread pools; False if TensorFlow already started its runtime."""
    try:
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # the runtime is already up (e.g. the in-process runner)
        return False
    return True


def keep_freed_memory() -> bool:
    """Makes glibc's malloc keep freed memory for reuse; False where malloc is not glibc's.

    Every batch allocates and frees the same few-MB buffers. By default glibc
    gives such blocks back to the kernel (unmapping them, trimming the heap),
    so each batch paid again for page faults and zeroed pages: about 5 % of a
    render worker's rate (an A/B of the Beam job with 1 and 2 workers). Memory
    still does not grow with the number of examples; freed blocks only stay
    mapped. Called only in worker processes of the render job; a process that
    renders in line is left as it is.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30))


def tune_worker(threads: int) -> None:
    """Tunes a worker process of our own that shares the machine: `threads` TensorFlow threads."""
    limit_tensorflow_threads(threads)
    keep_freed_memory()
