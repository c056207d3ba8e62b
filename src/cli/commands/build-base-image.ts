import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StratusError } from '../../domain/errors.js';
import { newDraft } from '../../metadata/entry/build.js';
import { formatBytes } from '../../platform/progress.js';
import { buildImage, defaultRecipesDir, listRecipes, loadRecipe, planSource, publishImage } from '../../images/index.js';
import type { BuiltImage, Recipe } from '../../images/index.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { PdiskClient } from '../../client/pdisk-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import type { Context } from '../program.js';
import { printAction, printInfo, printStep } from '../output.js';
import { addPdiskOptions, pdiskUrl } from '../pdisk.js';
import { marketplaceEndpoint } from '../user-config.js';
import type { PdiskOptionValues } from '../pdisk.js';
import { marketplaceOption } from '../marketplace.js';
import { cliEvents } from '../events.js';
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
  // An admin tool run beside the server: it publishes to the local server unless told otherwise.
  const mpRaw = ctx.setting({ key: 'marketplace_endpoint' }, o.marketplaceEndpoint) ?? LOCAL_SERVER;
  const endpoint = pdiskUrl(ctx, { ...o, marketplaceEndpoint: mpRaw });
  const username = ctx.setting({ key: 'username' }, o.username);
  const password = ctx.setting({ key: 'password' }, o.password);
  const adminGiven = username && password ? { username, password } : undefined;
  const pdisk = new PdiskClient(endpoint, await builderAccount(o.dataDir, endpoint, adminGiven));
  const now = new Date();
  const result = await publishImage({
    source: planSource(built.path, 'gz'),
    pdisk,
    volume: { tag: recipe.name, visibility: 'PUBLIC', type: 'MACHINE_IMAGE_ORIGIN' },
    identifier: built.identifier,
    digests: { bytes: built.bytes, digests: { md5: built.md5, sha1: built.sha1, sha256: built.sha256, sha512: built.sha512 } },
    publish: {
      entry: {
        draft: (content) => newDraft(content, {
          os: recipe.os, osVersion: recipe.osVersion, osArch: recipe.osArch, version: recipe.version, compression: 'gz', creator: BUILDER_NAME,
          title: recipe.title, alternative: recipe.name, description: recipe.description, disksBus: recipe.disksBus, inboundPorts: recipe.inboundPorts,
        }, VALID_DAYS, now),
      },
      marketplace: new MarketplaceClient(marketplaceEndpoint(mpRaw)),
      unlessListedBy: BUILDER_EMAIL,
      signing: { credentials: builderCredentials(o.dataDir), now },
    },
    onVolume: (volume) => printInfo(out, `Image uploaded: ${pdisk.volumeUrl(volume.uuid)}`),
  }, cliEvents(out));
  if (result.published) printInfo(out, `Manifest uploaded: ${result.entry ?? ''}`);
  return { volume: result.volume.uuid, entry: result.entry, published: result.published };
}
