// The page: input (drop, folders, picker, paste), progress, result cards. It is an ordinary user
// of the npm package (scripts/build-web puts its build in sightline/): the package's analyzer runs
// the model in its own worker; this module calls it and renders.

import { createAnalyzer } from "./sightline/index.js";
import { blobBytes, responseBytes, MAX_IMAGE_BYTES } from "./sightline/input.js";

const $ = (selector, root = document) => root.querySelector(selector);
/** Where the page's own models live: the layout scripts/fetch-models installs. */
const MODELS = new URL("models/", location.href).href;
const MANIFEST = new URL("manifest.json", MODELS).href;
/** The features every image gets; read is added when its box is ticked. */
const FEATURES = ["tags", "smartCrops", "people", "color", "categories"];
/** What only a vision-language model answers: asked for (those ticked) when one is configured. */
const VISION_FEATURES = ["caption", "denseCaptions", "objects"];
/** Progress labels by manifest role. */
const LABELS = {
  vision: "vision model", text: "text model", tokenizer: "tokenizer", descriptor: "descriptor (sightline.json)", tags: "tags", face: "face model",
  detector: "OCR text detector", recognizer: "OCR text recognizer", dictionary: "OCR dictionary", orientation: "OCR line orientation",
};

/**
 * The loaded model: {analyzer, name, read, busy, retired}. A new load builds a
 * new analyzer and swaps it in only once it works, so the previous one answers until then (and for
 * good if the load fails). `busy` counts the calls using it; a retired one is disposed when none is left.
 */
let current = null;
/** image id → unit embedding, for live labels and text search without re-running the vision tower. */
const embeddings = new Map();

const cards = new Map(); // image id → {element, result}
let nextId = 1;
let ready = false;
const pending = []; // files dropped before the model is ready

function setStatus(text, { error = false } = {}) {
  $("#status-text").textContent = text;
  $("#status-text").classList.toggle("error", error);
}

