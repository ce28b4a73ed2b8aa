// staticml samples: the examples shipped with the build, each with the prediction CPython made
// at build time; picking one predicts it here and says whether the browser agrees.

import { inkImage, showProblem } from "./inputs.js";
import { agreement, showResult } from "./results.js";
import { ownFile } from "./runtime.js";

const $ = (id) => document.getElementById(id);

function thumbnail(image) {
  const tile = document.createElement("canvas");
  tile.width = image.width;
  tile.height = image.height;
  tile.getContext("2d").putImageData(inkImage(image, (value) => [255 - value, 255 - value, 255 - value, 255]), 0, 0);
  return tile;
}

function sampleButton(config, sample, { inputs, predict }) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "sample";
  button.title = sample.name;
  button.dataset.needsRuntime = "";
  button.disabled = document.body.dataset.state !== "ready";
  button.setAttribute("aria-label", `Sample: ${sample.name}`);
  const imageField = config.fields.find((field) => field.type === "image");
  const image = imageField ? sample.record[imageField.name] : null;
  if (image) button.append(thumbnail(image));
  else button.textContent = sample.name;
  button.addEventListener("click", async () => {
    inputs.show(sample.record);
    try {
      const result = await predict(sample.record);
      showResult(config.output, result, agreement(result, sample.expected));
    } catch (error) {
      showProblem(error);
    }
  });
  return button;
}

// `inputs` shows a sample's record, `predict` predicts it (record → result).
export async function loadSamples(config, wiring) {
  if (!config.samples) {
    $("samples").hidden = true;
    return;
  }
  const response = await ownFile(config, config.samples);
  const { samples } = await response.json();
  $("sample-list").append(...samples.map((sample) => sampleButton(config, sample, wiring)));
}
