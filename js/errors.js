// One error type for everything the package throws, so callers branch on `error.code` whether the
// problem came from the WebAssembly core (which throws Errors named "SightlineError" with a
// `code` and the Azure error body in `azure`), from loading models, or from this JS layer.

/** Codes raised by the JS layer itself; the core's codes (InvalidImageFormat, TagsNotLoaded, …) pass through. */
export const ErrorCodes = Object.freeze({
  DownloadFailed: "DownloadFailed",
  ChecksumMismatch: "ChecksumMismatch",
  UnknownModel: "UnknownModel",
  InvalidManifest: "InvalidManifest",
  InvalidOptions: "InvalidOptions",
  UnsupportedInput: "UnsupportedInput",
  FeatureNotAvailable: "FeatureNotAvailable",
  AnalyzerDisposed: "AnalyzerDisposed",
  WorkerFailed: "WorkerFailed",
});

export class SightlineError extends Error {
  /**
   * @param {string} code stable machine-readable code
   * @param {string} message
   * @param {{azure?: object, status?: number, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "SightlineError";
    this.code = code;
    if (extra.azure) this.azure = extra.azure;
    // A download that failed: the HTTP status of the last URL tried (404: there is no such file).
    if (extra.status !== undefined) this.status = extra.status;
  }

  /** The plain object that crosses postMessage (Error subclasses lose their fields in structured clone). */
  toJSON() {
    return { name: this.name, code: this.code, message: this.message, azure: this.azure, status: this.status };
  }

  /**
   * Wrap anything thrown into a SightlineError, keeping the core's code and Azure body. Abort
   * reasons (DOMException "AbortError") are returned unchanged: callers test `error.name`.
   */
  static from(error, fallbackCode = "InferenceFailed") {
    if (error instanceof SightlineError) return error;
    if (error?.name === "AbortError") return error;
    if (error && typeof error === "object" && typeof error.code === "string") {
      return new SightlineError(error.code, String(error.message ?? error.code), { azure: error.azure, cause: error });
    }
    return new SightlineError(fallbackCode, String(error?.message ?? error), { cause: error });
  }
}

/** Rebuild an error that crossed postMessage as `SightlineError#toJSON()` output. */
export function errorFromMessage(data) {
  if (data?.name === "AbortError") return new DOMException(data.message, "AbortError");
  return new SightlineError(data?.code ?? ErrorCodes.WorkerFailed, data?.message ?? "unknown worker error", { azure: data?.azure, status: data?.status ?? undefined });
}
