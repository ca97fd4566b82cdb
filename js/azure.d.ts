// Type declarations for `sightline/azure`: Azure's JS client for Image Analysis answered in the page.
// Needs `@azure/core-rest-pipeline` (an optional peer dependency of the package; the REST client
// `@azure-rest/ai-vision-image-analysis` brings it).
import type { HttpClient } from "@azure/core-rest-pipeline";
import type { Analyzer } from "./index.js";

/**
 * An `httpClient` for Azure's REST clients whose requests `analyzer` answers instead of Azure:
 *
 * ```js
 * const client = createClient(endpoint, new AzureKeyCredential(key), { httpClient: createAzureHttpClient(analyzer) });
 * ```
 *
 * `POST /computervision/imageanalysis:analyze` (the image's bytes or `{"url"}`),
 * `retrieval:vectorizeImage` and `retrieval:vectorizeText` are answered with Azure's statuses,
 * `x-ms-error-code` header and `{"error": {code, message, innererror}}` bodies; any other path is a
 * 404. A request aborted through its `abortSignal` (or over its `timeout`) rejects with an Error
 * named "AbortError"; one the analyzer cannot take at all (disposed) with a `RestError` whose
 * `code` is Sightline's ("AnalyzerDisposed").
 */
export declare function createAzureHttpClient(analyzer: Analyzer): HttpClient;
