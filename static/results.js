// staticml results: the prediction panel (a class with a bar per probability, or a value with
// its unit), the timings line, and how a result compares with the build's CPython reference.

const $ = (id) => document.getElementById(id);

export function formatValue(value) {
  return Math.abs(value) >= 1000 ? value.toFixed(0) : Number(value.toPrecision(4)).toString();
}

// Longer than this, the result's label is set smaller so that it fits the result box.
const LONG_LABEL = 12;

function showLabel(text) {
  $("result-label").textContent = text;
  $("result-label").classList.toggle("long", text.length > LONG_LABEL);
}

export function clearResult(note = "") {
  showLabel("–");
  $("result-note").textContent = note;
  $("bars").replaceChildren();
  $("timings").textContent = "";
}

// `output` is the page configuration's output spec (its target and unit, for regressors).
export function showResult(output, result, note = "") {
  clearResult(note);
  if (result.value !== undefined) {
    const unit = output.unit ? ` ${output.unit}` : "";
    showLabel(`${formatValue(result.value)}${unit}`);
    $("result-note").textContent = note || output.target;
  } else {
    showLabel(result.label);
    for (const [name, p] of Object.entries(result.probabilities)) $("bars").append(bar(name, p, name === result.label));
  }
  const t = result.timings;
  $("timings").textContent = `Preprocessing ${t.preprocessMs.toFixed(1)} ms (Python) · model ${t.inferenceMs.toFixed(1)} ms (onnxruntime-web) · in this browser, nothing sent.`;
  document.body.dataset.predicted = "yes";
}

function bar(name, p, top) {
  const row = document.createElement("li");
  row.className = top ? "bar top" : "bar";
  row.dataset.class = name;
  const label = document.createElement("span");
  label.className = "bar-name";
  label.textContent = name;
  const track = document.createElement("span");
  track.className = "bar-track";
  const fill = document.createElement("span");
  fill.className = "bar-fill";
  fill.style.width = `${(p * 100).toFixed(1)}%`;
  track.append(fill);
  const value = document.createElement("span");
  value.className = "bar-value";
  value.textContent = `${(p * 100).toFixed(1)}%`;
  row.append(label, track, value);
  return row;
}

// A sample's note: the browser's result against the prediction CPython made at build time.
export function agreement(result, expected) {
  if (expected.value !== undefined) {
    const difference = Math.abs(result.value - expected.value);
    return `CPython reference: ${formatValue(expected.value)}; difference ${difference.toExponential(1)}.`;
  }
  const deviation = Math.max(...Object.keys(expected.probabilities).map((k) => Math.abs(result.probabilities[k] - expected.probabilities[k])));
  const same = result.label === expected.label;
  return `CPython reference: ${expected.label}; ${same ? "same label" : "DIFFERENT label"}, largest probability difference ${deviation.toExponential(1)}.`;
}
