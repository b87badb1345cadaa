"""`python -m reliability [--quick]`: starts the system as separate processes on an embedded
PostgreSQL, runs every fault, load and fuzz case against it, and prints one table (case, tries,
outcome). Exits 1 when a case fails. About 10 minutes; `--quick` runs a short version."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from reliability import cases
from reliability.stack import SERVICES, Stack


async def run(quick: bool) -> list[cases.Outcome]:
    workdir = Path(tempfile.mkdtemp(prefix="skin-reliability-"))
    stack = Stack(workdir)
    outcomes: list[cases.Outcome] = []
    try:
        await asyncio.to_thread(stack.start_all)
        steps = [
            lambda: asyncio.to_thread(cases.decoder_fuzz, 200 if quick else 3000),
            *[lambda name=name: cases.kill_nine(stack, name) for name in SERVICES],
            lambda: cases.database_outage(stack, 5 if quick else 15),
            *([] if quick else [lambda: cases.database_outage(stack, 45)]),
            *[lambda name=name: cases.graceful_stop(stack, name) for name in SERVICES],
            lambda: cases.crowd(stack, 20 if quick else 200, 10 if quick else 60),
            lambda: cases.large_uploads(stack, 12 if quick else 40),
            lambda: cases.stream_cap(stack),
            lambda: cases.contract(stack, 10 if quick else 50, 60 if quick else 240),
            lambda: cases.load_balancing(workdir / "scaling"),
        ]
        for step in steps:
            started = time.monotonic()
            try:
                outcome = await step()
            except Exception as exc:  # noqa: BLE001 - a case that breaks is a failed case
                outcome = cases.Outcome(getattr(step, "__name__", "case"), 0, False, repr(exc))
            outcome.detail += f" ({time.monotonic() - started:.0f} s)"
            outcomes.append(outcome)
            print(
                f"{'pass' if outcome.passed else 'FAIL'}  {outcome.case}: {outcome.detail}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        await asyncio.to_thread(stack.stop_all)
        shutil.rmtree(workdir, ignore_errors=True)
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (about 2 minutes)")
    args = parser.parse_args()
    outcomes = asyncio.run(run(args.quick))
    table = Table(title="reliability: what the system promises, under faults and load")
    for column in ("case", "tries", "outcome", "detail"):
        table.add_column(column)
    for outcome in outcomes:
        table.add_row(
            outcome.case, str(outcome.tries), "pass" if outcome.passed else "FAIL", outcome.detail
        )
    Console(width=160).print(table)
    return 0 if all(outcome.passed for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
