// How an app uses the package, written against its declarations only. `tsc --noEmit` must pass;
// every @ts-expect-error line must BE an error, so the types cannot silently become `any`.
import { createAnalyzer, SightlineError, ErrorCodes, DEFAULT_MODEL, CACHE_NAME } from "sightline";
import type { Analyzer, ImageAnalysisResult, LabelScore, LoadProgress, ModelInfo } from "sightline";
import "sightline/element";
import type { SightlineAnalyzerElement } from "sightline/element";

export async function tagPhoto(file: File, canvas: HTMLCanvasElement, img: HTMLImageElement): Promise<string[]> {
  const progress: LoadProgress[] = [];
  const analyzer: Analyzer = await createAnalyzer({
    model: DEFAULT_MODEL,
    modelBaseUrl: "/models/",
    onProgress: (p) => progress.push(p),
    cache: true,
    worker: true,
    threads: "auto",
  });
  // Null for an analyzer made with features that need no SigLIP model (until one loads).
  const info: ModelInfo | null = analyzer.model;
  const pool: number = analyzer.runtime.threads;
  const threaded: boolean = analyzer.runtime.build === "threads";
  const dim: number = info ? info.embeddingDim : 0;
  const reader: Analyzer = await createAnalyzer({ features: ["read"], modelBaseUrl: "/models/" });
  const text: string | undefined = (await reader.analyze(file, { features: ["read"] })).readResult?.content;
  const needsTags: string[] = analyzer.featureTable.features.filter((f) => f.needs.includes("tags")).map((f) => f.name);
  const folder: Analyzer = await createAnalyzer({ model: { folder: "https://huggingface.co/OWNER/REPO", refresh: true } });
  const unverified: string[] = (folder.model?.files ?? []).filter((f) => !f.verified).map((f) => f.sha256);
  const png: Blob = await folder.preview(file, { maxSide: 512 });
  const inUse: boolean = (await folder.setServices({ read: { endpoint: "/azure-read", key: "k", apiVersion: "2024-11-30" }, timeoutSeconds: 30 })).read;
  // @ts-expect-error: the Face API takes only its own attributes
  await folder.setServices({ face: { endpoint: "https://f.cognitiveservices.azure.com", key: "k", attributes: ["emotion"] } });
  // A vision-language model for caption, denseCaptions and objects: Azure OpenAI, or a local server without a key.
  const vlm = await folder.setServices({ caption: { endpoint: "https://r.openai.azure.com", key: "k", model: "gpt-4o", api: "azure-openai", apiVersion: "2024-10-21" } });
  const vlmApi: "azure-openai" | "openai-compatible" | null = vlm.caption;
  await folder.setServices({ caption: { endpoint: "http://localhost:11434", model: "llava" } });
  // @ts-expect-error: the model (or deployment) is required
  await folder.setServices({ caption: { endpoint: "https://r.openai.azure.com", key: "k" } });
  // @ts-expect-error: only the two APIs (or "auto")
  await folder.setServices({ caption: { endpoint: "https://r.openai.azure.com", key: "k", model: "m", api: "gemini" } });
  const described: ImageAnalysisResult = await folder.analyze(file, {
    features: ["caption", "denseCaptions", "objects"],
    captionBackend: "azure-openai",
    objectsBackend: "auto",
    genderNeutralCaption: true,
  });
  const caption: string | undefined = described.captionResult?.text;
  const captionConfidence: number | undefined = described.captionResult?.confidence;
  const regions: string[] = described.denseCaptionsResult?.values.slice(1).map((d) => `${d.text} ${d.boundingBox.w}x${d.boundingBox.h}`) ?? [];
  const objectNames: string[] = described.objectsResult?.values.flatMap((o) => o.tags.map((t) => `${t.name} ${t.confidence ?? "?"}`)) ?? [];
  const answeredBy: string | undefined = described.captionResult?.source?.model;
  const noConfidence: string | undefined = described.warning;
  // @ts-expect-error: an object's box is boundingBox
  described.objectsResult?.values[0]?.box;

  const controller = new AbortController();
  const result: ImageAnalysisResult = await analyzer.analyze(file, {
    features: ["tags", "smartCrops", "people"],
    labels: ["a receipt"],
    smartcropsAspectRatios: [1.5],
    signal: controller.signal,
    readBackend: "local",
  });
  const tags = result.tagsResult?.values.map((t) => `${t.name} ${t.confidence.toFixed(2)}`) ?? [];
  const crop = result.smartCropsResult?.values[0]?.boundingBox;
  const faces = result.faces?.map((f) => f.faceRectangle.width) ?? [];

  await analyzer.analyze(new ArrayBuffer(8));
  await analyzer.analyze("/photo.jpg");
  await analyzer.analyze(new URL("https://example.com/photo.jpg"));
  await analyzer.analyze(img);
  await analyzer.analyze(canvas);
  await analyzer.analyze(await createImageBitmap(canvas));
  await analyzer.analyze(new ImageData(4, 4));
  await analyzer.prepare(["people"]);

  const image: Float32Array = await analyzer.embedImage(file);
  const one: Float32Array = await analyzer.embedText("a cat");
  const many: Float32Array[] = await analyzer.embedText(["a cat", "a dog"]);
  const scores: LabelScore[] = await analyzer.classify(file, ["a cat"]);
  const perImage: LabelScore[][] = await analyzer.classifyEmbeddings([image], ["a cat"]);

  try {
    await createAnalyzer({ model: { manifest: "/models/manifest.json", name: "siglip-test-tiny" }, worker: false });
    await createAnalyzer({
      model: { descriptor: "/m/sightline.json", vision: "/m/vision.onnx", text: { url: "/m/text.onnx", sha256: "ab" }, tokenizer: "/m/tokenizer.json", tags: "/m/tags-en.sltags" },
    });
  } catch (error) {
    if (error instanceof SightlineError && error.code === ErrorCodes.ChecksumMismatch) console.warn(error.azure?.error.code);
  }
  analyzer.dispose();

  const element: SightlineAnalyzerElement = document.createElement("sightline-analyzer");
  element.addEventListener("sightline-result", (event) => console.log(event.detail.result.metadata.width));
  await element.analyzeFiles([file]);

  // @ts-expect-error numbers are not images
  await analyzer.analyze(42);
  // @ts-expect-error misspelt result field
  result.tagsResult?.values[0]?.nam;
  // @ts-expect-error labels are strings
  await analyzer.classify(file, [1, 2]);
  // @ts-expect-error embedText of one string is one vector, not a list
  const wrong: Float32Array[] = await analyzer.embedText("a cat");
  // @ts-expect-error an unknown option of createAnalyzer
  await createAnalyzer({ modle: "x" });
  // @ts-expect-error threads is a count or "auto"
  await createAnalyzer({ threads: "all" });

  return [...tags, ...regions, ...objectNames, String(vlmApi), String(caption), String(captionConfidence), String(answeredBy), String(noConfidence), String(crop?.w), String(faces.length), String(dim), String(pool), String(threaded), CACHE_NAME, String(one.length + many.length + scores.length + perImage.length + progress.length + wrong.length)];
}
