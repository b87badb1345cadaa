"""Scaling benchmark: analyses per second with 1 and 2 worker processes, and what one analysis
costs as the photo grows (1, 3, 12 and 24 MP), beside a plain full-size decode of each photo.

Run: `make bench-scaling` (or `.venv/bin/python -m bench.scaling --help`). The photos are the
bench's camera-like JPEGs (the scikit-image astronaut portrait with sensor noise). Prints two
tables and writes build/bench/scaling.png; docs/deploy.md turns the figures into a capacity
model per core.

- Workers: the analyzer's own process pool (analyzer/workers.py) on the 12 MP photo, each
  worker count kept busy with two analyses per worker; speed-up and efficiency are against one
  worker in the same run.
- Size: one analysis at a time in this process. Wall time is the median of the repeats; CPU
  time is this process's user and system time over the same runs (every thread TFLite and
  OpenCV start included), divided by the runs: the figure capacity is planned with.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from PIL import Image

from analyzer.pipeline.face_model import FaceModel
from analyzer.pipeline.run import analyze
from bench.analyzer import camera_jpeg, full_decode, throughput, timed
from bench.report import write_json

ROOT = Path(__file__).resolve().parents[1]
SIZES = {1: (1152, 864), 3: (2016, 1512), 12: (4032, 3024), 24: (5664, 4248)}


@dataclass
class SizeCost:
    megapixels: float
    jpeg_mb: float
    decode_ms: float
    analysis_ms: float
    analysis_cpu_ms: float

    @property
    def per_decode(self) -> float:
        return self.analysis_ms / self.decode_ms


@dataclass
class WorkerRate:
    workers: int
    analyses_per_s: float


def size_costs(repeats: int) -> list[SizeCost]:
    model = FaceModel()
    costs = []
    for width, height in SIZES.values():
        photo = camera_jpeg(width, height, noise=3.0)
        decode_ms, _ = timed(partial(full_decode, photo), repeats)
        analysis_ms, cpu_ms = timed(partial(analyze, photo, 40, model, lambda *_: None), repeats)
        with Image.open(io.BytesIO(photo)) as opened:
            actual = opened.width * opened.height / 1e6
        costs.append(SizeCost(actual, len(photo) / 1e6, decode_ms, analysis_ms, cpu_ms))
    return costs


def worker_rates(count: int) -> list[WorkerRate]:
    photo = camera_jpeg(*SIZES[12], noise=3.0)
    most = max(2, os.cpu_count() or 1)
    counts = sorted({1, 2, most}) if most > 2 else [1, 2]
    return [WorkerRate(n, asyncio.run(throughput(photo, n, count))) for n in counts]


def print_tables(rates: list[WorkerRate], costs: list[SizeCost]) -> None:
    cores = os.cpu_count() or 1
    one = rates[0].analyses_per_s
    print(f"\nworkers ({cores} cores), 12 MP camera-like JPEG, two analyses in flight per worker")
    print(f"{'workers':>7} {'analyses/s':>11} {'speed-up':>9} {'efficiency':>11}")
    print("-" * 41)
    for rate in rates:
        speedup = rate.analyses_per_s / one
        print(
            f"{rate.workers:>7} {rate.analyses_per_s:>11.2f} {speedup:>8.2f}x"
            f" {speedup / rate.workers:>10.0%}"
        )
    print("\ncost of one analysis as the photo grows (one at a time)")
    header = (
        f"{'photo':>8} {'JPEG MB':>8} {'decode ms':>10} {'analysis ms':>12} {'x decode':>9}"
        f" {'CPU ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for cost in costs:
        print(
            f"{cost.megapixels:>6.1f}MP {cost.jpeg_mb:>8.1f} {cost.decode_ms:>10.1f}"
            f" {cost.analysis_ms:>12.1f} {cost.per_decode:>9.2f} {cost.analysis_cpu_ms:>8.0f}"
        )


def chart(rates: list[WorkerRate], costs: list[SizeCost], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4))
    workers = [rate.workers for rate in rates]
    left.plot(workers, [rate.analyses_per_s for rate in rates], "o-", label="measured")
    left.plot(workers, [rates[0].analyses_per_s * n for n in workers], "--", label="linear")
    left.set_xticks(workers)
    left.set_xlabel("worker processes")
    left.set_ylabel("analyses per second (12 MP)")
    left.legend()
    megapixels = [cost.megapixels for cost in costs]
    right.plot(megapixels, [cost.analysis_ms for cost in costs], "o-", label="analysis")
    right.plot(megapixels, [cost.analysis_cpu_ms for cost in costs], "s:", label="analysis CPU")
    right.plot(megapixels, [cost.decode_ms for cost in costs], "^--", label="full decode")
    right.set_xlabel("megapixels")
    right.set_ylabel("ms per photo")
    right.legend()
    figure.suptitle(f"analyzer scaling on {os.cpu_count()} cores")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per photo size")
    parser.add_argument("--count", type=int, default=16, help="analyses per worker count")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--chart", type=Path, default=ROOT / "build" / "bench" / "scaling.png", help="PNG path"
    )
    args = parser.parse_args()
    rates = worker_rates(args.count)
    costs = size_costs(args.repeats)
    print_tables(rates, costs)
    chart(rates, costs, args.chart)
    print(f"\nwritten: {args.chart}")
    write_json(
        args.json,
        {
            "workers": [asdict(rate) for rate in rates],
            "sizes": [asdict(cost) | {"per_decode": cost.per_decode} for cost in costs],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
