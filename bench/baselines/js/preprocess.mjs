// app/digits/preprocess.py written in JavaScript, line for line, for the pure-JS baseline page:
// a grayscale image of any size → the 64 features of scikit-learn's digits data.

const GRID = 32;
const BLOCK = 4;
const TOP = 16.0;
const INK_THRESHOLD = 24;
const STROKE = 5.0;

// Python's round(): halves go to the even neighbour.
function roundHalfEven(value) {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

export function features(record) {
  return imageFeatures(record.image);
}

function imageFeatures({ width, height, pixels }) {
  const box = inkBox(width, height, pixels);
  if (box === null) throw new Error("the image is blank: draw a digit first");
  const [left, top, right, bottom] = box;
  const side = Math.max(right - left, bottom - top);
  const x0 = left - (side - (right - left)) / 2;
  const y0 = top - (side - (bottom - top)) / 2;
  let grid = resample(width, height, pixels, x0, y0, side, GRID);
  const radius = Math.max(0, roundHalfEven((STROKE - strokeWidth(grid)) / 2));
  if (radius) {
    const margin = (side * radius) / (GRID - 2 * radius);
    grid = resample(width, height, pixels, x0 - margin, y0 - margin, side + 2 * margin, GRID);
    grid = dilate(grid, radius);
  }
  return blockCounts(grid);
}

function inkBox(width, height, pixels) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    for (let i = y * width; i < (y + 1) * width; i++) {
      if (pixels[i] > INK_THRESHOLD) {
        rows.push(y);
        break;
      }
    }
  }
  if (!rows.length) return null;
  const columns = [];
  for (let x = 0; x < width; x++) {
    for (let y = rows[0]; y <= rows[rows.length - 1]; y++) {
      if (pixels[y * width + x] > INK_THRESHOLD) {
        columns.push(x);
        break;
      }
    }
  }
  return [columns[0], rows[0], columns[columns.length - 1] + 1, rows[rows.length - 1] + 1];
}

function resample(width, height, pixels, x0, y0, side, n) {
  const cell = side / n;
  const xWeights = [];
  const yWeights = [];
  for (let i = 0; i < n; i++) {
    xWeights.push(overlaps(x0 + i * cell, cell, width));
    yWeights.push(overlaps(y0 + i * cell, cell, height));
  }
  const scale = cell * cell * 255;
  const grid = [];
  for (const weightsY of yWeights) {
    const sums = new Array(n).fill(0);
    for (const [y, wy] of weightsY) {
      const offset = y * width;
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (const [x, wx] of xWeights[i]) sum += wx * pixels[offset + x];
        sums[i] += wy * sum;
      }
    }
    grid.push(sums.map((total) => total / scale));
  }
  return grid;
}

function strokeWidth(grid) {
  const n = grid.length;
  let area = 0;
  let outline = grid[0].reduce((a, b) => a + b, 0);
  for (let y = 0; y < n; y++) {
    const row = grid[y];
    const below = y + 1 < n ? grid[y + 1] : null;
    for (let x = 0; x < n; x++) {
      const value = row[x];
      const right = x + 1 < n ? row[x + 1] : 0;
      area += value;
      outline += Math.abs(value - right) + Math.abs(value - (below ? below[x] : 0));
    }
    outline += row[0];
  }
  return outline ? (2 * area) / outline : 0;
}

function dilate(grid, radius) {
  const n = grid.length;
  const disc = [];
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) if (dy * dy + dx * dx <= radius * radius) disc.push([dy, dx]);
  }
  const out = [];
  for (let y = 0; y < n; y++) {
    const row = [];
    for (let x = 0; x < n; x++) {
      let best = -Infinity;
      for (const [dy, dx] of disc) {
        if (y + dy >= 0 && y + dy < n && x + dx >= 0 && x + dx < n) best = Math.max(best, grid[y + dy][x + dx]);
      }
      row.push(best);
    }
    out.push(row);
  }
  return out;
}

function blockCounts(grid) {
  const blocks = grid.length / BLOCK;
  const counts = [];
  for (let by = 0; by < blocks; by++) {
    for (let bx = 0; bx < blocks; bx++) {
      let sum = 0;
      for (let dy = 0; dy < BLOCK; dy++) for (let dx = 0; dx < BLOCK; dx++) sum += grid[by * BLOCK + dy][bx * BLOCK + dx];
      counts.push(sum);
    }
  }
  const peak = Math.max(...counts);
  return counts.map((value) => Math.round(((value * TOP) / peak) * 1e6) / 1e6);
}

function overlaps(start, length, limit) {
  const stop = start + length;
  const first = Math.max(Math.floor(start), 0);
  const last = Math.min(Math.ceil(stop), limit);
  const out = [];
  for (let p = first; p < last; p++) {
    const overlap = Math.min(p + 1, stop) - Math.max(p, start);
    if (overlap > 0) out.push([p, overlap]);
  }
  return out;
}
