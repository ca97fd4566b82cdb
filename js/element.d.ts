// Type declarations for `sightline/element`: importing it defines <sightline-analyzer>.
import type { Analyzer, ImageAnalysisResult, ModelInfo } from "./index.js";

export declare class SightlineAnalyzerElement extends HTMLElement {
  /** The Analyzer once the model is loaded; null before and after removal. */
  analyzer: Analyzer | null;
  /** Analyse files and add a card for each; resolves when all are done. */
  analyzeFiles(files: FileList | File[]): Promise<void>;
}

export interface SightlineReadyEvent extends CustomEvent<{ model: ModelInfo }> {}
export interface SightlineResultEvent extends CustomEvent<{ file: File; result: ImageAnalysisResult }> {}
export interface SightlineErrorEvent extends CustomEvent<{ file: File | null; error: Error & { code?: string } }> {}

declare global {
  interface HTMLElementTagNameMap {
    "sightline-analyzer": SightlineAnalyzerElement;
  }
  interface HTMLElementEventMap {
    "sightline-ready": SightlineReadyEvent;
    "sightline-result": SightlineResultEvent;
    "sightline-error": SightlineErrorEvent;
  }
}
