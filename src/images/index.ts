/**
 * The images layer's public surface: what cli/ (and later the compute image cache and the
 * Epilog) may use. Everything else under images/ is internal; the lint rules enforce it.
 */
export { fetchImage } from './fetch.js';
export type { FetchRequest, FetchResult } from './fetch.js';
export { publishImage } from './publish.js';
export type { EntryPublication, EntrySource, PublishRequest, PublishResult, VolumeFields } from './publish.js';
export { quietEvents } from './events.js';
export type { PipelineEvents } from './events.js';
export { planSource } from './transfer/image-source.js';
export type { ImageSource } from './transfer/image-source.js';
export { draftFor, metadataFileFor } from './transfer/manifest.js';
export { buildImage } from './builder.js';
export type { BuiltImage } from './builder.js';
export { defaultRecipesDir, listRecipes, loadRecipe } from './recipe.js';
export type { Recipe } from './recipe.js';
