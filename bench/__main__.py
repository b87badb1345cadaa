"""`make bench` (`python -m bench`): every benchmark in turn, each printing its own table, then
one table of the goals: each figure beside its baseline measured in the same run, the ratio,
and the goal. Writes build/bench/results.json (every figure, for comparing versions) and
build/bench/ratios.png (the ratios against their goals).

The storage and gateway benchmarks need h2load (`apt-get install nghttp2-client`) and
pgbench (`postgresql-contrib`); without them their rows say so and the rest still runs."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.cpu import machine_ceiling, thread_ceiling

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "bench"
# name -> (module, arguments, tools it needs)
RUNS: dict[str, tuple[str, list[str], tuple[str, ...]]] = {
    "storage": ("bench.storage", [], ("h2load", "pgbench")),
    "analyzer": ("bench.analyzer", [], ()),
    "gateway": ("bench.gateway", [], ("h2load",)),
    "end_to_end": ("bench.end_to_end", ["--users", "4", "--tasks", "48"], ()),
    "uploads_32": ("bench.end_to_end", ["--users", "32", "--tasks", "64"], ()),
    "scaling": ("bench.scaling", ["--chart", str(OUT / "scaling.png")], ()),
}


@dataclass
class Goal:
    figure: str
    value: float | None
    baseline: str
    baseline_value: float | None
    goal: str
    ratio: float | None = None
    met: bool | None = None


def run(name: str, quick: bool) -> dict[str, Any] | None:
    module, arguments, tools = RUNS[name]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        print(f"\n{name}: not run, {' and '.join(missing)} missing", flush=True)
        return None
    path = OUT / f"{name}.json"
    path.unlink(missing_ok=True)
    extra = ["--seconds", "2"] if quick and name in ("storage", "gateway") else []
    print(f"\n=== {name} ===", flush=True)
    subprocess.run(
        [sys.executable, "-m", module, *arguments, *extra, "--json", str(path)],
        cwd=ROOT,
        check=False,
    )
    return json.loads(path.read_text()) if path.exists() else None


def _row(results: list[dict[str, Any]], name: str, clients: int) -> dict[str, Any]:
    """One benchmark cell, or {} when it was not run."""
    return next((r for r in results if r["name"] == name and r["clients"] == clients), {})


def rate(results: list[dict[str, Any]], name: str, clients: int) -> float | None:
    found = _row(results, name, clients).get("rate")
    return None if found is None else float(found)


def cpu_ms(results: list[dict[str, Any]], name: str, clients: int) -> dict[str, float]:
    return dict(_row(results, name, clients).get("cpu_ms") or {})


def thread_ms(
    results: list[dict[str, Any]], name: str, clients: int, thread: str = "main thread"
) -> float | None:
    return cpu_ms(results, name, clients).get(thread)


def goals(figures: dict[str, dict[str, Any] | None]) -> list[Goal]:
    found: list[Goal] = []

    def at_least(figure: str, value: Any, baseline: str, base: Any, floor: float) -> None:
        ratio = value / base if value is not None and base else None
        met = None if ratio is None else ratio >= floor
        found.append(Goal(figure, value, baseline, base, f">= {floor:.2f}x", ratio, met))

    end = figures.get("end_to_end")
    if end:
        at_least(
            "end-to-end tasks/s (4 users, 12 MP)", end["end_to_end"]["tasks_per_s"],
            "analyzer alone over gRPC", end["analyzer_alone"]["tasks_per_s"], 0.8,
        )  # fmt: skip
    storage = figures.get("storage")
    if storage:
        results = storage["results"]
        get, noop = rate(results, "GetTask", 8), rate(results, "no-op GetTask", 8)
        at_least("storage GetTask/s (8 clients)", get, "no-op RPC, same stack", noop, 0.5)
        pgbench = rate(results, "pgbench -S", 8)
        ratio = get / pgbench if get is not None and pgbench else None
        found.append(Goal("storage GetTask/s (8 clients)", get, "pgbench -S", pgbench,
                          "reported", ratio))  # fmt: skip
        # The rate ratio's ceiling while each server's main thread is its limit.
        get_ms, noop_ms = thread_ms(results, "GetTask", 8), thread_ms(results, "no-op GetTask", 8)
        if get_ms and noop_ms:
            ceiling = thread_ceiling(get_ms, noop_ms)
            figure = "  ceiling: main thread CPU ms a GetTask"
            found.append(Goal(figure, get_ms, "no-op's main thread", noop_ms, "reported", ceiling))
    gateway = figures.get("gateway")
    if gateway:
        results = gateway["results"]
        at_least(
            "gateway GET /tasks/{id}/s (8 clients)", rate(results, "gateway GET", 8),
            "storage GetTask, same run", rate(results, "storage GetTask", 8), 0.8,
        )  # fmt: skip
        # Its ceiling: a GET needs all three processes on the machine's cores, while storage
        # alone is held by its main thread.
        get_cpu = cpu_ms(results, "gateway GET", 8)
        held_ms = thread_ms(results, "storage GetTask", 8, "storage main thread")
        if get_cpu and held_ms:
            spent, ceiling = machine_ceiling(get_cpu, held_ms, os.cpu_count() or 1)
            figure = "  ceiling: CPU ms a GET, all processes"
            found.append(Goal(figure, spent, "storage's main thread", held_ms, "reported", ceiling))
    analyzer = figures.get("analyzer")
    if analyzer:
        rows = {row["what"]: row for row in analyzer["rows"]}
        for what in ("analysis, 12 MP (4032x3024)", "analysis, noisy 12 MP"):
            row = rows[what]
            ratio = row["median_ms"] / row["baseline_ms"]
            found.append(
                Goal(f"{what}, ms", row["median_ms"], "Pillow full decode",
                     row["baseline_ms"], "<= 1.00x", ratio, ratio <= 1.0)
            )  # fmt: skip
        # The analysis's own decode, its floor: what is left of the goal for everything else.
        for what in ("analyzer's decode stage, 12 MP", "analyzer's decode stage, noisy 12 MP"):
            if row := rows.get(what):
                found.append(
                    Goal(f"{what}, ms", row["median_ms"], "Pillow full decode",
                         row["baseline_ms"], "reported", row["median_ms"] / row["baseline_ms"])
                )  # fmt: skip
    scaling = figures.get("scaling")
    if scaling and len(scaling["workers"]) > 1:
        one, two = scaling["workers"][0], scaling["workers"][1]
        found.append(
            Goal("analyses/s, 2 worker processes (12 MP)", two["analyses_per_s"],
                 "1 worker process", one["analyses_per_s"], "reported",
                 two["analyses_per_s"] / one["analyses_per_s"])
        )  # fmt: skip
    uploads = figures.get("uploads_32")
    if uploads:
        peaks = uploads["end_to_end"]["peak_mib"]
        total = peaks["gateway"] + peaks["analyzer"]
        found.append(
            Goal("gateway + analyzer peak MiB, 32 users", total, "goal 1536 MiB", 1536.0,
                 "<= 1.00x", total / 1536, total <= 1536)
        )  # fmt: skip
    return found


def figure_text(value: float | None) -> str:
    """One decimal, or three significant digits below 10 (CPU milliseconds per call)."""
    if value is None:
        return "-"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def print_goals(found: list[Goal]) -> None:
    print(f"\nthe goals, each against a baseline measured in the same run ({os.cpu_count()} cores)")
    header = f"{'figure':<42} {'value':>9}  {'baseline':<26} {'value':>9} {'ratio':>6} {'goal':>9}"
    print(header)
    print("-" * len(header))
    for goal in found:
        value, base = figure_text(goal.value), figure_text(goal.baseline_value)
        ratio = "-" if goal.ratio is None else f"{goal.ratio:.2f}x"
        mark = {True: "met", False: "MISSED", None: ""}[goal.met]
        print(
            f"{goal.figure:<42} {value:>9}  {goal.baseline:<26} {base:>9} {ratio:>6} "
            f"{goal.goal:>9} {mark}"
        )


def chart(found: list[Goal], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    shown = [goal for goal in found if goal.ratio is not None and goal.goal != "reported"]
    figure, axes = pyplot.subplots(figsize=(9, 0.6 * len(shown) + 1.5))
    labels = [goal.figure for goal in shown]
    colours = ["#146c2e" if goal.met else "#c0162c" for goal in shown]
    axes.barh(labels, [goal.ratio or 0.0 for goal in shown], color=colours)
    for index, goal in enumerate(shown):
        target = float(goal.goal.split()[1].rstrip("x"))
        axes.plot([target, target], [index - 0.4, index + 0.4], color="black", linewidth=2)
    axes.set_xlabel("ratio to the baseline measured in the same run (black: the goal)")
    axes.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated: " + ",".join(RUNS))
    parser.add_argument("--quick", action="store_true", help="shorter storage/gateway cells")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(RUNS)
    figures = {name: run(name, args.quick) for name in names}
    found = goals(figures)
    print_goals(found)
    summary = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "goals": [asdict(goal) for goal in found],
        "figures": figures,
    }
    (OUT / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    if found:
        chart(found, OUT / "ratios.png")
    print(f"\nwritten: {OUT / 'results.json'}, {OUT / 'ratios.png'}, {OUT / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
