"""`python -m skin.sample_selfie [PATH]`: writes a selfie the analyzer accepts, made from a
portrait that ships inside an installed package (NASA's public-domain photo of Eileen Collins,
in scikit-image's data), scaled so the face is large enough; `selfie.jpg` by default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
from PIL import Image

SIDE = 1024  # px: the face is then ~210 px wide, above the analyzer's minimum


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", default="selfie.jpg", type=Path)
    args = parser.parse_args(argv)
    try:
        from skimage import data
    except ImportError:
        sys.stderr.write("scikit-image is not installed: run `make run` or `make test` first\n")
        return 2
    portrait = cv2.resize(data.astronaut(), (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(portrait).save(args.path, "JPEG", quality=92)
    sys.stdout.write(f"{args.path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