function formatBytes(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`;
}

const progressRows = new Map();
function clearProgress() {
  progressRows.clear();
  $("#progress-list").replaceChildren();
}

function showProgress({ label, loaded, total, fromCache }) {
  let row = progressRows.get(label);
  if (!row) {
    row = document.createElement("div");
    row.className = "progress-row";
    row.innerHTML = `<span></span><progress max="100"></progress><span></span>`;
    row.children[0].textContent = label;
    row.children[1].setAttribute("aria-label", `${label} download`);
    $("#progress-list").append(row);
    progressRows.set(label, row);
  }
  const percent = total ? Math.min(100, Math.round((loaded / total) * 100)) : 0;
  row.children[1].value = fromCache ? 100 : percent;
  row.children[2].textContent = fromCache
    ? `${formatBytes(loaded)} (from cache)`
    : `${formatBytes(loaded)}${total ? ` of ${formatBytes(total)} · ${percent}%` : ""}`;
}

function bar(name, confidence) {
  const li = document.createElement("li");
  li.className = "bar";
  const label = document.createElement("span");
  label.textContent = name;
  const meter = document.createElement("meter");
  meter.min = 0;
  meter.max = 1;
  meter.value = confidence;
  meter.setAttribute("aria-label", `${name} confidence`);
  const value = document.createElement("span");
  value.textContent = `${(confidence * 100).toFixed(1)}%`;
  li.append(label, meter, value);
  return li;
}

function addCard(file) {
  const id = nextId++;
  const element = $("#card-template").content.firstElementChild.cloneNode(true);
  $(".name", element).textContent = file.name;
  $(".meta", element).textContent = formatBytes(file.size);
  const img = $("img", element);
  img.src = URL.createObjectURL(file);
  img.alt = file.name;
  // Browsers cannot show TIFF (and some other files Sightline reads): the core makes a PNG. A file
  // that cannot be previewed cannot be analysed either: its card already says why.
  img.addEventListener("error", () => {
    if (file.size > MAX_IMAGE_BYTES || !current) return;
    current.analyzer.preview(file).then((png) => { img.src = URL.createObjectURL(png); }, () => {});
  }, { once: true });
  $("#results").append(element);
  cards.set(id, { element, result: null, name: file.name, model: null });
  return id;
}

/** `fn(slot)` on the current model, which stays alive until it ends (a retired one is disposed then). */
async function withCurrent(fn) {
  const slot = current;
  slot.busy++;
  try {
    return await fn(slot);
  } finally {
    if (--slot.busy === 0 && slot.retired) slot.analyzer.dispose();
  }
}

/** The analysis memory the tab holds (WebAssembly memory only grows), in the status line's tooltip. */
async function noteMemory(slot) {
  const bytes = await slot.analyzer.memoryBytes().catch(() => 0);
  if (bytes > Number(document.body.dataset.wasmMemory ?? 0)) {
    document.body.dataset.wasmMemory = String(bytes);
    $("#status-text").title = `WebAssembly memory: ${formatBytes(bytes)}`;
  }
}

/**
 * Load PP-OCRv5 the first time text is to be read on the device (28 MB: not everyone needs it).
 * Resolves to null when loaded, or to the error that stopped it (the analysis then goes on without
 * text and the card says why). Once per loaded model.
 */
function ensureRead(slot) {
  slot.read ??= slot.analyzer.prepare(["read"], { readBackend: "local" }).then(
    () => null,
    (error) => {
      const hint = "install it next to the page with scripts/fetch-models ppocr-v5";
      return { code: "OcrModelNotLoaded", message: `text cannot be read on this device: ${error?.message ?? error} (${hint})` };
    },
  );
  return slot.read;
}

async function analyzeWith(slot, bytes, read) {
  const { readBackend = "auto", peopleBackend = "auto", visionFeatures = VISION_FEATURES, genderNeutralCaption = false } = servicesSettings ?? {};
  // Text is read on the device unless Document Intelligence is configured and chosen.
  const readRemotely = slot.analyzer.services.read && readBackend !== "local";
  const readLocally = read && !readRemotely && readBackend !== "azure";
  const ocrError = readLocally ? await ensureRead(slot) : null;
  const peopleRemotely = slot.analyzer.services.face && peopleBackend !== "local";
  // A part this model could not load (a folder without tags, no face model): its features are left
  // out, by the core's feature table.
  const missing = (feature) => slot.analyzer.featureTable.features.find((f) => f.name === feature).needs.some((part) => !slot.analyzer.parts.includes(part));
  const base = FEATURES.filter((f) => !missing(f) || (f === "people" && peopleRemotely));
  // Captions and objects: only a vision-language model writes them, so only when one is configured.
  const described = slot.analyzer.services.caption ? VISION_FEATURES.filter((f) => visionFeatures.includes(f)) : [];
  const features = [...base, ...((readRemotely && read) || (readLocally && !ocrError) ? ["read"] : []), ...described];
  const options = { features, includeEmbedding: true, readBackend, peopleBackend };
  if (described.length) options.genderNeutralCaption = Boolean(genderNeutralCaption);
  const result = await slot.analyzer.analyze(bytes, options);
  if (ocrError) {
    const failure = { feature: "read", error: { code: "InvalidRequest", message: ocrError.message, innererror: ocrError } };
    result.featureErrors = [...(result.featureErrors ?? []), failure];
  }
  return result;
}

async function analyzeFile(file) {
  const id = addCard(file);
  let bytes;
  try {
    // Refused by its size before it is read: a dropped 2 GB file never reaches memory.
    bytes = await blobBytes(file);
  } catch (error) {
    showError(id, error);
    return;
  }
  await withCurrent(async (slot) => {
    try {
      const result = await analyzeWith(slot, bytes, $("#read-text").checked);
      if (slot === current) embeddings.set(id, Float32Array.from(result.embedding));
      showResult(id, result, slot.name);
    } catch (error) {
      showError(id, error);
    } finally {
      noteMemory(slot);
    }
  });
}

function enqueue(files) {
  for (const file of files) {
    if (ready) analyzeFile(file);
    else pending.push(file);
  }
}

function drawBoxes(card, result) {
  const overlay = $(".overlay", card.element);
  overlay.replaceChildren();
  const { width, height } = result.metadata;
  const place = (div, x, y, w, h) => {
    Object.assign(div.style, { left: `${(100 * x) / width}%`, top: `${(100 * y) / height}%`, width: `${(100 * w) / width}%`, height: `${(100 * h) / height}%` });
    overlay.append(div);
  };
  for (const face of result.faces ?? []) {
    const r = face.faceRectangle;
    const div = document.createElement("div");
    div.className = "face-box";
    div.title = `face ${(face.score * 100).toFixed(0)}%`;
    place(div, r.left, r.top, r.width, r.height);
  }
  // Text lines as polygons (they may be rotated), in an SVG stretched over the thumbnail.
  const lines = result.readResult?.blocks?.flatMap((b) => b.lines) ?? [];
  if (lines.length) {
    const SVG = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "text-boxes");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    for (const line of lines) {
      const polygon = document.createElementNS(SVG, "polygon");
      polygon.setAttribute("class", "text-box");
      polygon.setAttribute("points", line.boundingPolygon.map((p) => `${p.x},${p.y}`).join(" "));
      const title = document.createElementNS(SVG, "title");
      title.textContent = line.text;
      polygon.append(title);
      svg.append(polygon);
    }
    overlay.append(svg);
  }
  // The vision-language model's regions: dense captions under the objects (drawn later, on top).
  // The first dense caption is the whole image: it is the list's first line, not a box.
  const labelled = (className, box, label) => {
    const div = document.createElement("div");
    div.className = className;
    div.title = label;
    div.append(Object.assign(document.createElement("span"), { className: "box-label", textContent: label }));
    place(div, box.x, box.y, box.w, box.h);
  };
  for (const region of result.denseCaptionsResult?.values?.slice(1) ?? []) labelled("dense-box", region.boundingBox, `${region.text}${percent(region.confidence)}`);
  for (const object of result.objectsResult?.values ?? []) labelled("object-box", object.boundingBox, objectLabel(object));
  const crop = result.smartCropsResult?.values?.[0]?.boundingBox;
  if (crop) {
    const div = document.createElement("div");
    div.className = "crop-box";
    div.title = "smart crop";
    place(div, crop.x, crop.y, crop.w, crop.h);
  }
}

/** " 87%" for a confidence the model gave, "" when it gave none. */
const percent = (confidence) => (typeof confidence === "number" ? ` ${Math.round(confidence * 100)}%` : "");
const objectLabel = (object) => object.tags.map((t) => `${t.name}${percent(t.confidence)}`).join(", ");

/** The vision-language model's caption under the image, and its objects and regions as a list. */
function showDescriptions(element, result) {
  const caption = result.captionResult;
  const figcaption = $(".vlm-caption", element);
  figcaption.hidden = !caption;
  figcaption.replaceChildren();
  if (caption) {
    const given = typeof caption.confidence === "number";
    const confidence = Object.assign(document.createElement("span"), {
      className: "confidence",
      textContent: given ? ` · ${Math.round(caption.confidence * 100)}%` : " · no confidence given",
    });
    // Why there is none: the server sent no token log-probabilities (the result's warning says so).
    if (!given && result.warning) confidence.title = result.warning;
    figcaption.append(Object.assign(document.createElement("span"), { className: "text", textContent: caption.text }), confidence);
    figcaption.title = caption.source ? `${caption.source.model} (${caption.source.backend})` : "";
  }
  const entry = (className, kind, text) => {
    const li = document.createElement("li");
    li.className = className;
    li.append(Object.assign(document.createElement("span"), { className: "kind", textContent: kind }), text);
    return li;
  };
  const dense = result.denseCaptionsResult?.values ?? [];
  const entries = [
    ...(result.objectsResult?.values ?? []).map((object) => entry("object", "object", objectLabel(object))),
    ...dense.map((region, i) => entry("region", i === 0 ? "image" : "region", `${region.text}${percent(region.confidence)}`)),
  ];
  const list = $(".regions", element);
  list.hidden = !entries.length;
  list.replaceChildren(...entries);
}

function showResult(id, result, model) {
  const card = cards.get(id);
  if (!card) return;
  card.result = result;
  card.model = model ?? loadedModel?.name ?? null;
  const { element } = card;
  const { width, height } = result.metadata;
  const faces = result.faces?.length ?? 0;
  $(".meta", element).textContent = `${width}×${height} · ${faces} face${faces === 1 ? "" : "s"} · ${result.color?.dominantColors?.join(", ") ?? ""}`;
  $(".state", element).textContent = result.tagsResult?.values?.length ? "" : "No tag reached the threshold.";
  const tags = $(".tags", element);
  tags.replaceChildren(...(result.tagsResult?.values ?? []).map((t) => bar(t.name, t.confidence)));
  drawBoxes(card, result);
  // A remote feature that failed: its error, beside the results that did arrive. Its own result
  // is present and empty (as Azure's clients expect), which must not read as "nothing found".
  const failures = result.featureErrors ?? [];
  const readFailed = failures.some((f) => f.feature === "read");
  const lines = result.readResult?.blocks?.flatMap((b) => b.lines) ?? [];
  const readList = $(".read-lines", element);
  readList.hidden = !result.readResult || readFailed;
  readList.replaceChildren(...lines.map((line) => Object.assign(document.createElement("li"), { textContent: line.text })));
  if (result.readResult && !lines.length) readList.replaceChildren(Object.assign(document.createElement("li"), { textContent: "No text found." }));
  showDescriptions(element, result);
  // One line per error: caption, denseCaptions and objects share one model call, and its failure.
  const grouped = [];
  for (const failure of failures) {
    const key = JSON.stringify([failure.error, failure.serviceError ?? null]);
    const same = grouped.find((g) => g.key === key);
    if (same) same.features.push(failure.feature);
    else grouped.push({ ...failure, key, features: [failure.feature] });
  }
  const errorList = $(".feature-errors", element);
  errorList.hidden = !failures.length;
  errorList.replaceChildren(
    ...grouped.map(({ features, error, serviceError }) => {
      const li = document.createElement("li");
      const detail = serviceError ? ` (HTTP ${serviceError.status}, ${serviceError.code})` : "";
      li.textContent = `${features.join(", ")}: ${error.message}${detail} [${error.innererror.code}]`;
      li.dataset.code = error.innererror.code;
      return li;
    }),
  );
  const { embedding, ...azure } = result;
  $(".json pre", element).textContent = JSON.stringify(azure, null, 2);
  $(".actions", element).hidden = false;
  $(".copy-embedding", element).onclick = () => navigator.clipboard.writeText(JSON.stringify(embedding));
  $(".download-json", element).onclick = () => {
    const url = URL.createObjectURL(new Blob([JSON.stringify(azure, null, 2)], { type: "application/json" }));
    const a = Object.assign(document.createElement("a"), { href: url, download: `${card.name}.json` });
    a.click();
    URL.revokeObjectURL(url);
  };
  sendLabels();
}

function showError(id, error, op) {
  const card = cards.get(id);
  if (!card) {
    $("#tools-status").textContent = `${op === "search" ? "Search" : op === "labels" ? "Custom labels" : "Error"}: ${error.message} [${error.code}]`;
    return;
  }
  card.element.classList.add("error");
  $(".state", card.element).textContent = `${error.message} [${error.code}]`;
  $(".thumb", card.element).hidden = true;
  $(".json", card.element).hidden = true;
}

let labelsTimer = 0;
function sendLabels() {
  clearTimeout(labelsTimer);
  labelsTimer = setTimeout(() => {
    const labels = $("#labels-input").value.split(",").map((l) => l.trim()).filter(Boolean);
    $("#tools-status").textContent = "";
    if (ready) scoreLabels(labels);
  }, 250);
}

/** Every analysed image's scores for the custom labels, from its stored embedding (labels embedded once). */
async function scoreLabels(labels) {
  const ids = [...embeddings.keys()];
  try {
    const scores = labels.length
      ? await withCurrent((slot) => slot.analyzer.classifyEmbeddings(ids.map((id) => embeddings.get(id)), labels))
      : ids.map(() => []);
    ids.forEach((id, i) => {
      const card = cards.get(id);
      if (card) $(".labels", card.element).replaceChildren(...scores[i].map((s) => bar(s.label, s.confidence)));
    });
  } catch (error) {
    showError(undefined, error, "labels");
  }
}

/** The analysed images ranked by their similarity to the text. */
async function search(text) {
  try {
    const query = await withCurrent((slot) => slot.analyzer.embedText(text));
    const ranking = [...embeddings].map(([id, e]) => {
      let cos = 0;
      for (let k = 0; k < e.length; k++) cos += e[k] * query[k];
      return { id, cosine: cos };
    });
    ranking.sort((a, b) => b.cosine - a.cosine);
    showRanking(ranking);
  } catch (error) {
    showError(undefined, error, "search");
  }
}

let searchTimer = 0;
function sendSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const text = $("#search-input").value.trim();
    $("#tools-status").textContent = "";
    if (!ready) return;
    if (!text) {
      for (const card of cards.values()) $(".search-score", card.element).hidden = true;
      return;
    }
    search(text);
  }, 300);
}

function showRanking(ranking) {
  const list = $("#results");
  ranking.forEach(({ id, cosine }, rank) => {
    const card = cards.get(id);
    if (!card) return;
    const score = $(".search-score", card.element);
    score.hidden = false;
    score.textContent = `Search rank ${rank + 1} (similarity ${cosine.toFixed(3)})`;
    list.append(card.element);
  });
}

// ---- Azure services ------------------------------------------------------------------------------
// Keys live in this page's memory and the analyzer's; localStorage only when the user asks. They are
// never put in a URL and never logged.
const SERVICES_STORAGE = "sightline-services";

function readServicesForm() {
  const value = (id) => $(`#${id}`).value.trim();
  return {
    read: value("read-endpoint") ? { endpoint: value("read-endpoint"), key: value("read-key"), apiVersion: value("read-api-version") } : null,
    face: value("face-endpoint")
      ? {
          endpoint: value("face-endpoint"),
          key: value("face-key"),
          landmarks: $("#face-landmarks").checked,
          attributes: [...document.querySelectorAll("input[name=face-attribute]:checked")].map((box) => box.value),
        }
      : null,
    caption: value("caption-endpoint")
      ? {
          endpoint: value("caption-endpoint"),
          key: value("caption-key"),
          model: value("caption-model"),
          api: value("caption-api"),
          apiVersion: value("caption-api-version"),
        }
      : null,
    readBackend: value("read-backend"),
    peopleBackend: value("people-backend"),
    visionFeatures: [...document.querySelectorAll("input[name=vision-feature]:checked")].map((box) => box.value),
    genderNeutralCaption: $("#gender-neutral-caption").checked,
    timeoutSeconds: Number(value("remote-timeout")) || 120,
  };
}

