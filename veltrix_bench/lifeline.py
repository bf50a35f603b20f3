"""Child processes that die with the process that started them, however it dies (kill -9 too).

vbench's children (engine, load generator, Locust workers, py-spy) are started in their own
session, so a Ctrl-C at the terminal reaches vbench alone and vbench stops them in order. That
also means nothing stops them when vbench itself is killed: an orphaned engine ran on for 53 s.
`popen` ties each child to this process:

- Linux: the kernel sends the child SIGKILL when its parent dies (PR_SET_PDEATHSIG, set
  between fork and exec, so it holds for any program, py-spy included). The kernel fires it
  when the *thread* that forked exits, so a spawn from any thread but the main one is made
  on a thread that lives as long as the process.
- Elsewhere (macOS): the child inherits the read end of a pipe whose write end only this
  process holds; a thread in the child (started when it imports `veltrix_bench`, see
  `watch_parent`) reads until end of file, which comes when this process is gone. This
  covers vbench's own Python children; py-spy ends when the engine it samples ends.

The orphan is killed, not asked to drain: nobody is left to read its answers, the engine
acknowledges only what SQLite has committed (a SIGKILL loses nothing acknowledged), and a
graceful drain may take its whole `drain_timeout_s` (10 s) where an orphan must be gone
within 5 s.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

LIFELINE_ENV = "VBENCH_LIFELINE"
"""`FD:INODE` in a child's environment: the pipe to read until end of file."""

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if sys.platform != "linux":
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None).prctl  # libc's, already in this process
    return prctl


_prctl = _load_prctl()
"""libc's prctl, loaded before any fork (the child must not load libraries); None off Linux."""

Command = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def popen(args: Command, **kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(args, **kwargs)` for a child that must not outlive this process."""
    if "preexec_fn" in kwargs:
        raise TypeError("lifeline.popen sets preexec_fn itself")
    if _prctl is None:
        return _popen_with_pipe(args, kwargs)
    kwargs["preexec_fn"] = _die_with(os.getpid())
    if threading.get_native_id() == os.getpid():  # the main thread lives as long as we do
        return subprocess.Popen(args, **kwargs)
    return _spawner().spawn(args, kwargs)


def _die_with(parent_pid: int) -> Callable[[], None]:
    prctl = _prctl
    assert prctl is not None

    def in_the_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return in_the_child


_Reply = queue.SimpleQueue["subprocess.Popen[Any] | BaseException"]
"""Where the spawner thread hands back the child it started, or why it could not."""


class _Spawner:
    """A thread that never ends, so a parent-death signal armed by its forks fires only
    when the whole process dies, not when some short-lived thread that asked for a child
    returns."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[_Reply, Command, dict[str, Any]]]
        self._requests = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="vbench-lifeline", daemon=True).start()

    def spawn(self, args: Command, kwargs: dict[str, Any]) -> subprocess.Popen[Any]:
        reply: _Reply = queue.SimpleQueue()
        self._requests.put((reply, args, kwargs))
        answer = reply.get()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def _serve(self) -> None:
        while True:
            reply, args, kwargs = self._requests.get()
            try:
                reply.put(subprocess.Popen(args, **kwargs))
            except BaseException as exc:  # raised in the thread that asked
                reply.put(exc)


_the_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def _spawner() -> _Spawner:
    global _the_spawner
    with _spawner_lock:
        if _the_spawner is None:
            _the_spawner = _Spawner()
        return _the_spawner


def _popen_with_pipe(args: Command, kwargs: dict[str, Any]) -> subprocess.Popen[Any]:
    read_end, write_end = os.pipe()  # both non-inheritable: only this child gets read_end
    env = dict(kwargs.get("env") or os.environ)
    env[LIFELINE_ENV] = f"{read_end}:{os.fstat(read_end).st_ino}"
    kwargs["env"] = env
    kwargs["pass_fds"] = (*kwargs.get("pass_fds", ()), read_end)
    try:
        process = subprocess.Popen(args, **kwargs)
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    # Held while someone holds the child's handle; when nobody does, nobody can stop it.
    weakref.finalize(process, os.close, write_end)
    return process


def watch_parent() -> None:
    """In a child started by `popen` through a pipe: SIGKILL ourselves when the parent dies.

    A no-op unless this process was handed a lifeline. The variable is removed so that our
    own children do not take it for theirs, and the pipe is recognised by its inode: a
    grandchild that inherited the variable but not the pipe finds another file, or none.
    """
    given = os.environ.pop(LIFELINE_ENV, None)
    if given is None:
        return
    fd_text, _, inode_text = given.partition(":")
    try:
        held = os.fstat(int(fd_text))
    except (ValueError, OSError):
        return
    if not stat.S_ISFIFO(held.st_mode) or str(held.st_ino) != inode_text:
        return
    watcher = threading.Thread(
        target=_read_until_eof, args=(int(fd_text),), name="vbench-lifeline", daemon=True
    )
    watcher.start()


def _read_until_eof(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 64):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    os.kill(os.getpid(), signal.SIGKILL)
