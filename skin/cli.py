"""`skinctl`: the HTTP API from a terminal, for people (progress bar, tables) and scripts
(`--json`, exit codes).

Exit codes: 0 done; 2 usage; 3 not signed in or not allowed (401/403); 4 no such task (404);
5 the request was refused (400, 409, 413, 415, 422); 6 the service is unavailable or failed
(429, 5xx, no connection); 7 the analysis ended `failed` (the photo was refused).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from skin.contracts import DECLARED_AGE_RANGE
from skin.identity import mint_token, signing_secret
from skin.settings import CommonSettings

DEFAULT_URL = "http://127.0.0.1:8080"
EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_FAILED = (
    2,
    3,
    4,
    5,
    6,
    7,
)
console, errors = Console(), Console(stderr=True)


class CommandError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(status: int) -> int:
    if status in (401, 403):
        return EXIT_AUTH
    if status == 404:
        return EXIT_NOT_FOUND
    if status == 429 or status >= 500:
        return EXIT_UNAVAILABLE
    return EXIT_REFUSED


def check(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a 2xx answer; else a CommandError with the API's own message."""
    if response.is_success:
        return response.json() if response.content else {}
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200] or response.reason_phrase
    raise CommandError(f"{response.status_code}: {message}", exit_code_for(response.status_code))


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=60
        )

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return check(self.http.request(method, path, **kwargs))
        except httpx.TransportError as exc:
            raise CommandError(
                f"cannot reach {self.http.base_url}: {type(exc).__name__} (is it running?)",
                EXIT_UNAVAILABLE,
            ) from exc

    def events(self, task_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The task's server-sent events as (event, data) until the stream ends; keep-alive
        comments are skipped."""
        try:
            with connect_sse(self.http, "GET", f"/tasks/{task_id}/events", timeout=None) as source:
                if not source.response.is_success:
                    source.response.read()
                    check(source.response)
                for event in source.iter_sse():
                    yield event.event, event.json()
        except httpx.TransportError as exc:
            message = f"the event stream broke: {type(exc).__name__}"
            raise CommandError(message, EXIT_UNAVAILABLE) from exc


def local_token() -> str:
    """Local mode: a token for a new user, signed with the checkout's dev secret."""
    secret = signing_secret(CommonSettings())
    if secret is None:
        raise CommandError("no local signing secret: pass --token or set SKINCTL_TOKEN", EXIT_AUTH)
    return mint_token(secret, str(uuid.uuid4()))


def score_table(task: dict[str, Any]) -> Table:
    table = Table(title=f"task {task['task_id']}: {task['status']}")
    for column in ("concern", "score (0-100)", "severity", "measured"):
        table.add_column(column)
    concerns = (task.get("result") or {}).get("concerns", {})
    # Most pronounced first: the stored JSON's key order says nothing.
    for name, concern in sorted(concerns.items(), key=lambda item: -item[1].get("score", 0)):
        measured = concern.get("measurement", {})
        # Results stored before schema 2.3 have no margin.
        margin = f" ± {concern['margin']:.0f}" if "margin" in concern else ""
        table.add_row(
            name.replace("_", " "),
            f"{concern.get('score', 0):.0f}{margin}",
            str(concern.get("severity", "")),
            f"{measured.get('value', '')} {measured.get('unit', '')}".strip(),
        )
    return table


def show(task: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(task) + "\n")
    elif task.get("status") == "failed":
        console.print(f"[bold]task {task['task_id']} failed:[/bold] {task.get('error')}")
    elif task.get("result"):
        console.print(score_table(task))
        console.print(
            "± is the margin: another photo of your face taken now would land within it 9 times "
            "in 10 (wider for a small, grainy, compressed or badly lit photo)."
        )
        age = (task["result"].get("age_estimate") or {}).get("years")
        if age is not None:
            console.print(f"apparent age from the photo: about {age} years")
    else:
        console.print(f"task {task['task_id']}: {task['status']}")


def follow(client: Client, task_id: str, quiet: bool) -> dict[str, Any]:
    """Follows the event stream with a progress bar; the task as it ended."""
    task: dict[str, Any] = {"task_id": task_id, "status": "queued"}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        console=errors,
        disable=quiet,
        transient=True,
    ) as bar:
        step = bar.add_task("queued", total=1.0)
        for kind, data in client.events(task_id):
            if kind == "progress":
                bar.update(
                    step,
                    completed=float(data.get("fraction", 0)),
                    description=str(data.get("message") or data.get("stage")),
                )
            elif kind == "task":
                task = data
                bar.update(step, description=task["status"])
            elif kind == "error":
                raise CommandError(
                    f"the event stream failed: {data.get('message')}", EXIT_UNAVAILABLE
                )
    return task