function fillServicesForm(settings) {
  const set = (id, v) => { if (v != null) $(`#${id}`).value = v; };
  set("read-endpoint", settings.read?.endpoint);
  set("read-key", settings.read?.key);
  set("read-api-version", settings.read?.apiVersion);
  set("face-endpoint", settings.face?.endpoint);
  set("face-key", settings.face?.key);
  $("#face-landmarks").checked = Boolean(settings.face?.landmarks);
  for (const box of document.querySelectorAll("input[name=face-attribute]")) box.checked = settings.face?.attributes?.includes(box.value) ?? false;
  set("caption-endpoint", settings.caption?.endpoint);
  set("caption-key", settings.caption?.key);
  set("caption-model", settings.caption?.model);
  set("caption-api", settings.caption?.api);
  set("caption-api-version", settings.caption?.apiVersion);
  for (const box of document.querySelectorAll("input[name=vision-feature]")) box.checked = settings.visionFeatures?.includes(box.value) ?? true;
  $("#gender-neutral-caption").checked = Boolean(settings.genderNeutralCaption);
  set("read-backend", settings.readBackend);
  set("people-backend", settings.peopleBackend);
  set("remote-timeout", settings.timeoutSeconds);
}

let servicesSettings = null; // given to the analyzer once the model is ready
/** Hand endpoints and keys to the analyzer (which keeps them in memory only); show what is in use. */
async function applyServices() {
  if (!ready || !servicesSettings) return;
  const { read, face, caption, timeoutSeconds } = servicesSettings;
  const services = {
    read: read ? { ...read, apiVersion: read.apiVersion || undefined } : null,
    face,
    caption: caption ? { ...caption, api: caption.api || "auto", apiVersion: caption.apiVersion || undefined } : null,
    timeoutSeconds: timeoutSeconds ?? 120,
  };
  try {
    showServices(await current.analyzer.setServices(services));
  } catch (error) {
    showServices({ error: { code: error?.code ?? "InvalidArgument", message: String(error?.message ?? error) } });
  }
}

