"""Independent pieces of a large job run in forked children, one child per piece.

A child sees the parent's memory as it was at the fork (copy-on-write), so a piece reads the
parent's objects without pickling them; only its result travels back. At most one child per
usable CPU runs at a time, and each exits when its piece is done, so the pages it copied are freed
with it (memory stays bounded by the pieces in flight, not by the job). While children run, the
parent should only collect: every page it writes to is copied for each living child. Nothing here
starts a thread, so forking stays safe.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Generic, TypeVar

_Result = TypeVar("_Result")

MAX_WORKERS = 4
"""Children at once, at most (and never more than the CPUs this process may run on)."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, which containers and ``taskset`` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


WORKERS_ENV = "VLLM_INFRA_WORKERS"
"""Caps the children at once (``1``: everything in one process, for the least memory: each child
holds private copies of the pages it and the parent write, 50-100 MB at 50,000 objects)."""


def worker_count() -> int:
    """Children to run at once; 1 means: do the work in this process."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    limit = os.environ.get(WORKERS_ENV, "")
    cap = int(limit) if limit.isdigit() and int(limit) > 0 else MAX_WORKERS
    return max(1, min(cap, usable_cpus()))


def pieces(count: int, size: int) -> list[range]:
    """``range(count)`` cut into consecutive ranges of at most ``size``."""
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


PIECES_PER_WORKER = 4
"""A few pieces per child keep the children evenly busy; more would cost a fork each (a fork
copies the parent's page tables: 12 ms at 400 MB, plus as much again when the child exits)."""


def balanced_pieces(count: int, workers: int, minimum: int = 1) -> list[range]:
    """``range(count)`` in about ``PIECES_PER_WORKER`` pieces per worker, none under ``minimum``."""
    return pieces(count, max(minimum, -(-count // (max(1, workers) * PIECES_PER_WORKER))))


class ChildFailed(RuntimeError):
    """A piece raised in its child: the message is the child's traceback (the cause of the
    re-raised exception, or the error itself when the exception could not be sent back)."""


_PART = "part"
"""A child's message that carries one part of a streamed result (``Forked(..., streamed=True)``)."""


_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel kill this child when its parent dies (Linux ``PR_SET_PDEATHSIG``), so a
    killed run leaves no worker writing into the tree; a parent already gone ends the child now."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pipe closing still ends the child's send
        pass
    if os.getppid() != parent:
        os._exit(1)


def _run(task: Callable[[int], object], index: int, connection: Connection, streamed: bool, parent: int) -> None:
    _die_with(parent)
    gc.freeze()  # the collector must not walk what the parent made: touching it copies every page
    try:
        if streamed:  # each part leaves as soon as it is made, so the child never holds its whole result
            for part in task(index):  # type: ignore[attr-defined]
                connection.send((_PART, part))
            result: tuple[bool | str, object] = (True, None)
        else:
            result = (True, task(index))
    except BaseException as exc:  # the parent re-raises it; a child must never die silently
        result = (False, (exc, traceback.format_exc()))
    try:
        connection.send(result)
    except Exception:  # an exception or result that does not pickle
        connection.send((False, (None, traceback.format_exc())))
    connection.close()


class Forked(Generic[_Result]):
    """``task(0) .. task(count - 1)``, each in its own forked child, results in index order. With
    ``streamed``, a task returns an iterator of parts, which the child sends one by one, and the
    result of a task is the list of its parts."""

    def __init__(self, task: Callable[[int], _Result], count: int, workers: int, streamed: bool = False) -> None:
        self._task, self._count, self._workers, self._streamed = task, count, max(1, workers), streamed
        self._parts: dict[int, list[object]] = {}
        self._context = multiprocessing.get_context("fork")
        self._next = 0
        self._running: dict[Connection, tuple[int, BaseProcess]] = {}
        self._done: dict[int, _Result] = {}
        self._fill()

    def _fill(self) -> None:
        while self._next < self._count and len(self._running) < self._workers:
            receiver, sender = self._context.Pipe(duplex=False)
            process = self._context.Process(target=_run, daemon=True,
                                            args=(self._task, self._next, sender, self._streamed, os.getpid()))
            process.start()
            sender.close()
            self._running[receiver] = (self._next, process)
            self._next += 1

    def _collect(self) -> None:
        for ready in wait(list(self._running)):
            assert isinstance(ready, Connection)
            index, process = self._running[ready]
            try:
                succeeded, value = ready.recv()
            except EOFError:
                succeeded, value = False, (None, f"the child exited without a result (exit code {process.exitcode})")
            if succeeded == _PART:
                self._parts.setdefault(index, []).append(value)
                continue
            del self._running[ready]
            ready.close()
            process.join()
            if not succeeded:
                self.close()
                error, text = value
                failure = ChildFailed(f"piece {index} failed in its child:\n{text}")
                if isinstance(error, BaseException):
                    raise error from failure
                raise failure
            self._done[index] = self._parts.pop(index, []) if self._streamed else value  # type: ignore[assignment]
        self._fill()

    def __iter__(self) -> Iterator[_Result]:
        """Every result in index order, each as soon as it and those before it are done."""
        for index in range(self._count):
            while index not in self._done:
                self._collect()
            yield self._done.pop(index)

    def close(self) -> None:
        """Stop children still running (after a failure, or when the caller gives up)."""
        for _, process in self._running.values():
            process.kill()
            process.join()
        self._running.clear()