ARROWS = {"better": "[green]better[/green]", "worse": "[red]worse[/red]", "steady": "steady"}


def signed(points: float) -> str:
    """A change in whole points with its sign; no '-0' for a tiny fall."""
    rounded = round(points)
    return f"{rounded:+d}" if rounded else "0"


def show_comparison(comparison: dict[str, Any]) -> None:
    before, after = comparison["before"], comparison["after"]
    table = Table(title=f"{before['created_at'][:10]} -> {after['created_at'][:10]}")
    for column in (
        "concern",
        "before",
        "after",
        "change",
        "visible past",
        "direction",
        "comparable",
    ):
        table.add_column(column)
    rows = {"overall": comparison["overall"], **comparison["concerns"]}
    for name, change in rows.items():
        table.add_row(
            name.replace("_", " "),
            f"{change['before']:.0f}",
            f"{change['after']:.0f}",
            signed(change["change"]),
            f"±{change['detectable_change']:.0f}",
            ARROWS[change["direction"]],
            "yes" if change["comparable"] else "[yellow]no[/yellow]",
        )
    console.print(table)
    show_caveats(comparison)


def show_caveats(comparison: dict[str, Any]) -> None:
    for caveat in comparison["caveats"]:
        concerns = ", ".join(name.replace("_", " ") for name in caveat["concerns"])
        console.print(f"[yellow]not comparable[/yellow] ({concerns}): {caveat['message']}")
    console.print(
        "Scores are 0-100, higher is more of the concern. A change within 'visible past' (the "
        "two photos' margins added) is steady: no change you can see from these photos."
    )


def show_progress(progress: dict[str, Any]) -> None:
    analyses = progress["analyses"]
    if not analyses:
        console.print("no succeeded analyses yet: run `skinctl analyze PHOTO` first")
        return
    table = Table(title=f"your last {len(analyses)} analyses, oldest first")
    for column in ("concern", "scores", "trend (points)", "visible past", "direction"):
        table.add_column(column)
    for name, trend in progress["concerns"].items():
        scores = " ".join(
            f"{point['score']:.0f}" if point["comparable"] else f"[dim]({point['score']:.0f})[/dim]"
            for point in trend["series"]
        )
        fitted, detectable = trend["fitted_change"], trend["detectable_change"]
        table.add_row(
            name.replace("_", " "),
            scores,
            "" if fitted is None else signed(fitted),
            "" if detectable is None else f"±{detectable:.0f}",
            ARROWS[trend["direction"]],
        )
    console.print(table)
    console.print("(n): a photo not comparable with the latest for that concern, left out.")
    if progress["latest_change"]:
        show_caveats(progress["latest_change"])


def compare(client: Client, args: argparse.Namespace) -> int:
    if bool(args.before) != bool(args.after):
        raise CommandError("compare takes two task ids (before, after) or none", EXIT_USAGE)
    if args.before:
        params = {"before": args.before, "after": args.after}
        report = client.call("GET", "/progress/compare", params=params)
    else:
        report = client.call("GET", "/progress", params={"last": args.last})
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    elif args.before:
        show_comparison(report)
    else:
        show_progress(report)
    return 0