$("#services-form").addEventListener("submit", (e) => {
  e.preventDefault();
  servicesSettings = readServicesForm();
  if ($("#remember-services").checked) localStorage.setItem(SERVICES_STORAGE, JSON.stringify(servicesSettings));
  else localStorage.removeItem(SERVICES_STORAGE);
  $("#services-status").textContent = ready ? "Applying…" : "Saved; applied once the model is loaded.";
  applyServices();
});
$("#forget-services").addEventListener("click", () => {
  localStorage.removeItem(SERVICES_STORAGE);
  $("#services-form").reset();
  servicesSettings = { read: null, face: null, caption: null, readBackend: "auto", peopleBackend: "auto", visionFeatures: VISION_FEATURES, genderNeutralCaption: false, timeoutSeconds: 120 };
  applyServices();
  $("#services-status").textContent = "Services and keys forgotten.";
});
try {
  const saved = JSON.parse(localStorage.getItem(SERVICES_STORAGE) ?? "null");
  if (saved) {
    fillServicesForm(saved);
    $("#remember-services").checked = true;
    servicesSettings = saved;
  }
} catch {
  localStorage.removeItem(SERVICES_STORAGE);
}

function showServices({ read, face, caption, error }) {
  const status = $("#services-status");
  if (error) {
    status.textContent = `Not applied: ${error.message} [${error.code}]`;
    status.classList.add("error");
    return;
  }
  status.classList.remove("error");
  const model = caption === "azure-openai" ? "Azure OpenAI" : "an OpenAI-compatible model";
  const used = [read && "Document Intelligence for text", face && "the Face API for faces", caption && `${model} for captions and objects`].filter(Boolean);
  const list = used.length > 1 ? `${used.slice(0, -1).join(", ")} and ${used.at(-1)}` : used[0];
  status.textContent = used.length ? `In use: ${list}. New images are sent to them.` : "No remote service in use: everything runs on this device.";
}

