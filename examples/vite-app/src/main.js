// The app's own code: a photo list. Sightline is one import; everything it does happens in its
// worker, so the page stays responsive while the model loads and runs.
import { createAnalyzer } from "sightline";
import "./style.css";

// A real deployment names the real model; the repository's test builds with the synthetic one.
const model = import.meta.env.VITE_SIGHTLINE_MODEL || "siglip-base-patch16-224";
// Where this app serves model folders (the tags file at least; model files fall back to their
// upstream URLs).
const modelBaseUrl = import.meta.env.VITE_SIGHTLINE_MODEL_BASE || "/models/";
// Sightline's default (0.1) suits the real model; the synthetic test model's probabilities mean
// nothing, so the test builds with 0 to list its top tags.
const tagThreshold = import.meta.env.VITE_SIGHTLINE_TAG_THRESHOLD ? Number(import.meta.env.VITE_SIGHTLINE_TAG_THRESHOLD) : undefined;

const status = document.querySelector("#model-status");
const progress = document.querySelector("#model-progress");
const notes = document.querySelector("#notes");
const downloads = new Map();

const analyzerReady = createAnalyzer({
  model,
  modelBaseUrl,
  onProgress({ file, loaded, total }) {
    downloads.set(file, { loaded, total: total || loaded });
    let sumLoaded = 0;
    let sumTotal = 0;
    for (const d of downloads.values()) {
      sumLoaded += d.loaded;
      sumTotal += d.total;
    }
    progress.value = sumTotal ? sumLoaded / sumTotal : 0;
  },
});

analyzerReady.then(
  (analyzer) => {
    progress.hidden = true;
    status.textContent = analyzer.model.synthetic
      ? `Tagging with ${analyzer.model.name}: a synthetic test model, so its tags are meaningless.`
      : `Tagging with ${analyzer.model.name}.`;
    document.body.dataset.analyzer = "ready";
    // "threads" where the page is cross-origin isolated (vite.config.js sends the headers).
    document.body.dataset.wasmBuild = analyzer.runtime.build;
  },
  (error) => {
    status.textContent = `Tags are unavailable: ${error.message} [${error.code ?? error.name}]`;
    document.body.dataset.analyzer = "failed";
  },
);

function addNote(file) {
  const item = document.createElement("li");
  item.className = "note";
  const img = document.createElement("img");
  img.src = URL.createObjectURL(file);
  img.alt = file.name;
  const title = document.createElement("h2");
  title.textContent = file.name;
  const tags = document.createElement("ul");
  tags.className = "tags";
  const state = document.createElement("p");
  state.className = "state";
  state.textContent = "Suggesting tags…";
  item.append(img, title, state, tags);
  notes.prepend(item);
  return { item, tags, state };
}

document.querySelector("#photo").addEventListener("change", async (event) => {
  const [file] = event.target.files;
  if (!file) return;
  const note = addNote(file);
  try {
    const analyzer = await analyzerReady;
    const result = await analyzer.analyze(file, { features: ["tags"], maxTags: 8, tagThreshold });
    const values = result.tagsResult?.values ?? [];
    note.state.textContent = values.length ? "" : "No tag is confident enough.";
    note.tags.replaceChildren(
      ...values.map(({ name, confidence }) => {
        const tag = document.createElement("li");
        tag.className = "tag";
        tag.textContent = name;
        tag.title = `${(confidence * 100).toFixed(1)}% confidence`;
        return tag;
      }),
    );
    note.item.dataset.state = "tagged";
  } catch (error) {
    note.state.textContent = `Could not tag this photo: ${error.message} [${error.code ?? error.name}]`;
    note.item.dataset.state = "error";
  }
});
