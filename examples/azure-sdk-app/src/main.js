// A page written for Azure AI Vision Image Analysis 4.0 with Microsoft's JS SDK, as its samples
// use it: createClient, client.path("/imageanalysis:analyze").post({...}), isUnexpected. One line
// differs from the Azure version, the client's `httpClient`: Sightline's analyzer answers each
// request in this page, with Azure's statuses, error bodies and result shapes.
import createClient, { isUnexpected } from "@azure-rest/ai-vision-image-analysis";
import { AzureKeyCredential } from "@azure/core-auth";
import { createAnalyzer } from "sightline";
import { createAzureHttpClient } from "sightline/azure";
import "./style.css";

// The Azure version's settings, kept as they were: with Sightline answering, no request leaves the
// page, so neither the endpoint nor the key is used.
const endpoint = import.meta.env.VITE_VISION_ENDPOINT || "https://YOUR-RESOURCE.cognitiveservices.azure.com";
const key = import.meta.env.VITE_VISION_KEY || "not used: Sightline answers in this page";

// Sightline's model; the repository's test builds with the synthetic one (its tags are meaningless).
const model = import.meta.env.VITE_SIGHTLINE_MODEL || "siglip-base-patch16-224";
// Where this app serves model folders (the tags file at least; model files fall back to their
// upstream URLs).
const modelBaseUrl = import.meta.env.VITE_SIGHTLINE_MODEL_BASE || "/models/";

const status = document.querySelector("#model-status");
const progress = document.querySelector("#model-progress");
const input = document.querySelector("#photo");
const downloads = new Map();

let analyzer;
try {
  analyzer = await createAnalyzer({
    model,
    modelBaseUrl,
    onProgress({ file, loaded, total }) {
      downloads.set(file, { loaded, total: total || loaded });
      const all = [...downloads.values()];
      const sum = (key) => all.reduce((s, d) => s + d[key], 0);
      progress.value = sum("total") ? sum("loaded") / sum("total") : 0;
    },
  });
} catch (error) {
  status.textContent = `The model could not be loaded: ${error.message} [${error.code ?? error.name}]`;
  document.body.dataset.analyzer = "failed";
  throw error;
}

const credential = new AzureKeyCredential(key);
const client = createClient(endpoint, credential, {
  httpClient: createAzureHttpClient(analyzer), // the one changed line: Sightline answers, not Azure
});

progress.hidden = true;
status.textContent = analyzer.model.synthetic
  ? `Ready: ${analyzer.model.name}, a synthetic test model, so its tags are meaningless.`
  : `Ready: ${analyzer.model.name}.`;
input.disabled = false;
document.body.dataset.analyzer = "ready";
// For the browser's console (and the repository's test): the same client, to try other requests.
window.imageAnalysis = { client, analyzer, isUnexpected };

/** Azure's sample code, unchanged: the image's bytes, the features, the result or Azure's error. */
async function analyzeImage(imageData) {
  const result = await client.path("/imageanalysis:analyze").post({
    body: imageData,
    queryParameters: { features: ["Tags", "People"] },
    contentType: "application/octet-stream",
  });
  if (isUnexpected(result)) {
    throw result.body.error;
  }
  return result.body;
}

const section = document.querySelector("#result");
const image = document.querySelector("#image");
const picture = document.querySelector("#picture");
const state = document.querySelector("#state");
const tags = document.querySelector("#tags");
const people = document.querySelector("#people");

input.addEventListener("change", async () => {
  const [file] = input.files;
  if (!file) return;
  URL.revokeObjectURL(image.src);
  image.src = URL.createObjectURL(file);
  image.alt = file.name;
  document.querySelector("#caption").textContent = file.name;
  picture.querySelectorAll(".box").forEach((box) => box.remove());
  tags.replaceChildren();
  people.replaceChildren();
  state.textContent = "Analyzing…";
  section.hidden = false;
  delete section.dataset.state;
  try {
    const result = await analyzeImage(new Uint8Array(await file.arrayBuffer()));
    const { width, height } = result.metadata;
    const found = result.tagsResult.values;
    tags.replaceChildren(
      ...found.map(({ name, confidence }) => {
        const tag = document.createElement("li");
        tag.className = "tag";
        tag.textContent = name;
        tag.title = `${(confidence * 100).toFixed(1)}% confidence`;
        return tag;
      }),
    );
    if (!found.length) tags.innerHTML = '<li class="none">No tag is confident enough.</li>';
    const persons = result.peopleResult.values;
    for (const { boundingBox: b, confidence } of persons) {
      // Boxes are in the image's pixels; placed in percent, they follow the picture's size.
      const box = document.createElement("div");
      box.className = "box";
      Object.assign(box.style, { left: `${(100 * b.x) / width}%`, top: `${(100 * b.y) / height}%`, width: `${(100 * b.w) / width}%`, height: `${(100 * b.h) / height}%` });
      box.title = `${(confidence * 100).toFixed(0)}%`;
      picture.append(box);
      const item = document.createElement("li");
      item.textContent = `${b.w}×${b.h} at (${b.x}, ${b.y}), ${(confidence * 100).toFixed(0)}% confidence`;
      people.append(item);
    }
    state.textContent = `${width}×${height}, model ${result.modelVersion}: ${found.length} tags, ${persons.length} people.`;
    section.dataset.state = "done";
  } catch (error) {
    // Azure's error body: {code, message, innererror: {code, message}}.
    state.textContent = `Could not analyze this image: ${error.message} [${error.code}${error.innererror ? `/${error.innererror.code}` : ""}]`;
    section.dataset.state = "error";
  }
});