/** Files from a drop, descending into dropped folders. */
async function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files];
  const files = [];
  const walk = async (entry) => {
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const entry of entries) await walk(entry);
  return files;
}

const zone = $("#drop-zone");
zone.addEventListener("click", () => $("#file-input").click());
zone.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    $("#file-input").click();
  }
});
zone.addEventListener("dragover", (e) => {
  e.preventDefault();
  zone.classList.add("dragging");
});
zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
zone.addEventListener("drop", async (e) => {
  e.preventDefault();
  zone.classList.remove("dragging");
  enqueue(await droppedFiles(e.dataTransfer));
});
$("#file-input").addEventListener("change", (e) => enqueue(e.target.files));
document.addEventListener("paste", (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (files.length) enqueue(files);
});
$("#url-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const url = $("#url-input").value.trim();
  if (!url) return;
  const name = decodeURIComponent(new URL(url, location.href).pathname.split("/").pop() || "image");
  try {
    // The image is fetched by this browser, straight from its server (which must allow CORS).
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    enqueue([new File([await responseBytes(response, url)], name)]);
  } catch (error) {
    const id = addCard(new File([], name));
    if (error.code) showError(id, error);
    else showError(id, { code: "InvalidImageUrl", message: `could not download ${url}: ${error.message} (the server must allow cross-origin requests)` });
  }
});
$("#labels-input").addEventListener("input", sendLabels);
$("#search-input").addEventListener("input", sendSearch);

