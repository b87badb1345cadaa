"""How many CPUs this process may really use: the CPUs it is allowed to run on (affinity, as
`taskset` or a Kubernetes static CPU policy sets it), capped by the container's CPU quota
(cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`). `os.cpu_count()` is the
host's count: in a pod limited to 2 CPUs on a 96-CPU node it would start 96 analysis workers of
~190 MiB each."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_quota(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota in CPUs (1.5 for "150000 100000"), or None when there is none."""
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        if quota == "max" or not period:
            return None
        return int(quota) / int(period)
    quota_v1, period_v1 = (
        _read(root / "cpu" / "cpu.cfs_quota_us"),
        _read(root / "cpu" / "cpu.cfs_period_us"),
    )
    if quota_v1 is None or period_v1 is None or int(quota_v1) <= 0:
        return None
    return int(quota_v1) / int(period_v1)


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """Whole CPUs to plan for: the affinity count, capped by the quota rounded up (a quota of
    1.5 CPUs keeps two workers busy part-time rather than one all the time); at least 1."""
    count = _affinity()
    quota = cgroup_quota(root)
    if quota is not None:
        count = min(count, math.ceil(quota))
    return max(1, count)
