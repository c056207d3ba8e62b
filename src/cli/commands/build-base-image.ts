import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { tap } from '../../platform/streams.js';
import { fileURLToPath } from 'node:url';
import { StratusError, isStratusError } from '../../domain/errors.js';
import { addDays, formatUtc } from '../../domain/dates.js';
import { pdiskLocation } from '../../domain/volume.js';
import type { VolumeInfo } from '../../domain/volume.js';
import { buildEntryXml } from '../../metadata/entry/build.js';
import type { EntryDraft } from '../../metadata/entry/build.js';
import { parseXml } from '../../metadata/xml/parse.js';
import { serializeDocument } from '../../metadata/xml/serialize.js';
import { signDocument } from '../../metadata/dsig/sign.js';
import { progressBar, formatBytes } from '../../platform/progress.js';
import { buildImage } from '../../images/builder.js';
import type { BuiltImage } from '../../images/builder.js';
import { defaultRecipesDir, listRecipes, loadRecipe } from '../../images/recipe.js';
import type { Recipe } from '../../images/recipe.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { PdiskClient } from '../../client/pdisk-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import type { Context } from '../program.js';
import { printAction, printInfo, printStep } from '../output.js';
import { addPdiskOptions, pdiskUrl } from '../pdisk.js';
import { marketplaceEndpoint } from '../user-config.js';
import type { PdiskOptionValues } from '../pdisk.js';
import { marketplaceOption } from '../marketplace.js';
import { gzipFile } from '../transfer/compress.js';
import { BUILDER_EMAIL, BUILDER_NAME, builderAccount, builderCredentials } from '../builder-identity.js';
import { defaultDataDir } from '../../platform/data-dir.js';

/** Where `stratus serve` listens by default. */
const LOCAL_SERVER = 'http://127.0.0.1:9204';
/** Base images stay valid for a year; the builder re-publishes when packages change. */
const VALID_DAYS = 365;

interface Options extends PdiskOptionValues {
  recipe?: string;
  list?: boolean;
  publish: boolean;
  force?: boolean;
  json?: boolean;
  dataDir: string;
  recipesDir?: string;
}

export default async function main(argv: string[]): Promise<number> {
  const program = addPdiskOptions(marketplaceOption(newProgram('stratus-build-base-image',
    'Build a base image from a recipe (cached by recipe and package versions), then publish it like StratusLab\'s builder: gzip, upload as a PUBLIC volume, sign its metadata as hudson.builder and upload it to the Marketplace.')))
    .option('--recipe <name>', 'the recipe to build (see --list)')
    .option('--list', 'list the recipes')
    .option('--no-publish', 'build (or find in the cache) only')
    .option('--force', 'rebuild even when the cache has the image')
    .option('--json', 'print the result as JSON')
    .option('--data-dir <dir>', 'the server data dir, where the builder identity is kept (env STRATUS_DATA_DIR)', defaultDataDir())
    .option('--recipes-dir <dir>', 'where recipes live (default: recipes/ of this installation)')
    .action(async (o: Options) => {
      const ctx = contextOf(program);
      const recipesDir = o.recipesDir ?? defaultRecipesDir(dirname(fileURLToPath(import.meta.url)));
      if (o.list) {
        for (const name of listRecipes(recipesDir)) ctx.output.out(`${name}\t${loadRecipe(recipesDir, name).title}`);
        return;
      }
      if (!o.recipe) throw new StratusError('USAGE', '--recipe is required', { hint: `Recipes: ${listRecipes(recipesDir).join(', ')}.` });
      const recipe = loadRecipe(recipesDir, o.recipe);
      printAction(ctx.output, `Building base image ${recipe.name}`);
      const built = await buildImage(recipe, { force: o.force ?? false, onLine: (l) => printStep(ctx.output, l.replace(/^\[\s*[\d.]+s\]\s*/, '')) });
      printStep(ctx.output, built.fresh
        ? `Built in ${built.buildSeconds.toFixed(1)} s: ${formatBytes(built.bytes)} (${formatBytes(built.allocatedBytes)} allocated), identifier ${built.identifier}`
        : `Found in the cache (key ${built.key}): identifier ${built.identifier}`);
      const result: Record<string, unknown> = { recipe: recipe.name, image: built.path, identifier: built.identifier, key: built.key, cached: !built.fresh, bytes: built.bytes };
      if (o.publish) Object.assign(result, await publish(ctx, o, recipe, built));
      if (o.json) ctx.output.out(JSON.stringify(result, null, 2));
    });
  return runProgram(program, argv);
}

