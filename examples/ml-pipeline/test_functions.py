#!/usr/bin/env python3
"""Unit checks of the ML pipeline: `python3 test_functions.py` with requirements.txt installed.

Why these: resize must reproduce the digits dataset's 8x8 layout (or the model
sees garbage), the intermediate state must stay numpy, and classify must return
plain JSON types and a model that is actually accurate on held-out digits.
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import classify  # noqa: E402
import resize  # noqa: E402

DIGITS = load_digits()
BUNDLED = {"digit-3.png": 1712, "digit-7.png": 1710}  # dataset samples, see make_images.py


def test_features_follow_the_dataset_layout() -> None:
    white = Image.new("L", (256, 256), 255)
    assert np.allclose(resize.to_features(white), 0.0)  # paper is 0
    assert np.allclose(resize.to_features(Image.new("L", (256, 256), 0)), 16.0)  # ink is 16
    half = white.copy()
    half.paste(0, (0, 0, 128, 256))  # left half inked
    f = resize.to_features(half)
    assert f.shape == (8, 8) and np.allclose(f[:, :4], 16.0) and np.allclose(f[:, 4:], 0.0)


def test_resize_returns_numpy_state() -> None:
    for name, index in BUNDLED.items():
        out = resize.handler({"image": name}, None)
        assert out["pixels"].shape == (256, 256) and out["pixels"].dtype == np.uint8
        assert out["features"].shape == (8, 8)
        # bicubic upscaling then box averaging stays close to the original sample
        assert np.abs(out["features"] - DIGITS.images[index]).mean() < 1.0


def test_resize_refuses_paths_outside_the_app() -> None:
    try:
        resize.handler({"image": "../../etc/passwd"}, None)
    except FileNotFoundError:
        return
    raise AssertionError("expected FileNotFoundError")


def test_classify_is_accurate_on_held_out_digits() -> None:
    held = slice(-classify.HELD_OUT, None)
    accuracy = (classify.MODEL.predict(DIGITS.data[held]) == DIGITS.target[held]).mean()
    assert accuracy >= 0.9, accuracy


def test_classify_output_is_plain_json() -> None:
    out = classify.handler({"features": DIGITS.images[1710]}, None)
    assert out["digit"] == 7 and 0.5 < out["confidence"] <= 1.0
    assert type(out["digit"]) is int and type(out["confidence"]) is float
    json.dumps(out)


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
