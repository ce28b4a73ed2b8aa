"""The demo's preprocessing, in CPython (the browser runs the same file in Pyodide)."""

from __future__ import annotations

import math
from array import array

import pytest
from digits.preprocess import block_counts, dilate, image_features, ink_box, resample, stroke_width


def canvas(
    width: int, height: int, strokes: list[tuple[int, int, int, int]], value: int = 255
) -> dict:
    """An image with filled rectangles (x0, y0, x1, y1) of ink."""
    pixels = [0] * (width * height)
    for x0, y0, x1, y1 in strokes:
        for y in range(y0, y1):
            for x in range(x0, x1):
                pixels[y * width + x] = value
    return {"width": width, "height": height, "pixels": pixels}


def close(a: list[float], b: list[float], tolerance: float) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= tolerance


def test_features_are_64_values_in_the_training_range():
    features = image_features(canvas(40, 40, [(18, 5, 22, 35), (10, 5, 30, 9)]))
    assert len(features) == 64
    assert min(features) >= 0 and max(features) == 16


def test_a_blank_image_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="blank"):
        image_features(canvas(10, 10, []))
    with pytest.raises(ValueError, match="blank"):
        image_features(canvas(10, 10, [(0, 0, 10, 10)], value=10))  # below the ink threshold


def test_position_and_size_do_not_matter():
    small = canvas(50, 50, [(10, 10, 14, 40), (10, 10, 30, 14)])
    moved = canvas(200, 120, [(110, 40, 114, 70), (110, 40, 130, 44)])
    scaled = canvas(200, 200, [(40, 40, 56, 160), (40, 40, 120, 56)])
    assert close(image_features(small), image_features(moved), 1e-6)
    assert close(image_features(small), image_features(scaled), 0.6)


def test_the_aspect_ratio_is_kept():
    bar = image_features(canvas(100, 100, [(45, 10, 55, 90)]))
    columns_with_ink = {i % 8 for i, v in enumerate(bar) if v > 1}
    assert len(columns_with_ink) <= 4, "a thin vertical bar must not be stretched to full width"
    assert {i // 8 for i, v in enumerate(bar) if v > 1} == set(range(8))


def test_thin_and_thick_pens_give_similar_features():
    thin = image_features(canvas(280, 280, [(136, 30, 144, 250)]))
    thick = image_features(canvas(280, 280, [(125, 30, 155, 250)]))
    assert close(thin, thick, 4.0)
    assert sum(abs(a - b) for a, b in zip(thin, thick, strict=True)) < 0.25 * sum(thick)


def test_accepts_bytes_like_pixels_from_the_browser():
    image = canvas(30, 30, [(10, 5, 14, 25)])
    as_bytes = dict(image, pixels=memoryview(bytes(image["pixels"])))
    assert image_features(as_bytes) == image_features(image)


def test_ink_box_is_tight():
    assert ink_box(10, 10, canvas(10, 10, [(2, 3, 5, 9)])["pixels"]) == (2, 3, 5, 9)
    assert ink_box(10, 10, [0] * 100) is None


def test_resample_preserves_mean_coverage():
    image = canvas(64, 64, [(0, 0, 32, 64)])
    grid = resample(64, 64, image["pixels"], 0, 0, 64, 8)
    assert [round(v, 6) for v in grid[0]] == [1.0] * 4 + [0.0] * 4


def test_stroke_width_measures_bars():
    for width in (2, 4, 6):
        grid = [
            [1.0 if 10 <= x < 10 + width and 2 <= y < 30 else 0.0 for x in range(32)]
            for y in range(32)
        ]
        assert math.isclose(stroke_width(grid), width, rel_tol=0.2)


def test_dilate_grows_ink_by_the_radius():
    grid = [[0.0] * 9 for _ in range(9)]
    grid[4][4] = 1.0
    grown = dilate(grid, 2)
    assert grown[4][2] == grown[2][4] == grown[4][6] == 1.0
    assert grown[2][2] == 0.0  # a disc, not a square


def test_block_counts_stretch_to_16():
    grid = [[0.5 if x < 4 and y < 4 else 0.0 for x in range(32)] for y in range(32)]
    counts = block_counts(grid)
    assert counts[0] == 16 and sum(counts) == 16


def test_float_pixels_give_the_same_features_as_whole_numbers():
    image = canvas(60, 50, [(20, 5, 26, 45), (12, 5, 40, 10)])
    floats = dict(image, pixels=[float(p) for p in image["pixels"]])
    float32 = dict(image, pixels=memoryview(array("f", floats["pixels"])))
    assert image_features(floats) == image_features(float32) == image_features(image)
    assert ink_box(3, 1, [24.0, 24.5, 0.0]) == (1, 0, 2, 1)  # darker than the threshold only


def test_a_drawing_on_the_page_s_canvas_crops_to_its_ink():
    image = canvas(280, 280, [(100, 40, 120, 240), (60, 40, 200, 60)])
    assert ink_box(280, 280, memoryview(bytes(image["pixels"]))) == (60, 40, 200, 240)
    assert image_features(dict(image, pixels=bytes(image["pixels"]))) == image_features(image)
