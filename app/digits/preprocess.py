"""Turn a grayscale image of any size into the 64 features of scikit-learn's digits data.

An image is `{"width": W, "height": H, "pixels": [...]}` with W×H values from 0 (paper) to
255 (ink), row-major. The digits data set was made from 32×32 bitmaps in which the digit
fills the box, cut into 4×4 blocks whose ink was counted (0–16). This module does the same
to any drawing:

1. crop to the ink and centre it in a square (the aspect ratio is kept);
2. average it down to a 32×32 grid of ink coverage (0–1);
3. thicken thin strokes to the data set's typical stroke (about 5 of 32 cells), so a fine
   pen and a thick marker give the same features;
4. sum each 4×4 block and stretch the result so the inkiest block is 16.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import mul
from typing import Any

GRID = 32
BLOCK = 4
TOP = 16.0
INK_THRESHOLD = 24
STROKE = 5.0

Grid = list[list[float]]


def features(record: dict[str, Any]) -> list[float]:
    """The model's feature vector for one record of the demo app (`{"image": image}`)."""
    return image_features(record["image"])


def image_features(image: dict[str, Any]) -> list[float]:
    width, height, pixels = image["width"], image["height"], image["pixels"]
    box = ink_box(width, height, pixels)
    if box is None:
        raise ValueError("the image is blank: draw a digit first")
    left, top, right, bottom = box
    side = max(right - left, bottom - top)
    x0 = left - (side - (right - left)) / 2
    y0 = top - (side - (bottom - top)) / 2
    grid = resample(width, height, pixels, x0, y0, side, GRID)
    radius = max(0, round((STROKE - stroke_width(grid)) / 2))
    if radius:
        margin = side * radius / (GRID - 2 * radius)
        grid = resample(width, height, pixels, x0 - margin, y0 - margin, side + 2 * margin, GRID)
        grid = dilate(grid, radius)
    return block_counts(grid)


def ink_box(width: int, height: int, pixels: Sequence[int]) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom; right/bottom exclusive) of the ink, or None."""
    pixels = list(pixels)  # slices and max() run in C, not a Python loop per pixel
    rows = [y for y in range(height) if max(pixels[y * width : (y + 1) * width]) > INK_THRESHOLD]
    if not rows:
        return None
    first, last = rows[0] * width, rows[-1] * width
    columns = [
        x for x in range(width) if max(pixels[first + x : last + x + 1 : width]) > INK_THRESHOLD
    ]
    return columns[0], rows[0], columns[-1] + 1, rows[-1] + 1


def resample(
    width: int, height: int, pixels: Sequence[int], x0: float, y0: float, side: float, n: int
) -> Grid:
    """Ink coverage (0–1) of each of n×n equal cells of the square [x0, x0+side)²."""
    cell = side / n
    x_weights = [_overlaps(x0 + i * cell, cell, width) for i in range(n)]
    y_weights = [_overlaps(y0 + j * cell, cell, height) for j in range(n)]
    # Each cell's source columns as (first column, weights): a row's products and their sum
    # then run in C (map, sum), in the same order as a loop would add them.
    spans = [(weights[0][0] if weights else 0, [w for _, w in weights]) for weights in x_weights]
    pixels = list(pixels)
    scale = cell * cell * 255
    grid = []
    for weights_y in y_weights:
        sums = [0.0] * n
        for y, wy in weights_y:
            offset = y * width
            for i, (first, weights) in enumerate(spans):
                start = offset + first
                sums[i] += wy * sum(map(mul, weights, pixels[start : start + len(weights)]))
        grid.append([total / scale for total in sums])
    return grid


def stroke_width(grid: Grid) -> float:
    """Mean stroke width in cells: the ink's area over half its outline's length."""
    n = len(grid)
    blank = [0.0] * n
    area, outline = 0.0, sum(grid[0])
    for y, row in enumerate(grid):
        below = grid[y + 1] if y + 1 < n else blank
        for x, value in enumerate(row):
            right = row[x + 1] if x + 1 < n else 0.0
            area += value
            outline += abs(value - right) + abs(value - below[x])
        outline += row[0]
    return 2 * area / outline if outline else 0.0


def dilate(grid: Grid, radius: int) -> Grid:
    """Grey-level dilation with a disc: each cell takes the darkest cell within `radius`."""
    n = len(grid)
    span = range(-radius, radius + 1)
    disc = [(dy, dx) for dy in span for dx in span if dy * dy + dx * dx <= radius * radius]
    return [
        [
            max(grid[y + dy][x + dx] for dy, dx in disc if 0 <= y + dy < n and 0 <= x + dx < n)
            for x in range(n)
        ]
        for y in range(n)
    ]


def block_counts(grid: Grid) -> list[float]:
    """Ink in each BLOCK×BLOCK block, stretched so the inkiest block is TOP."""
    blocks = len(grid) // BLOCK
    counts = [
        sum(grid[by * BLOCK + dy][bx * BLOCK + dx] for dy in range(BLOCK) for dx in range(BLOCK))
        for by in range(blocks)
        for bx in range(blocks)
    ]
    peak = max(counts)
    return [round(value * TOP / peak, 6) for value in counts]


def _overlaps(start: float, length: float, limit: int) -> list[tuple[int, float]]:
    """Source pixels overlapping [start, start+length) with the length of each overlap."""
    stop = start + length
    first, last = max(int(start // 1), 0), min(int(-(-stop // 1)), limit)
    return [
        (p, min(p + 1, stop) - max(p, start))
        for p in range(first, last)
        if min(p + 1, stop) > max(p, start)
    ]
