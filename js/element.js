// <sightline-analyzer>: a drop zone and a results list in two lines of HTML.
//
//   <script type="module" src="node_modules/sightline/element.js"></script>
//   <sightline-analyzer model="siglip-base-patch16-224" model-base-url="/models/"></sightline-analyzer>
//
// Attributes: model (name or manifest URL), model-base-url, features (comma-separated Azure
// feature names, default "tags"), labels (comma-separated zero-shot labels), worker ("false" to
// run in the page). Events (bubbling, composed): sightline-ready {model}, sightline-result
// {file, result}, sightline-error {file, error}. Style it with ::part(drop-zone|status|results|card|tags).

import { createAnalyzer } from "./index.js";

const TEMPLATE = `
<style>
  :host { display: block; font: inherit; color: inherit; }
  [part=drop-zone] { border: 2px dashed currentColor; border-radius: 8px; padding: 1.5em; text-align: center; cursor: pointer; opacity: .85; }
  [part=drop-zone].dragging { opacity: 1; background: color-mix(in srgb, currentColor 8%, transparent); }
  [part=drop-zone][aria-disabled=true] { cursor: progress; opacity: .5; }
  [part=status] { margin: .5em 0; font-size: .9em; }
  [part=results] { list-style: none; padding: 0; display: grid; gap: 1em; grid-template-columns: repeat(auto-fill, minmax(14em, 1fr)); }
  [part=card] { border: 1px solid color-mix(in srgb, currentColor 25%, transparent); border-radius: 8px; padding: .5em; }
  [part=card] img { width: 100%; max-height: 12em; object-fit: contain; }
  [part=card].error { border-color: #c00; }
  [part=tags] { list-style: none; padding: 0; margin: .3em 0 0; display: flex; flex-wrap: wrap; gap: .3em; }
  [part=tags] li { border-radius: 1em; padding: .1em .6em; background: color-mix(in srgb, currentColor 10%, transparent); font-size: .85em; }
  input { display: none; }
</style>
<div part="drop-zone" role="button" tabindex="0" aria-disabled="true">
  <slot>Drop images here or click to choose</slot>
  <input type="file" accept="image/*" multiple>
</div>
<p part="status" role="status" aria-live="polite">Loading the model…</p>
<ul part="results"></ul>`;

const list = (value) => (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);

export class SightlineAnalyzerElement extends HTMLElement {
  /** The Analyzer once the model is loaded (null before, and after the element is removed). */
  analyzer = null;
  #loading = null;
  #root;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    this.#root.innerHTML = TEMPLATE;
    const zone = this.#root.querySelector("[part=drop-zone]");
    const input = this.#root.querySelector("input");
    zone.addEventListener("click", () => input.click());
    zone.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        input.click();
      }
    });
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      this.analyzeFiles(e.dataTransfer.files);
    });
    input.addEventListener("change", () => {
      this.analyzeFiles(input.files);
      input.value = "";
    });
  }

  connectedCallback() {
    this.#loading ??= this.#load();
  }

  disconnectedCallback() {
    // Moving the element fires disconnect then connect in one task; only a real removal frees the model.
    queueMicrotask(() => {
      if (this.isConnected) return;
      this.analyzer?.dispose();
      this.analyzer = null;
      this.#loading = null;
    });
  }

  #status(text) {
    this.#root.querySelector("[part=status]").textContent = text;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  async #load() {
    const files = new Map();
    try {
      const analyzer = await createAnalyzer({
        model: this.getAttribute("model") ?? undefined,
        modelBaseUrl: this.getAttribute("model-base-url") ?? undefined,
        worker: this.getAttribute("worker") !== "false",
        onProgress: ({ file, loaded, total, fromCache }) => {
          files.set(file, { loaded, total });
          const sum = [...files.values()].reduce((a, f) => ({ loaded: a.loaded + f.loaded, total: a.total + (f.total || f.loaded) }), { loaded: 0, total: 0 });
          this.#status(fromCache ? `Loading ${file} from cache…` : `Downloading the model: ${Math.round((100 * sum.loaded) / (sum.total || 1))}%`);
        },
      });
      if (!this.isConnected) return analyzer.dispose();
      this.analyzer = analyzer;
      this.#root.querySelector("[part=drop-zone]").setAttribute("aria-disabled", "false");
      const warning = analyzer.model.synthetic ? " (synthetic test model: results are meaningless)" : "";
      this.#status(`Ready: ${analyzer.model.name}${warning}. Images stay on this device.`);
      this.#emit("sightline-ready", { model: analyzer.model });
    } catch (error) {
      this.#status(`The model could not be loaded: ${error.message} [${error.code ?? error.name}]`);
      this.#emit("sightline-error", { file: null, error });
    }
  }

  /** Analyse files (a FileList or File[]) and add a card per file; resolves when all are done. */
  async analyzeFiles(fileList) {
    await this.#loading;
    if (!this.analyzer) return;
    const options = { features: list(this.getAttribute("features")).length ? list(this.getAttribute("features")) : ["tags"] };
    const labels = list(this.getAttribute("labels"));
    if (labels.length) options.labels = labels;
    await Promise.all(
      [...fileList].map(async (file) => {
        const card = this.#card(file);
        try {
          const result = await this.analyzer.analyze(file, options);
          this.#showTags(card, result);
          this.#emit("sightline-result", { file, result });
        } catch (error) {
          card.classList.add("error");
          card.querySelector(".state").textContent = `${error.message} [${error.code ?? error.name}]`;
          this.#emit("sightline-error", { file, error });
        }
      }),
    );
  }

  #card(file) {
    const card = document.createElement("li");
    card.setAttribute("part", "card");
    const img = document.createElement("img");
    img.alt = file.name;
    img.src = URL.createObjectURL(file);
    img.onload = () => URL.revokeObjectURL(img.src);
    const name = document.createElement("div");
    name.textContent = file.name;
    const state = Object.assign(document.createElement("div"), { className: "state", textContent: "Analysing…" });
    const tags = document.createElement("ul");
    tags.setAttribute("part", "tags");
    card.append(img, name, state, tags);
    this.#root.querySelector("[part=results]").append(card);
    return card;
  }

  #showTags(card, result) {
    const values = [...(result.tagsResult?.values ?? [])];
    for (const label of result.customLabelsResult?.values ?? []) if (!values.some((v) => v.name === label.name)) values.push(label);
    card.querySelector(".state").textContent = values.length ? "" : "No tag reached the threshold.";
    card.querySelector("[part=tags]").replaceChildren(
      ...values.map(({ name, confidence }) => Object.assign(document.createElement("li"), { textContent: `${name} ${(confidence * 100).toFixed(0)}%` })),
    );
  }
}

if (!customElements.get("sightline-analyzer")) customElements.define("sightline-analyzer", SightlineAnalyzerElement);
