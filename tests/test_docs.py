"""The repository explains itself: every link in the README and docs/ resolves inside the
checkout, and none points at a workspace outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skin.settings import PROJECT_ROOT

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target); a target up to whitespace, a title or the closing bracket.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)")
# Paths named in backticks that look like files of this repository (`docs/x.md`, `skin/...`).
NAMED_PATH = re.compile(
    r"`((?:docs|skin|gateway|storage|analyzer|tests|protos|deploy)/[^`*<>\s]+)`"
)


def local_targets(document: Path) -> list[str]:
    return [
        target.split("#")[0]
        for target in LINK.findall(document.read_text())
        if not re.match(r"[a-z]+:", target) and not target.startswith("#")
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_link_resolves_inside_the_repository(document):
    text = document.read_text()
    assert "../shared" not in text and "DESIGN.md" not in text
    for target in local_targets(document):
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(PROJECT_ROOT), f"{document.name}: {target} leaves the repo"
        assert resolved.exists(), f"{document.name}: {target} does not exist"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_files_the_documents_name_exist(document):
    missing = [
        path
        for path in NAMED_PATH.findall(document.read_text())
        if not (PROJECT_ROOT / path.rstrip("/.,:")).exists()
        and not any(char in path for char in "{}…")
    ]
    assert missing == [], f"{document.name} names files that are not there: {missing}"
