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

import math
from collections.abc import Sequence
from itertools import accumulate, pairwise, repeat
from operator import add, lt, mul, sub
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


def ink_box(width: int, height: int, pixels: Sequence[float]) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom; right/bottom exclusive) of the ink, or None."""
    ink = _ink_mask(pixels)
    first, last = ink.find(1), ink.rfind(1)
    if first < 0:
        return None
    top, bottom = first // width, last // width + 1
    # The rows' masks OR-ed together as one integer each: the ink's columns, in C.
    columns = 0
    for y in range(top, bottom):
        columns |= int.from_bytes(ink[y * width : (y + 1) * width], "big")
    across = columns.to_bytes(width, "big")
    return across.find(1), top, across.rfind(1) + 1, bottom


_INK = bytes(int(value > INK_THRESHOLD) for value in range(256))


def _ink_mask(pixels: Any) -> bytes:
    """1 for each pixel darker than INK_THRESHOLD, else 0."""
    if isinstance(pixels, memoryview) and pixels.format != "B":
        return bytes(map(lt, repeat(INK_THRESHOLD), pixels))  # e.g. a Float32Array's
    try:
        return bytes(pixels).translate(_INK)  # bytes, or whole numbers from 0 to 255
    except (TypeError, ValueError):
        return bytes(map(lt, repeat(INK_THRESHOLD), pixels))


def resample(
    width: int, height: int, pixels: Sequence[float], x0: float, y0: float, side: float, n: int
) -> Grid:
    """Ink coverage (0–1) of each of n×n equal cells of the square [x0, x0+side)².

    Each cell's ink is the integral of the image (a constant per pixel, zero outside it)
    over the cell: a difference of running sums, first along each row, then down the rows.
    """
    cell = side / n
    x_edges = _edges(x0, cell, n, width)
    y_edges = _edges(y0, cell, n, height)
    left, right = x_edges[0][0], x_edges[-1][0] + 1
    top, bottom = y_edges[0][0], y_edges[-1][0] + 1
    columns = [index - left for index, _ in x_edges]
    fractions = [fraction for _, fraction in x_edges]
    values = pixels if isinstance(pixels, list) else list(pixels)
    rows = []  # each source row's ink in each column of cells
    for y in range(top, bottom):
        row = values[y * width + left : y * width + right]
        running = list(accumulate(row, initial=0))
        at = list(
            map(
                add,
                map(running.__getitem__, columns),
                map(mul, fractions, map(row.__getitem__, columns)),
            )
        )
        rows.append(list(map(sub, at[1:], at[:-1])))
    running_rows = [[0.0] * n]
    for row in rows:
        running_rows.append(list(map(add, running_rows[-1], row)))
    scale = cell * cell * 255
    at_edges = [
        list(map(add, running_rows[y - top], map(mul, repeat(fraction), rows[y - top])))
        for y, fraction in y_edges
    ]
    return [
        [(below - above) / scale for above, below in zip(upper, lower, strict=True)]
        for upper, lower in pairwise(at_edges)
    ]


def _edges(start: float, cell: float, n: int, limit: int) -> list[tuple[int, float]]:
    """The n+1 cell edges from `start`, clipped to [0, limit], as (pixel, fraction into it),
    the pixel always one of the image's (a right edge at `limit` is all of the last pixel)."""
    edges = []
    for i in range(n + 1):
        edge = min(max(start + i * cell, 0.0), float(limit))
        pixel = min(int(edge), limit - 1)
        edges.append((pixel, edge - pixel))
    return edges


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
    """Grey-level dilation with a disc: each cell takes the darkest cell within `radius`.

    The disc is a stack of rows, each a horizontal run: the darkest cell of each run is
    taken along the rows first, then across the disc's rows, with map() doing the work in C.
    """
    n = len(grid)
    spans = {dy: math.isqrt(radius * radius - dy * dy) for dy in range(-radius, radius + 1)}
    across = {half: [_running_max(row, half) for row in grid] for half in set(spans.values())}
    return [
        list(map(max, *(across[half][y + dy] for dy, half in spans.items() if 0 <= y + dy < n)))
        if radius
        else list(grid[y])
        for y in range(n)
    ]


def _running_max(row: list[float], half: int) -> list[float]:
    """Each cell's darkest cell within `half` cells along the row."""
    if not half:
        return row
    padded = [-math.inf] * half + row + [-math.inf] * half
    return list(map(max, *(padded[shift : shift + len(row)] for shift in range(2 * half + 1))))


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