// Offline visits: the service worker keeps the app shell; the package keeps the model files (Cache Storage).
if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js", { type: "module" }).catch(() => {});

// ---- The model: the default one, or a model folder the user gave by URL ------------------------
// Only the folder's URL is ever stored (localStorage), and only when the user asks; a URL with a
// user name or password is refused by the loader, and query strings are dropped.
const MODEL_STORAGE = "sightline-model-url";
let defaultModel = "siglip-test-tiny";
/** The model in use: {name, url}; null before the first load. */
let loadedModel = null;
/** The load the page asked for last: {url, model, remember, remembered}. */
let requestedLoad = null;

function storedModelUrl() {
  try {
    return localStorage.getItem(MODEL_STORAGE);
  } catch {
    return null; // storage refused (some private modes)
  }
}

function storeModelUrl(url) {
  try {
    if (url) localStorage.setItem(MODEL_STORAGE, url);
    else localStorage.removeItem(MODEL_STORAGE);
  } catch {}
}

function requestLoad(request) {
  requestedLoad = request;
  load(request);
}

/** The latest load: a newer one aborts it, and a superseded load never replaces the model. */
let loadSeq = 0;
let loadController = null;

async function load(request) {
  const seq = ++loadSeq;
  loadController?.abort();
  const controller = (loadController = new AbortController());
  const { signal } = controller;
  modelLoading({ url: request.url ?? null, name: request.model ?? null });
  clearProgress();
  let analyzer = null;
  try {
    const model = request.url ? { folder: request.url, refresh: !request.remembered, manifest: MANIFEST } : { manifest: MANIFEST, name: request.model };
    const onProgress = ({ role, loaded, total, fromCache }) => showProgress({ label: LABELS[role] ?? role, loaded, total, fromCache });
    analyzer = await createAnalyzer({ model, modelBaseUrl: MODELS, onProgress, signal });
    // The tags file and the face model now, so the status says what this model has. A model folder
    // given by URL goes on without them (a note says why); the page's own model must have both.
    const notes = [];
    const extra = async (feature, note) => {
      try {
        await analyzer.prepare([feature], { signal });
        return true;
      } catch (error) {
        if (!request.url || error?.name === "AbortError") throw error;
        notes.push(note(error));
        return false;
      }
    };
    await extra("tags", (error) => `no tags: ${error?.status === 404 ? "the folder has no tags-en.sltags (make one with `sightline build-tags`)" : error.message} [${error.code ?? "DownloadFailed"}]; custom labels and search still work`);
    const faces = await extra("people", (error) => `no face detection: ${error.message} [${error.code ?? "LoadFailed"}]`);
    if (seq !== loadSeq) {
      analyzer.dispose();
      return;
    }
    const info = analyzer.model;
    const previous = current;
    current = { analyzer, name: info.name, read: null, busy: 0, retired: false };
    if (previous) {
      previous.retired = true;
      if (previous.busy === 0) previous.analyzer.dispose();
    }
    // The old model's embeddings are not comparable with the new one's.
    embeddings.clear();
    modelReady({ ...info, facesLoaded: faces, notes: [...info.notes, ...notes], runtime: analyzer.runtime });
    ready = true;
    document.body.dataset.ready = "true";
    // Which WebAssembly module runs the model (the fastest this browser loads) and its int8 kernel.
    document.body.dataset.wasmBuild = analyzer.runtime.build;
    document.body.dataset.int8Kernel = analyzer.runtime.int8Kernel;
    document.body.dataset.wasmThreads = analyzer.runtime.threads;
    noteMemory(current);
    applyServices();
    pending.splice(0).forEach(analyzeFile);
  } catch (error) {
    analyzer?.dispose();
    if (seq !== loadSeq) return; // superseded: the newer load reports
    const previous = current?.name ?? null;
    modelFailed({ url: request.url ?? null, name: request.model ?? null, previous, error: { code: error?.code ?? "LoadFailed", message: String(error?.message ?? error) } });
  } finally {
    if (loadController === controller) loadController = null;
  }
}

