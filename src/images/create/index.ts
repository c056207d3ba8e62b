/**
 * stratus-create-image (reference §3): the steps from `Starting base image` to `Shutting down
 * machine`, the installers, the scripts and the step cache. The CLI reaches these through
 * images/index.ts (createImageParts), loaded only when the command runs.
 */
export { createImage } from './steps.js';
export type { CreateDeps, CreateEvents, CreatePlan } from './steps.js';
export { installerFor, parsePackages, parseRepos, requireInstaller, repoFiles } from './installers.js';
export type { Installer, Repo } from './installers.js';
export { readScripts } from './scripts.js';
export type { ScriptEntry } from './scripts.js';
export { SshRemote } from './remote.js';
export type { Remote } from './remote.js';
export type { LayerApi } from './step-cache.js';
export { checkRequired, saveRequestOf, seconds } from './options.js';
export type { NewImageOptions } from './options.js';
