import type { Progress } from '../platform/progress.js';

/**
 * What the image pipelines tell their caller as they go. The CLI prints these the StratusLab
 * way; the compute image cache and the Epilog can log them.
 */
export interface PipelineEvents {
  /** A group of steps starts ('Starting image upload'). */
  action(name: string): void;
  /** A step starts ('Uploading image'). */
  step(name: string): void;
  info(message: string): void;
  /** Worth showing only to those who asked for detail. */
  detail(message: string): void;
  warn(message: string): void;
  /** A progress meter of `total` bytes. */
  progress(label: string, total: number): Progress;
}

/** Events that go nowhere, for callers that only want the result. */
export const quietEvents: PipelineEvents = {
  action: () => undefined,
  step: () => undefined,
  info: () => undefined,
  detail: () => undefined,
  warn: () => undefined,
  progress: () => ({ update: () => undefined, finish: () => undefined }),
};
