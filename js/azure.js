// Azure's JS client for Image Analysis (`@azure-rest/ai-vision-image-analysis`), answered in the
// page: `createClient(endpoint, credential, { httpClient: createAzureHttpClient(analyzer) })`
// keeps the app's SDK code as it is and sends each request, instead of over the network, to the
// analyzer's `restRequest`, which parses the route and query and answers with Azure's statuses,
// headers and JSON bodies (the same core answers `sightline serve`). This module is the
// `sightline/azure` subpath, so only apps that use the SDK load `@azure/core-rest-pipeline` (an
// optional peer dependency: the app's own copy, the one its SDK client uses).

import { RestError, createHttpHeaders } from "@azure/core-rest-pipeline";

/**
 * What core-rest-pipeline's own clients reject with when `request.abortSignal` fires: an Error
 * named "AbortError" (the class @azure/abort-controller exports; its callers test `name`, so a
 * local class avoids a second peer dependency).
 */
class AbortError extends Error {
  constructor(message = "The operation was aborted.") {
    super(message);
    this.name = "AbortError";
  }
}

/**
 * An `HttpClient` (`{ sendRequest(request) }`, as `@azure/core-rest-pipeline` defines it) whose
 * requests `analyzer` answers. Everything the client's pipeline does before sending (credential
 * header, user agent, request id, retries of 5xx answers) still happens; the endpoint's host is
 * never contacted, so any endpoint and key do.
 * @param {import("./index.js").Analyzer} analyzer from `createAnalyzer()`
 * @returns {import("@azure/core-rest-pipeline").HttpClient}
 */
export function createAzureHttpClient(analyzer) {
  if (typeof analyzer?.restRequest !== "function") {
    throw new TypeError("createAzureHttpClient needs an Analyzer from sightline's createAnalyzer()");
  }
  return {
    async sendRequest(request) {
      const outer = request.abortSignal;
      // Refused before any work, with the message core-rest-pipeline's fetch client uses.
      if (outer?.aborted) throw new AbortError("The operation was aborted. Request has already been canceled.");
      // The pipeline's signal, and the request's `timeout` (ms, 0: none), which the network
      // clients also turn into an abort.
      const controller = new AbortController();
      const abort = () => controller.abort();
      outer?.addEventListener("abort", abort, { once: true });
      const timer = request.timeout > 0 ? setTimeout(abort, request.timeout) : undefined;
      try {
        const { bytes, contentType } = await requestBody(request);
        const answer = await analyzer.restRequest(
          { method: request.method, url: request.url, contentType, body: bytes },
          { signal: controller.signal },
        );
        return pipelineResponse(request, answer);
      } catch (error) {
        if (controller.signal.aborted || error?.name === "AbortError") throw new AbortError();
        // A request restRequest could not answer at all (the analyzer disposed or its worker
        // gone): what the network clients throw when a request cannot be sent, a RestError with
        // no status. Its code is Sightline's (e.g. "AnalyzerDisposed"), which no retry strategy
        // retries.
        throw Object.assign(
          new RestError(`Error sending request: ${error?.message ?? error}`, { code: error?.code ?? RestError.REQUEST_SEND_ERROR, request }),
          { cause: error },
        );
      } finally {
        clearTimeout(timer);
        outer?.removeEventListener("abort", abort);
      }
    },
  };
}

/**
 * The request's body as bytes and its media type. The REST client sends an image as the
 * Uint8Array the app passed (a ReadableStream too: the SDK's types allow one), JSON
 * (`{"url"}`, `{"text"}`) as a string; a multipart body reaches the client as a stream, and any
 * HttpClient may be handed an ArrayBuffer, a Blob or a stream factory. Nothing here needs the
 * network.
 */
async function requestBody(request) {
  // A factory gives a fresh stream for each attempt (so retries can resend it).
  let body = typeof request.body === "function" ? request.body() : request.body;
  const declared = request.headers.get("content-type") ?? null;
  if (body === undefined || body === null) return { bytes: null, contentType: declared };
  // A Node.js stream (the SDK under Node): collected into a Blob, which Response reads.
  if (typeof body.pipe === "function" && typeof body[Symbol.asyncIterator] === "function") {
    const chunks = [];
    for await (const chunk of body) chunks.push(chunk);
    body = new Blob(chunks);
  }
  // Response reads every other body type fetch() sends (string as UTF-8, ArrayBuffer, any typed
  // array or DataView, Blob, FormData, web ReadableStream) into a new buffer, so the analyzer may
  // keep or transfer it while the caller's array stays intact for the pipeline's retries. Without
  // a Content-Type header, the type fetch() would send (a Blob's own, text/plain for a string).
  const read = new Response(body);
  const bytes = new Uint8Array(await read.arrayBuffer());
  return { bytes, contentType: declared ?? read.headers.get("content-type") };
}

/**
 * The PipelineResponse for restRequest's `{status, headers, body}`: headers as HttpHeaders
 * (the client reads them with `.get()` and `.toJSON()`), the body as text, or as the stream or
 * Blob a caller of `asBrowserStream()` asked for (`streamResponseStatusCodes`).
 */
function pipelineResponse(request, { status, headers, body }) {
  const response = { request, status, headers: createHttpHeaders(headers) };
  const codes = request.streamResponseStatusCodes;
  if (codes?.has(Number.POSITIVE_INFINITY) || codes?.has(status)) {
    const blob = new Blob([body], { type: response.headers.get("content-type") ?? "" });
    if (request.enableBrowserStreams) response.browserStreamBody = blob.stream();
    else response.blobBody = Promise.resolve(blob);
  } else {
    response.bodyAsText = body;
  }
  return response;
}
