"""ML pipeline step 1: load a scanned digit and shrink it to the model's 8x8 input.

Why it returns numpy arrays: this is the large intermediate state. The decoded
image (256x256) and the features travel to `classify` as the same Python
objects, without being serialized, which is the point of running both steps in
one process. The features follow scikit-learn's digits layout: 8x8, ink = 16,
paper = 0.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))


def to_features(img: Image.Image) -> np.ndarray:
    """Grayscale, invert (dark ink on white paper -> bright ink), box-average to 8x8, scale to 0..16."""
    gray = ImageOps.invert(img.convert("L"))
    small = gray.resize((8, 8), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64) * (16.0 / 255.0)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: event["image"] names a PNG in this directory."""
    name = os.path.basename(event["image"])  # a file of this app, never a path outside it
    with Image.open(os.path.join(HERE, name)) as img:
        pixels = np.asarray(img.convert("L"))
        features = to_features(img)
    return {"image": name, "pixels": pixels, "features": features}
