"""Analyzer workers follow the CPUs the process may use: affinity and the cgroup CPU quota, not
the host's count, and any count above 64 works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from analyzer.settings import AnalyzerSettings
from skin.cpus import available_cpus, cgroup_quota


@pytest.mark.parametrize(
    ("cpu_max", "quota"),
    [("150000 100000", 1.5), ("max 100000", None), ("200000 100000\n", 2.0)],
)
def test_cgroup_v2_quota(tmp_path, cpu_max, quota):
    (tmp_path / "cpu.max").write_text(cpu_max)
    assert cgroup_quota(tmp_path) == quota


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert cgroup_quota(tmp_path) == 0.5
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    assert cgroup_quota(tmp_path) is None


def test_the_quota_caps_the_affinity_count(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(96)))
    assert available_cpus(tmp_path) == 96  # no cgroup files: the affinity count
    (tmp_path / "cpu.max").write_text("150000 100000")
    assert available_cpus(tmp_path) == 2  # 1.5 CPUs: two workers, part-time
    (tmp_path / "cpu.max").write_text("10000 100000")
    assert available_cpus(tmp_path) == 1  # never zero


def test_more_than_64_cpus_is_fine(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(128)))
    monkeypatch.setattr("skin.cpus.cgroup_quota", lambda root=None: None)
    settings = AnalyzerSettings()
    assert settings.analyzer_workers == 128 and settings.analyzer_max_concurrent == 256


def test_affinity_set_by_taskset_is_followed():
    """A real process pinned to one CPU (as taskset or a CPU manager pins it) plans for one."""
    probe = (
        "from analyzer.settings import AnalyzerSettings; print(AnalyzerSettings().analyzer_workers)"
    )
    done = subprocess.run(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{0}}); {probe}"],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "ANALYZER_WORKERS"},
    )
    assert done.stdout.strip() == "1"