function modelLoading({ url, name }) {
  const what = url ? `the model at ${url}` : `the model ${name}`;
  setStatus(loadedModel ? `Loading ${what}… ${loadedModel.name} keeps working until it is ready.` : `Loading ${what}…`);
  $("#model-form").setAttribute("aria-busy", "true");
}

function modelReady(data) {
  const switched = loadedModel !== null;
  loadedModel = { name: data.name, url: data.url };
  $("#model-form").removeAttribute("aria-busy");
  // The banner follows the loaded model's descriptor (and the manifest, for a folder holding a
  // synthetic model's files): hidden again when a real model replaces a synthetic one.
  $("#synthetic-name").textContent = data.name;
  $("#synthetic-banner").hidden = !data.synthetic;
  const extras = `${data.tagCount ? ` with ${data.tagCount} tags` : " without tags"}${data.facesLoaded ? " and face detection" : ""}`;
  let text = data.url ? `Ready: ${data.name} from ${data.url}${extras}.` : `Ready: ${data.name}${extras}. Images never leave this device.`;
  const files = data.files ?? [];
  const unverified = files.filter((f) => !f.verified);
  if (data.url) {
    text += unverified.length
      ? ` ${unverified.length} of ${files.length} files are not in the manifest and are unverified: their sha256 is listed below.`
      : " Every file matched the manifest's sha256.";
    text += " Images never leave this device.";
  }
  if (data.notes?.length) text += ` Note: ${data.notes.join("; ")}.`;
  // The threaded module runs where the page is cross-origin isolated (scripts/serve's headers).
  if (data.runtime?.threads > 1) text += ` Running on ${data.runtime.threads} threads.`;
  if (data.runtime?.fallback) text += ` Note: ${data.runtime.fallback}.`;
  setStatus(text);
  showModelFiles(files);
  if (data.url) $("#model-url").value = data.url;
  // Remember (only) the folder's URL when asked; a successful load without the box ticked forgets it.
  if (requestedLoad?.url && !requestedLoad.remembered) storeModelUrl(requestedLoad.remember ? data.url : null);
  if (switched) {
    // Custom labels and search now cover the images this model analyses; older cards say which
    // model analysed them.
    for (const card of cards.values()) {
      if (!card.result || card.model === data.name) continue;
      $(".labels", card.element).replaceChildren();
      $(".search-score", card.element).hidden = true;
      $(".state", card.element).textContent = `Analysed with ${card.model}; custom labels and search use ${data.name}'s images only.`;
    }
  }
}

