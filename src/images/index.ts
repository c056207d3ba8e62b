/**
 * The images layer's public surface: what cli/ (and later the compute image cache and the
 * Epilog) may use. Everything else under images/ is internal; the lint rules enforce it.
 */
import type { FetchRequest, FetchResult, UrlFetchRequest } from './fetch.js';
import type { PublishRequest, PublishResult } from './publish.js';
import type { BuildOptions, BuiltImage } from './builder.js';
import type { PipelineEvents } from './events.js';
import type { Recipe } from './recipe.js';
import type * as CreateParts from './create/index.js';
import type { ConvertRequest, ConvertResult, OutputFormat } from './convert.js';
import type { AuditResult, SysprepRequest, SysprepResult } from './audit/index.js';

export type { FetchRequest, FetchResult, UrlFetchRequest } from './fetch.js';
export type { ConvertRequest, ConvertResult, OutputFormat } from './convert.js';
export type { AuditResult, Finding, Severity, SysprepRequest, SysprepResult } from './audit/index.js';
// Pure and small (no tool, no I/O): loaded with the surface, unlike the pipelines below.
export { byWorst } from './audit/checks.js';
// The guest's side of a booted base's package index (shell text, nothing loaded).
export { aptIndexFetch } from './apt-index.js';
export type { UrlGuard } from './transfer/locations.js';
export type { EntryPublication, EntrySource, PublishRequest, PublishResult, VolumeFields } from './publish.js';

/*
 * The pipelines are loaded when first called, so that a command loads only the one it runs:
 * every module loaded at start-up made the streaming that follows slower (loading publish's
 * modules as well made stratus-download-image of 1 GiB 3.6 s → 4.7 s; see docs/benchmarks.md).
 */

/** Converts a foreign disk to a raw or qcow2 image, its format read from its header (see convert.ts). */
export async function convertImage(req: ConvertRequest): Promise<ConvertResult> {
  return (await import('./convert.js')).convertImage(req);
}

/** The offline audit of an image against the seed's checklist (see audit/). */
export async function auditImage(path: string): Promise<AuditResult> {
  return (await import('./audit/index.js')).auditImage(path);
}

/** Whether a raw image holds a file, read offline (see audit/index.ts). */
export async function imageHasFile(raw: string, file: string): Promise<boolean> {
  return (await import('./audit/index.js')).imageHasFile(raw, file);
}

/** The audit's verdict on an image in one line, for a saved image's draft (see audit/index.ts). */
export async function auditVerdict(path: string): Promise<string> {
  return (await import('./audit/index.js')).auditVerdict(path);
}

/** A cleaned copy of an image: the audit's fixable findings fixed offline (see audit/index.ts). */
export async function sysprepImage(req: SysprepRequest): Promise<SysprepResult> {
  return (await import('./audit/index.js')).sysprepImage(req);
}

/** The output format a file name asks for (see convert.ts). */
export function outputFormatFor(path: string): OutputFormat {
  return /\.qcow2?(\.gz)?$/i.test(path) ? 'qcow2' : 'raw';
}

/** Fetches an entry's image, verified (see fetch.ts). */
export async function fetchImage(req: FetchRequest, events: PipelineEvents): Promise<FetchResult> {
  return (await import('./fetch.js')).fetchImage(req, events);
}

/** Fetches a plain URL's image, unverified but bounded and guarded (see fetch.ts). */
export async function fetchUrl(req: UrlFetchRequest, events: PipelineEvents): Promise<{ sha1: string; bytes: number }> {
  return (await import('./fetch.js')).fetchUrl(req, events);
}

/** Where a HEAD request to `url` ends after redirects, and its status (see fetch.ts). */
export async function resolveUrl(url: string): Promise<{ url: string; status: number; statusText: string }> {
  return (await import('./fetch.js')).resolveUrl(url);
}

/** Publishes an image: compress, pdisk volume, entry, sign, upload (see publish.ts). */
export async function publishImage(req: PublishRequest, events: PipelineEvents): Promise<PublishResult> {
  return (await import('./publish.js')).publishImage(req, events);
}

/** Builds a recipe's image, or finds it in the cache (see builder.ts). */
export async function buildImage(recipe: Recipe, opts?: BuildOptions): Promise<BuiltImage> {
  return (await import('./builder.js')).buildImage(recipe, opts);
}

/** stratus-create-image's steps, installers, scripts and step cache (see create/index.ts). */
export async function createImageParts(): Promise<typeof CreateParts> {
  return import('./create/index.js');
}
export type { CreateDeps, CreateEvents, CreatePlan, Installer, LayerApi, Remote, Repo, ScriptEntry } from './create/index.js';

export { quietEvents } from './events.js';
export type { PipelineEvents } from './events.js';
export { planSource } from './transfer/image-source.js';
export type { ImageSource } from './transfer/image-source.js';
export { draftFor, metadataFileFor } from './transfer/manifest.js';
export type { BuiltImage } from './builder.js';
export { defaultRecipesDir, listRecipes, loadRecipe } from './recipe.js';
export type { Recipe } from './recipe.js';
