"""Make the demo's bundled inputs (``sadtalker_core/assets/``): a portrait and a short speech clip.

* ``portrait.png``: the face of scikit-image's astronaut picture (public domain, NASA), a square
  around the face dlib finds, 256 x 256;
* ``speech.wav``: a sentence spoken by espeak-ng (``apt-get install espeak-ng``), silence trimmed,
  resampled to 16 kHz mono 16-bit.

Run once from the repository root (``python scripts/make_demo_assets.py``) and commit the files;
``python -m sadtalker_core demo`` renders them.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import cv2
import librosa
import numpy as np
import skimage.data
import soundfile

from sadtalker_core.motion.audio import load_wav
from sadtalker_core.source.dlib_detector import DlibDetector
from sadtalker_core.source.landmarks import pick_face

ASSETS = Path(__file__).resolve().parents[1] / "sadtalker_core" / "assets"
SENTENCE = "Hello! I am a talking portrait."
PORTRAIT_SIZE = 256
FACE_MARGIN = 2.2  # side of the square cut, in face-box widths
SAMPLE_RATE = 16_000
TRIM_DB = 40  # silence below this many dB under the peak is trimmed from both ends


def portrait() -> np.ndarray:
    """The astronaut's face: a square of ``FACE_MARGIN`` face widths around dlib's face box."""
    image = skimage.data.astronaut()
    x1, y1, x2, y2 = pick_face(DlibDetector().detect(image), image_name="skimage astronaut").box
    side = min(round((x2 - x1) * FACE_MARGIN), *image.shape[:2])
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(np.clip(round(cx - side / 2), 0, image.shape[1] - side))
    top = int(np.clip(round(cy - side / 2), 0, image.shape[0] - side))
    square = image[top:top + side, left:left + side]
    return cv2.resize(square, (PORTRAIT_SIZE, PORTRAIT_SIZE), interpolation=cv2.INTER_AREA)


def speech(text: str = SENTENCE) -> np.ndarray:
    """``text`` spoken by espeak-ng as float32 16 kHz mono, leading / trailing silence trimmed."""
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
        wav = load_wav(raw)
    trimmed, _ = librosa.effects.trim(wav, top_db=TRIM_DB)
    return trimmed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSETS, help=f"folder to write to (default {ASSETS})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out / "portrait.png"), cv2.cvtColor(portrait(), cv2.COLOR_RGB2BGR))
    wav = speech()
    soundfile.write(args.out / "speech.wav", wav, SAMPLE_RATE, subtype="PCM_16")
    for name in ("portrait.png", "speech.wav"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size // 1024} KB")
    print(f"speech: {len(wav) / SAMPLE_RATE:.2f} s")


if __name__ == "__main__":
    main()
