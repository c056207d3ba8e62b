import type { PipelineEvents } from '../images/index.js';
import { progressBar } from '../platform/progress.js';
import { printAction, printDetail, printInfo, printStep, printWarning } from './output.js';
import type { Output } from './output.js';

/** The image pipelines' events, printed the StratusLab way. */
export function cliEvents(out: Output): PipelineEvents {
  return {
    action: (name) => printAction(out, name),
    step: (name) => printStep(out, name),
    info: (m) => printInfo(out, m),
    detail: (m) => printDetail(out, m),
    warn: (m) => printWarning(out, m),
    progress: (label, total) => progressBar(label, total),
  };
}
