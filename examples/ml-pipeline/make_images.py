#!/usr/bin/env python3
"""Write the bundled digit PNGs from scikit-learn's digits dataset (run once, commit the PNGs).

Why from the dataset: it gives real handwriting with a known label, no download.
Each image is a held-out sample (not used to train `classify`), upscaled to
256x256 with bicubic smoothing and drawn as dark ink on white, like a scan.

Usage: python3 make_images.py   (needs requirements.txt installed)
"""
from __future__ import annotations

import os

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from classify import HELD_OUT

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 256


def main() -> None:
    digits = load_digits()
    first = len(digits.target) - HELD_OUT
    for label in (3, 7):
        index = first + int(np.flatnonzero(digits.target[first:] == label)[0])
        ink = digits.images[index] * (255.0 / 16.0)
        img = Image.fromarray((255 - ink).round().astype(np.uint8))  # 2-D uint8: mode L
        img = img.resize((SIZE, SIZE), Image.Resampling.BICUBIC)
        img.save(os.path.join(HERE, f"digit-{label}.png"), optimize=True)
        print(f"digit-{label}.png: dataset sample {index}")


if __name__ == "__main__":
    main()
