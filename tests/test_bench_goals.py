"""`make bench`'s goal table from the benchmarks' JSON: ratios against the baseline of the same
run, and which goals are met (the benchmarks themselves run with `make bench`, not here)."""

from __future__ import annotations

from bench.__main__ import goals


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