async function publish(ctx: Context, o: Options, recipe: Recipe, built: BuiltImage): Promise<Record<string, unknown>> {
  const out = ctx.output;
  printAction(out, 'Publishing');
  const gz = `${built.path}.gz`;
  if (!existsSync(gz)) {
    printStep(out, 'Compressing image');
    const bar = progressBar('gzip', built.bytes);
    await gzipFile(built.path, gz, { onProgress: (n) => bar.update(n) });
    bar.finish();
  }
  // An admin tool run beside the server: it publishes to the local server unless told otherwise.
  const mpRaw = ctx.setting({ key: 'marketplace_endpoint' }, o.marketplaceEndpoint) ?? LOCAL_SERVER;
  const endpoint = pdiskUrl(ctx, { ...o, marketplaceEndpoint: mpRaw });
  const username = ctx.setting({ key: 'username' }, o.username);
  const password = ctx.setting({ key: 'password' }, o.password);
  const adminGiven = username && password ? { username, password } : undefined;
  const creds = await builderAccount(o.dataDir, endpoint, adminGiven);
  const pdisk = new PdiskClient(endpoint, creds);

  printStep(out, 'Uploading image');
  const volume = await uploadOrReuse(pdisk, gz, built, recipe);
  printInfo(out, `Image uploaded: ${pdisk.volumeUrl(volume.uuid)}`);

  const marketplace = new MarketplaceClient(marketplaceEndpoint(mpRaw));
  const listed = await marketplace.list({ identifier: built.identifier, endorser: BUILDER_EMAIL });
  const current = listed.entries[0];
  if (current) {
    printStep(out, `The Marketplace already lists this image by ${BUILDER_EMAIL} (valid until ${current.valid})`);
    return { volume: volume.uuid, entry: `${marketplace.endpoint}${current.path}`, published: false };
  }
  printStep(out, 'Signing manifest');
  const now = new Date();
  const draft: EntryDraft = {
    identifier: built.identifier, bytes: built.bytes,
    checksums: { 'MD5': built.md5, 'SHA-1': built.sha1, 'SHA-256': built.sha256, 'SHA-512': built.sha512 },
    type: 'base', kind: 'machine', os: recipe.os, osVersion: recipe.osVersion, osArch: recipe.osArch, version: recipe.version,
    compression: 'gz', locations: [pdiskLocation(endpoint, volume.uuid)], format: 'raw', creator: BUILDER_NAME,
    created: formatUtc(now), valid: formatUtc(addDays(now, VALID_DAYS)), title: recipe.title, alternative: recipe.name,
    description: recipe.description, hypervisor: 'kvm', disksBus: recipe.disksBus, inboundPorts: recipe.inboundPorts,
  };
  const doc = parseXml(buildEntryXml(draft));
  signDocument(doc, { credentials: builderCredentials(o.dataDir), now });
  printStep(out, 'Uploading manifest');
  const { url } = await marketplace.upload(serializeDocument(doc));
  printInfo(out, `Manifest uploaded: ${url}`);
  return { volume: volume.uuid, entry: url, published: true };
}

/** Uploads the gzipped image as a PUBLIC origin volume, or finds the volume that holds it already. */
async function uploadOrReuse(pdisk: PdiskClient, gz: string, built: BuiltImage, recipe: Recipe): Promise<VolumeInfo> {
  const existing = (await pdisk.list()).find((v) => v.identifier === built.identifier && v.origin === null);
  if (existing) return existing;
  const size = statSync(gz).size;
  const bar = progressBar('upload', size);
  let sent = 0;
  const counting = tap((chunk) => {
    sent += chunk.length;
    bar.update(sent);
  });
  try {
    const v = await pdisk.upload(createReadStream(gz, { highWaterMark: 1024 * 1024 }).pipe(counting), {
      gzipped: true, size, tag: recipe.name, visibility: 'PUBLIC', type: 'MACHINE_IMAGE_ORIGIN',
    });
    bar.finish();
    if (v.identifier !== built.identifier) {
      throw new StratusError('INTERNAL', `the disk service computed identifier ${v.identifier} for ${gz}, but the image's is ${built.identifier}`);
    }
    return v;
  } catch (e) {
    if (isStratusError(e, 'VOLUME_DUPLICATE')) {
      throw new StratusError('VOLUME_DUPLICATE', `another account holds a private volume with this image (${built.identifier})`, { hint: 'Make it PUBLIC, or delete it, and publish again.' });
    }
    throw e;
  }
}