function showModelFiles(files) {
  const list = $("#model-files");
  list.hidden = !files.length;
  list.replaceChildren(
    ...files.map((f) => {
      const li = document.createElement("li");
      li.dataset.verified = String(f.verified);
      const path = Object.assign(document.createElement("span"), { className: "path", textContent: `${f.path} (${formatBytes(f.size)}${f.fromCache ? ", from cache" : ""})` });
      const check = document.createElement("span");
      if (f.verified) {
        check.className = "check-ok";
        check.textContent = `✓ verified: the manifest's sha256 of ${f.matched.model}/${f.matched.path}`;
      } else {
        check.className = "check-unverified";
        check.append("⚠ unverified (not in the manifest), sha256 ", Object.assign(document.createElement("span"), { className: "sha", textContent: f.sha256 }));
      }
      li.append(path, check);
      return li;
    }),
  );
}

function modelFailed({ url, name, previous, error }) {
  $("#model-form").removeAttribute("aria-busy");
  const reason = `${error.message} [${error.code}]`;
  if (requestedLoad?.remembered && !loadedModel) {
    // The remembered folder is gone or offline: the default model, and the URL stays remembered.
    setStatus(`The remembered model at ${url} could not be loaded: ${reason}. Loading the default model ${defaultModel} instead.`, { error: true });
    requestLoad({ model: defaultModel });
    return;
  }
  const what = url ? `the model from ${url}` : `the model ${name}`;
  setStatus(previous ? `Could not load ${what}: ${reason}. Still using ${previous}.` : `The model could not be loaded: ${reason}`, { error: true });
}

$("#model-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const url = $("#model-url").value.trim();
  if (!url) {
    setStatus("Enter the URL of a model folder or of a Hugging Face repository.", { error: true });
    $("#model-url").focus();
    return;
  }
  requestLoad({ url, remember: $("#remember-model").checked });
});
$("#default-model").addEventListener("click", () => {
  storeModelUrl(null);
  $("#remember-model").checked = false;
  $("#model-url").value = "";
  showModelFiles([]);
  requestLoad({ model: defaultModel });
});

// scripts/serve writes model.json naming the model it installed.
defaultModel = await fetch("model.json")
  .then((r) => (r.ok ? r.json() : {}))
  .then((config) => config.model ?? defaultModel)
  .catch(() => defaultModel);
const remembered = storedModelUrl();
if (remembered) {
  $("#model-url").value = remembered;
  $("#remember-model").checked = true;
  requestLoad({ url: remembered, remember: true, remembered: true });
} else {
  requestLoad({ model: defaultModel });
}
