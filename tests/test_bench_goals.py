"""`make bench`'s goal table from the benchmarks' JSON: ratios against the baseline of the same
run, and which goals are met (the benchmarks themselves run with `make bench`, not here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import partial

from bench.__main__ import goals
from bench.cpu import CpuWindow, main_thread_seconds, process_seconds
from bench.end_to_end import Run, combined


def test_goals_are_ratios_against_the_same_runs_baselines():
    figures = {
        "end_to_end": {
            "end_to_end": {"tasks_per_s": 9.0},
            "analyzer_alone": {"tasks_per_s": 10.0},
        },
        "storage": {
            "results": [
                {"name": "GetTask", "clients": 8, "rate": 2000.0},
                {"name": "no-op GetTask", "clients": 8, "rate": 10000.0},
                {"name": "pgbench -S", "clients": 8, "rate": 50000.0},
            ]
        },
        "gateway": None,  # not run (h2load missing): no row, no crash
        "analyzer": {
            "rows": [
                {"what": "analysis, 12 MP (4032x3024)", "median_ms": 30.0, "baseline_ms": 20.0},
                {"what": "analysis, noisy 12 MP", "median_ms": 18.0, "baseline_ms": 20.0},
            ]
        },
        "uploads_32": {"end_to_end": {"peak_mib": {"gateway": 300.0, "analyzer": 900.0}}},
        "scaling": {
            "workers": [
                {"workers": 1, "analyses_per_s": 5.0},
                {"workers": 2, "analyses_per_s": 9.0},
            ],
            "sizes": [],
        },
    }
    found = {(goal.figure, goal.baseline): goal for goal in goals(figures)}
    end = found["end-to-end tasks/s (4 users, 12 MP)", "analyzer alone over gRPC"]
    assert end.ratio == 0.9 and end.met
    storage = found["storage GetTask/s (8 clients)", "no-op RPC, same stack"]
    assert storage.ratio == 0.2 and storage.met is False
    assert found["storage GetTask/s (8 clients)", "pgbench -S"].met is None
    assert found["analysis, 12 MP (4032x3024), ms", "Pillow full decode"].met is False
    assert found["analysis, noisy 12 MP, ms", "Pillow full decode"].met is True
    assert found["gateway + analyzer peak MiB, 32 users", "goal 1536 MiB"].met is True
    assert not any("gateway GET" in figure for figure, _ in found)
    workers = found["analyses/s, 2 worker processes (12 MP)", "1 worker process"]
    assert workers.ratio == 1.8 and workers.met is None


def test_ceilings_come_from_the_cpu_each_process_spent_per_call():
    def row(name: str, rate: float, **cpu_ms: float) -> dict[str, object]:
        return {"name": name, "clients": 8, "rate": rate, "cpu_ms": cpu_ms}

    figures = {
        "storage": {
            "results": [
                row("GetTask", 2000.0, server=0.6, **{"main thread": 0.5}),
                row("no-op GetTask", 7000.0, server=0.2, **{"main thread": 0.125}),
            ]
        },
        "gateway": {
            "results": [
                row("storage GetTask", 1500.0, **{"storage main thread": 0.6}),
                row("gateway GET", 800.0, gateway=0.9, storage=0.8, PostgreSQL=0.5),
            ]
        },
    }
    found = {goal.figure.strip(): goal for goal in goals(figures) if goal.goal == "reported"}
    storage = found["ceiling: main thread CPU ms a GetTask"]
    assert (storage.value, storage.baseline_value, storage.ratio) == (0.5, 0.125, 0.25)
    gateway = found["ceiling: CPU ms a GET, all processes"]
    assert gateway.value == 0.9 + 0.8 + 0.5
    assert gateway.ratio == (os.cpu_count() or 1) * 0.6 / (0.9 + 0.8 + 0.5)


def test_a_cpu_window_sees_a_busy_child_and_not_an_idle_one():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)  # both past their start-up
        readers = {
            "busy": partial(process_seconds, busy.pid),
            "busy main thread": partial(main_thread_seconds, busy.pid),
            "idle": partial(process_seconds, idle.pid),
        }
        with CpuWindow(readers, delay=0.2) as window:
            time.sleep(1.2)
        spent = window.per_call(1)
        # ms "per call" of one call: the CPU milliseconds over the ~1 s window.
        assert spent["busy"] > 300 and spent["busy main thread"] > 300
        assert spent["idle"] < 50
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()


def test_alternated_runs_are_combined_into_one_rate():
    # ABBA halves: the rate is all tasks over all measured time, not a mean of the halves' rates.
    first = Run(tasks=10, seconds=1.0, errors=0, to_succeeded_ms=[100.0], post_ms=[5.0])
    second = Run(tasks=10, seconds=4.0, errors=2, to_succeeded_ms=[300.0], post_ms=[7.0])
    both = combined([first, second])
    assert both.rate == (20 - 2) / 5.0
    assert both.to_succeeded_ms == [100.0, 300.0] and both.post_ms == [5.0, 7.0]
