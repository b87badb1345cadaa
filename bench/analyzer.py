"""Analyzer benchmark: time per photo at ~1 MP and 12 MP beside a plain full-size decode of the
same 12 MP JPEG, throughput with all cores, and peak memory per analysis.

Run: `make bench-analyzer` (or `.venv/bin/python -m bench.analyzer --help`). The photos are the
scikit-image astronaut portrait (public domain, shipped in the wheel) scaled up and framed to
4:3, saved as camera-like JPEGs. The ratio to the plain decode, measured in the same run, is the
figure to compare across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

from analyzer.pipeline.decode import decode_photo
from analyzer.pipeline.face_model import FaceModel
from analyzer.pipeline.run import analyze
from analyzer.workers import AnalysisPool
from bench.report import write_json


def camera_jpeg(width: int, height: int, noise: float = 0.0) -> bytes:
    """The portrait scaled to the frame's height, widened to 4:3 by mirroring its edges; with
    `noise`, Gaussian sensor-like noise (grey levels) so the file is as large as a camera's."""
    face = cv2.resize(data.astronaut(), (height, height), interpolation=cv2.INTER_CUBIC)
    pad = (width - height) // 2
    framed = cv2.copyMakeBorder(face, 0, 0, pad, width - height - pad, cv2.BORDER_REFLECT)
    if noise:
        grain = np.random.default_rng(7).normal(0, noise, framed.shape)
        framed = np.clip(framed + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(framed).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def timed(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall ms and mean CPU ms (this process, every thread) of `repeats` runs, after
    one warm-up."""
    work()
    walls = []
    cpu_before = time.process_time()
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        walls.append(1e3 * (time.perf_counter() - started))
    return statistics.median(walls), 1e3 * (time.process_time() - cpu_before) / repeats


def median_ms(work: Callable[[], object], repeats: int) -> float:
    return timed(work, repeats)[0]


def full_decode(image: bytes) -> None:
    with Image.open(io.BytesIO(image)) as photo:
        photo.load()


def peak_memory_mib(work: Callable[[], object]) -> float:
    """Peak memory one analysis allocates beyond what was held before it: tracemalloc sees
    Python's and NumPy's allocations, which hold the images (OpenCV returns NumPy arrays);
    the models' own memory, loaded once per worker, is not counted."""
    work()
    tracemalloc.start()
    try:
        work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


async def throughput(image: bytes, workers: int, count: int) -> float:
    pool = AnalysisPool(workers, max_concurrent=2 * workers)
    await pool.start()
    try:

        async def one() -> None:
            async for _kind, _payload in pool.run(image, 40):
                pass

        await asyncio.gather(*(one() for _ in range(workers)))  # warm-up
        started = time.perf_counter()
        for _ in range(count // (2 * workers)):
            await asyncio.gather(*(one() for _ in range(2 * workers)))
        done = (count // (2 * workers)) * 2 * workers
        return done / (time.perf_counter() - started)
    finally:
        pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per figure")
    parser.add_argument("--count", type=int, default=24, help="analyses for the throughput figure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    model = FaceModel()
    photos = {
        "1 MP (1152x864)": camera_jpeg(1152, 864),
        "12 MP (4032x3024)": camera_jpeg(4032, 3024),
        "12 MP with sensor noise": camera_jpeg(4032, 3024, noise=3.0),
    }
    twelve = photos["12 MP (4032x3024)"]

    def analysis(image: bytes) -> Callable[[], object]:
        return lambda: analyze(image, 40, model, lambda *_: None)

    decode_ms = median_ms(lambda: full_decode(twelve), args.repeats)
    noisy_decode_ms = median_ms(
        lambda: full_decode(photos["12 MP with sensor noise"]), args.repeats
    )
    noisy = photos["12 MP with sensor noise"]
    # The analysis's own first step (a reduced-size draft decode and the working copy): the
    # part of its cost that grows with the file, shown so the rest can be read off.
    rows = [
        ("Pillow full-size decode, 12 MP", decode_ms, decode_ms),
        ("analyzer's decode stage, 12 MP", median_ms(lambda: decode_photo(twelve), args.repeats),
         decode_ms),
    ]  # fmt: skip
    rows += [
        (f"analysis, {name}", median_ms(analysis(image), args.repeats), decode_ms)
        for name, image in list(photos.items())[:2]
    ]
    rows += [
        ("Pillow full-size decode, noisy 12 MP", noisy_decode_ms, noisy_decode_ms),
        ("analyzer's decode stage, noisy 12 MP",
         median_ms(lambda: decode_photo(noisy), args.repeats), noisy_decode_ms),
        ("analysis, noisy 12 MP", median_ms(analysis(noisy), args.repeats), noisy_decode_ms),
    ]  # fmt: skip
    memory = {name: peak_memory_mib(analysis(image)) for name, image in photos.items()}
    cores = os.cpu_count() or 1
    rate = asyncio.run(throughput(twelve, cores, args.count))

    print(f"\nanalyzer benchmark ({cores} cores), ratios against a plain full-size decode of the")
    print("same kind of 12 MP JPEG, measured in the same run")
    print(f"{'what':<38} {'median ms':>10} {'x decode':>9}")
    print("-" * 59)
    for name, ms, baseline in rows:
        print(f"{name:<38} {ms:>10.1f} {ms / baseline:>9.2f}")
    print(f"\nthroughput, 12 MP, {cores} worker processes: {rate:.1f} photos/s")
    for name, mib in memory.items():
        print(f"peak extra memory per analysis, {name}: {mib:.0f} MiB")
    print(
        "JPEG sizes: "
        + ", ".join(f"{name} {len(image) / 1e6:.1f} MB" for name, image in photos.items())
    )
    write_json(
        args.json,
        {
            "rows": [
                {"what": name, "median_ms": ms, "baseline_ms": baseline}
                for name, ms, baseline in rows
            ],
            "photos_per_s": rate,
            "workers": cores,
            "peak_mib": memory,
        },
    )


if __name__ == "__main__":
    main()
