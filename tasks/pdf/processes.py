"""Partition processes: a long PDF's page batches side by side, each under a memory and a time limit.

pdfminer holds the GIL, so batches run in processes. They fork from a multiprocessing fork server that
has imported pdfminer, unstructured and spaCy once (PRELOAD), so a batch starts at once; the processes
import neither Prefect nor nightshift's blocks (only its settings). One batch per process: its limits are
its own, and a process that hit one is gone.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import context as mp_context
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from typing import Any

from blocks.settings import PdfLimits
from tasks.pdf.document import PdfLimitExceeded
from tasks.pdf.partition import PRELOAD, Assembly, PagesPartition, partition_fast


class _LibraryPopen(popen_forkserver.Popen):
    """Starts a process without importing the caller's __main__ in it.

    multiprocessing re-runs the main script in every child so that functions defined there can be
    unpickled; a script that calls ingest_pdf without an `if __name__ == "__main__"` guard would run
    again in each partition process. These processes only run functions of this module.
    """

    def _launch(self, process_obj: Any) -> None:  # CPython 3.11's, less the main module
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]  # CPython's
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))  # type: ignore[attr-defined]
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _LibraryProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _LibraryPopen:
        return _LibraryPopen(process_obj)


class _LibraryContext(mp_context.ForkServerContext):
    Process = _LibraryProcess


def _on_alarm(signum: int, frame: Any) -> None:
    raise _OutOfTime


class _OutOfTime(BaseException):
    """Raised by the alarm wherever pdfminer is; turned into PdfLimitExceeded."""


def partition_limited(data: bytes, first: int, last: int, filename: str, source_id: int,
                      limits: PdfLimits, assembly: Assembly = "paragraphs") -> PagesPartition:
    """partition_fast inside a partition process, under the memory and time limits (one batch per process)."""
    memory = limits.partition_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # The CPU limit backs the alarm up where a C call (zlib, say) does not return to Python in time.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.partition_seconds + 10, limits.partition_seconds + 15))
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(limits.partition_seconds)
    try:
        return partition_fast(data, first, last, filename, source_id, limits, assembly)
    except MemoryError:
        raise PdfLimitExceeded(
            f"source {source_id}: pages {first + 1}-{last} need more than {limits.partition_memory_mb} MiB "
            "(NIGHTSHIFT_PDF_PARTITION_MEMORY_MB)"
        ) from None
    except _OutOfTime:
        raise PdfLimitExceeded(
            f"source {source_id}: pages {first + 1}-{last} took longer than {limits.partition_seconds} s "
            "(NIGHTSHIFT_PDF_PARTITION_SECONDS)"
        ) from None
    finally:
        signal.alarm(0)


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def partition_fast_in_process(data: bytes, first: int, last: int, filename: str, source_id: int,
                              assembly: Assembly = "paragraphs") -> PagesPartition:
    """partition_fast in a partition process of its own, under PdfLimits (processes started on first use)."""
    from blocks.embedder import available_cpus  # the calling process only: partition processes stay lean

    global _pool
    limits = PdfLimits()
    with _pool_lock:
        if _pool is None:
            context = _LibraryContext()
            context.set_forkserver_preload(PRELOAD)
            # One batch per process: its limits are its own, and a process that hit one is gone.
            _pool = ProcessPoolExecutor(max_workers=available_cpus(), mp_context=context, max_tasks_per_child=1)
        pool = _pool
    future = pool.submit(partition_limited, data, first, last, filename, source_id, limits, assembly)
    try:
        # No timeout here: batches wait in the pool's queue; each one's own time runs in its process.
        return future.result()
    except BrokenProcessPool:
        with _pool_lock:
            if _pool is pool:  # the next batch gets fresh processes
                _pool = None
        pool.shutdown(wait=False, cancel_futures=True)
        raise PdfLimitExceeded(
            f"source {source_id}: the partition process of pages {first + 1}-{last} was stopped; it may have "
            f"exceeded {limits.partition_memory_mb} MiB (NIGHTSHIFT_PDF_PARTITION_MEMORY_MB) or "
            f"{limits.partition_seconds} s (NIGHTSHIFT_PDF_PARTITION_SECONDS)"
        ) from None


def close_partition_processes() -> None:
    """Stop the partition processes and their fork server (a flow run ends them when its pages are done).

    The fork server holds unstructured and spaCy in memory; the next long PDF starts a new one.
    """
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
        if pool is None:
            return
        pool.shutdown(wait=True, cancel_futures=True)
        stop = getattr(forkserver._forkserver, "_stop", None)  # CPython's own way to stop it (3.8+)
        if stop is not None:
            stop()
