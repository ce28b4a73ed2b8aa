// staticml inputs: the form and the drawing canvases, the record they make, and the field a
// rejected record names. A canvas-only app predicts when a stroke ends; a form, on submit.

import { clearResult, showResult } from "./results.js";

const $ = (id) => document.getElementById(id);

export function clearFieldErrors() {
  for (const element of document.querySelectorAll(".field-error")) element.textContent = "";
  for (const element of document.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
}

// A failed prediction: under each field its Error names (e.g. "image.pixels"), else as the result.
export function showProblem(error) {
  const problems = error.problems?.length ? error.problems : [{ field: error.field, message: error.message }];
  const marked = problems.filter(markField);
  if (marked.length === problems.length) {
    clearResult(marked.length > 1 ? "Check the highlighted fields." : "Check the highlighted field.");
  } else {
    clearResult(error.message);
  }
}

// Puts one problem under its field; false when the page has no such field.
function markField(problem) {
  const name = (problem.field || "").split(/[.[]/)[0];
  const slot = name && $(`error-${name}`);
  if (!slot) return false;
  const shown = problem.message.replace(/^Invalid record: /, "");
  slot.textContent = slot.textContent ? `${slot.textContent} ${shown}` : shown;
  $(`field-${name}`)?.setAttribute("aria-invalid", "true");
  return true;
}

// An image record's pixels as RGBA, each ink value (0-255) coloured by `colour`.
export function inkImage(image, colour) {
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  Array.from(image.pixels).forEach((value, i) => rgba.set(colour(value), i * 4));
  return new ImageData(rgba, image.width, image.height);
}

function drawingCanvas(field, onDrawn) {
  const canvas = $(`canvas-${field.name}`);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const size = canvas.width;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.lineWidth = Math.max(4, Math.round(size / 14));
  context.strokeStyle = "#111";
  let drawing = false;
  let last = null;

  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * size) / box.width, ((event.clientY - box.top) * size) / box.height];
  };
  const stroke = (from, to) => {
    context.beginPath();
    context.moveTo(...from);
    context.lineTo(...to);
    context.stroke();
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (document.body.dataset.state !== "ready") return;
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    onDrawn();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  return {
    clear: () => context.clearRect(0, 0, size, size),
    record() {
      const rgba = context.getImageData(0, 0, size, size).data;
      const pixels = new Uint8ClampedArray(size * size);
      for (let i = 0; i < pixels.length; i++) pixels[i] = rgba[i * 4 + 3];
      return { width: size, height: size, pixels };
    },
    draw(image) {
      const tile = new OffscreenCanvas(image.width, image.height);
      tile.getContext("2d").putImageData(inkImage(image, (value) => [17, 17, 17, value]), 0, 0);
      const scale = (size * 0.8) / Math.max(image.width, image.height);
      const w = image.width * scale;
      const h = image.height * scale;
      context.clearRect(0, 0, size, size);
      context.drawImage(tile, (size - w) / 2, (size - h) / 2, w, h);
    },
  };
}

// Wires the form and canvases of `config.fields` to `predict` (record → result); returns
// {show(record)}, which puts a record (a sample's) into the form and canvases.
export function setUpInputs(config, predict) {
  const imageFields = config.fields.filter((field) => field.type === "image");
  const formFields = config.fields.filter((field) => field.type !== "image");
  const canvases = new Map();

  function currentRecord() {
    const record = Object.fromEntries(formFields.map((field) => [field.name, $(`field-${field.name}`).value]));
    for (const [name, canvas] of canvases) record[name] = canvas.record();
    return record;
  }

  let inFlight = false;
  let again = false;

  async function predictCurrent() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    again = false;
    clearFieldErrors();
    try {
      showResult(config.output, await predict(currentRecord()));
    } catch (error) {
      showProblem(error);
    } finally {
      inFlight = false;
      if (again) predictCurrent();
    }
  }

  for (const field of imageFields) {
    canvases.set(field.name, drawingCanvas(field, () => (formFields.length ? null : predictCurrent())));
  }
  $("record-form")?.addEventListener("submit", (event) => {
    event.preventDefault();
    predictCurrent();
  });
  $("clear")?.addEventListener("click", () => {
    for (const canvas of canvases.values()) canvas.clear();
    clearFieldErrors();
    clearResult();
  });

  return {
    show(record) {
      clearFieldErrors();
      for (const field of formFields) {
        const value = record[field.name];
        $(`field-${field.name}`).value = value === null || value === undefined ? "" : String(value);
      }
      for (const [name, canvas] of canvases) if (record[name]) canvas.draw(record[name]);
    },
  };
}