def command(args: argparse.Namespace) -> int:
    if args.command == "token":
        sys.stdout.write(local_token() + "\n")
        return 0
    client = Client(args.url, args.token or local_token())
    if args.command == "analyze":
        photo = Path(args.photo)
        if not photo.is_file():
            raise CommandError(f"{photo}: no such file", EXIT_USAGE)
        form = {"real_age": str(args.age)} if args.age is not None else {}
        files = {"image": (photo.name, photo.read_bytes(), "application/octet-stream")}
        task_id = client.call("POST", "/tasks", files=files, data=form)["task_id"]
        task = follow(client, task_id, quiet=args.json)
        if task.get("status") not in ("succeeded", "failed"):
            task = client.call("GET", f"/tasks/{task_id}")
        show(task, args.json)
        return EXIT_FAILED if task["status"] == "failed" else 0
    if args.command in ("get", "watch"):
        task = (
            follow(client, args.task, quiet=args.json)
            if args.command == "watch"
            else client.call("GET", f"/tasks/{args.task}")
        )
        show(task, args.json)
        return EXIT_FAILED if task.get("status") == "failed" else 0
    if args.command == "list":
        page = client.call("GET", "/tasks", params={"limit": args.limit})
        if args.json:
            sys.stdout.write(json.dumps(page) + "\n")
        else:
            table = Table("task", "status", "created")
            for task in page["tasks"]:
                table.add_row(task["task_id"], task["status"], task["created_at"])
            console.print(table)
        return 0
    if args.command == "compare":
        return compare(client, args)
    if args.command == "delete":
        client.call("DELETE", f"/tasks/{args.task}")
        if not args.json:
            console.print(f"deleted {args.task}")
        return 0
    if args.command == "intake":
        intake: dict[str, Any] = json.loads(Path(args.file).read_text()) if args.file else {}
        for field in ("skin_type", "minutes_per_day", "budget", "sun_exposure"):
            if getattr(args, field) is not None:
                intake[field] = getattr(args, field)
        for field in ("concerns", "allergies", "sensitivities"):
            if getattr(args, field):
                intake[field] = getattr(args, field)
        task = client.call("PUT", f"/tasks/{args.task}/intake", json=intake)
        if args.json:
            sys.stdout.write(json.dumps(task) + "\n")
        else:
            routine = task.get("routine") or {}
            for part in ("am", "pm", "weekly"):
                steps = routine.get(part, [])
                if steps:
                    console.print(
                        f"[bold]{part.upper()}[/bold]: "
                        + ", ".join(f"{step['product']} ({step['minutes']} min)" for step in steps)
                    )
            for note in routine.get("notes", []):
                console.print(f"- {note}")
        return 0
    raise CommandError(f"unknown command {args.command}", EXIT_USAGE)


def _global_options(parser: argparse.ArgumentParser, with_defaults: bool) -> None:
    """--url, --token and --json. The root parser holds their defaults; each command's parser
    takes them too, with no default of its own, so `skinctl get ID --json` means what
    `skinctl --json get ID` does (as gh and kubectl take them) and an option given before the
    command is not reset by the command's parser."""

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    url = os.environ.get("SKINCTL_URL", DEFAULT_URL)
    parser.add_argument(
        "--url", default=default(url), help=f"the gateway (SKINCTL_URL; default {url})"
    )
    parser.add_argument(
        "--token",
        default=default(os.environ.get("SKINCTL_TOKEN")),
        help="access token (SKINCTL_TOKEN); local mode mints one when unset",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON for scripts"
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="skinctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _global_options(root, with_defaults=True)
    options = argparse.ArgumentParser(add_help=False)
    _global_options(options, with_defaults=False)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("token", help="mint a local-mode token for a new user", parents=[options])
    analyze = commands.add_parser(
        "analyze", help="upload a photo and follow its analysis", parents=[options]
    )
    analyze.add_argument("photo")
    analyze.add_argument(
        "--age", type=int, help=f"the age you declare ({DECLARED_AGE_RANGE} years)"
    )
    for name, text in (
        ("get", "show a task"),
        ("watch", "follow a task to its end"),
        ("delete", "delete a task"),
    ):
        commands.add_parser(name, help=text, parents=[options]).add_argument("task")
    listing = commands.add_parser("list", help="your tasks, newest first", parents=[options])
    listing.add_argument("--limit", type=int, default=20)
    comparing = commands.add_parser(
        "compare",
        help="progress over time: two analyses side by side, or with no ids the trend of "
        "each concern over your last analyses",
        parents=[options],
    )
    comparing.add_argument("before", nargs="?", help="the earlier task")
    comparing.add_argument("after", nargs="?", help="the later task")
    comparing.add_argument("--last", type=int, default=10, help="analyses in the trend (1-50)")
    intake = commands.add_parser(
        "intake", help="send the intake form; prints the routine", parents=[options]
    )
    intake.add_argument("task")
    intake.add_argument("--file", help="the intake as a JSON file (flags override it)")
    intake.add_argument("--skin-type", dest="skin_type")
    intake.add_argument("--minutes-per-day", dest="minutes_per_day", type=int)
    intake.add_argument("--budget")
    intake.add_argument("--sun-exposure", dest="sun_exposure")
    intake.add_argument("--concern", dest="concerns", action="append")
    intake.add_argument("--allergy", dest="allergies", action="append")
    intake.add_argument("--sensitivity", dest="sensitivities", action="append")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return command(args)
    except CommandError as exc:
        errors.print(f"skinctl: {exc}")
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
