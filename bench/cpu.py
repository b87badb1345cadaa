"""CPU time of the processes a benchmark drives, read from /proc (Linux), so that a ratio can be
traced to the process, or the thread, that spends the time."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from reliability.stack import children

TICKS = os.sysconf("SC_CLK_TCK")
Reader = Callable[[], float]


def _stat_times(stat: Path) -> list[int]:
    """utime, stime, cutime and cstime from a /proc stat file, in clock ticks; zeros when the
    process is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return [0, 0, 0, 0]
    return [int(field) for field in fields[11:15]]


def process_seconds(pid: int) -> float:
    """User and system CPU time a process (all its threads) has used so far."""
    utime, stime, _, _ = _stat_times(Path("/proc") / str(pid) / "stat")
    return (utime + stime) / TICKS


def main_thread_seconds(pid: int) -> float:
    """CPU time of a process's main thread alone: an asyncio server's event loop."""
    utime, stime, _, _ = _stat_times(Path("/proc") / str(pid) / "task" / str(pid) / "stat")
    return (utime + stime) / TICKS


def tree_seconds(pid: int) -> float:
    """A process and its live children (the analyzer's workers)."""
    return sum(process_seconds(each) for each in [pid, *children(pid)])


def cluster_seconds(pgdata: Path) -> float:
    """A PostgreSQL cluster: the postmaster, its live backends and workers, and the children
    it has already reaped (the postmaster's cutime and cstime)."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    _, _, cutime, cstime = _stat_times(Path("/proc") / str(postmaster) / "stat")
    return (cutime + cstime) / TICKS + tree_seconds(postmaster)


def snapshot(readers: Mapping[str, Reader]) -> dict[str, float]:
    return {name: read() for name, read in readers.items()}


class CpuWindow:
    """CPU seconds each reader spends from `delay` seconds after entering (a load generator's
    warm-up) until leaving; `per_call(calls)` gives milliseconds per call."""

    def __init__(self, readers: Mapping[str, Reader], delay: float = 0.0) -> None:
        self._readers = readers
        self._delay = delay
        self._before: dict[str, float] = {}
        self.spent: dict[str, float] = {}
        self._timer: threading.Timer | None = None

    def _start(self) -> None:
        self._before = snapshot(self._readers)

    def __enter__(self) -> CpuWindow:
        if self._delay > 0:
            self._timer = threading.Timer(self._delay, self._start)
            self._timer.start()
        else:
            self._start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._timer is not None:
            self._timer.join()
        after = snapshot(self._readers)
        self.spent = {name: after[name] - self._before[name] for name in after}

    def per_call(self, calls: float) -> dict[str, float]:
        return {
            name: 1000 * seconds / calls if calls else 0.0 for name, seconds in self.spent.items()
        }


# The ceilings a rate ratio cannot pass, from CPU milliseconds per call measured in one run.
GET_PROCESSES = ("gateway", "storage", "PostgreSQL")


def thread_ceiling(call_ms: float, baseline_ms: float) -> float:
    """Two servers each held by one thread: the ratio of their rates is at most the inverse
    ratio of that thread's CPU per call."""
    return baseline_ms / call_ms


def machine_ceiling(spent_ms: dict[str, float], held_ms: float, cores: int) -> tuple[float, float]:
    """A call that needs several processes on `cores` cores, against a baseline held by one
    thread at `held_ms` a call: (the call's CPU ms in all, the ceiling of the rate ratio)."""
    total = sum(spent_ms.get(name, 0.0) for name in GET_PROCESSES)
    return total, cores * held_ms / total
