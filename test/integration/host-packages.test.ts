import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

/**
 * Set-up installs packages, not commands, with --no-install-recommends: every host command or
 * file that the code, the tests, the scripts or a recipe uses must belong to a package that
 * set-up names (scripts/packages.txt, or the recipe's "hostPackages"), to one of their hard
 * dependencies, or to an Essential package (a minbase Debian root has those and apt).
 * This is what broke on a fresh machine: syslinux only *recommends* syslinux-common, the owner
 * of /usr/lib/syslinux/mbr/mbr.bin.
 */

interface Need {
  /** A command name or an absolute host path. */
  what: string;
  /** file:line where it is used. */
  where: string;
  /** The recipe whose hostPackages may also cover it. */
  recipe?: string;
}

/**
 * The create-image end-to-end benchmark's anchors: the commands it installs for itself with
 * apt-get before running them (virt-customize from libguestfs-tools, packer; set-up does not
 * install them), and the recipe whose image it works on (its host packages, which set-up
 * installs, give it sfdisk and debugfs).
 */
const BENCH_OWN: Record<string, { installs: string[]; recipe: string }> = {
  'bench/e2e/anchors.ts': { installs: ['virt-customize', 'packer'], recipe: 'debian-12' },
  'bench/check-image.ts': { installs: ['virt-sysprep'], recipe: 'debian-12' },
};

/** Files whose path literals are paths inside an image (what the audit looks for), not on this host. */
const GUEST_PATHS = new Set([
  'src/images/audit/checks.ts', 'src/images/audit/checks.test.ts', 'src/images/audit/sysprep.test.ts',
  // the guest agent's program, looked for in an image before a booted base boots it
  'src/cloud/booted-bases.ts', 'test/integration/guest-agent-in-image.test.ts',
  // apt's helper, policy-rc.d and systemd's folders of the guest create-image installs in
  'src/images/apt-index.ts', 'src/images/create/apt-install.ts',
]);

const CALL = /\b(?:spawn|spawnSync|execFile|execFileSync|run)\(\s*'([a-z0-9][a-z0-9._+-]*)'/g;
const BINARY_CONST = /_BINARY\s*=\s*'([a-z0-9][a-z0-9._+-]*)'/g;
const HOST_PATH = /'((?:\/usr|\/bin|\/sbin|\/lib)\/[^':\s]+)'/g;
const SHELL_NEED = /^\s*need_(tools|files)\s+(.+)$/gm;

function files(dir: string, ext: RegExp): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p, ext) : ext.test(n) ? [p] : [];
  });
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** Every command and host file used, with where. */
function collectNeeds(): Need[] {
  const needs: Need[] = [];
  // (this file is the scanner: its own literals are examples, not needs)
  const code = ['src', 'test', 'scripts', 'bench'].flatMap((d) => files(join(repoRoot, d), /\.(ts|mjs)$/)).filter((f) => !f.endsWith('host-packages.test.ts'));
  for (const f of code) {
    const text = readFileSync(f, 'utf8');
    const rel = relative(repoRoot, f);
    const own = BENCH_OWN[rel];
    for (const re of GUEST_PATHS.has(rel) ? [CALL, BINARY_CONST] : [CALL, BINARY_CONST, HOST_PATH]) {
      for (const m of text.matchAll(re)) {
        const what = m[1] as string;
        if (what.startsWith('stratus')) continue; // our own commands
        if (own?.installs.includes(what)) continue;
        needs.push({ what, where: `${rel}:${lineOf(text, m.index)}`, ...(own ? { recipe: own.recipe } : {}) });
      }
    }
  }
  const shell = [...files(join(repoRoot, 'scripts'), /\.sh$/), ...files(join(repoRoot, 'recipes'), /\.sh$/)];
  for (const f of shell) {
    const rel = relative(repoRoot, f);
    const recipe = rel.startsWith('recipes/') ? rel.split('/')[1] : undefined;
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(SHELL_NEED)) {
      for (const what of (m[2] as string).split(/\s+/).filter(Boolean)) {
        if (what.startsWith('$') || what.startsWith('"$')) continue;
        needs.push({ what, where: `${rel}:${lineOf(text, m.index)}`, ...(recipe && recipe !== 'lib' ? { recipe } : {}) });
      }
    }
  }
  return needs;
}

function listed(): { common: Set<string>; recipes: Map<string, Set<string>> } {
  const common = new Set(readFileSync(join(repoRoot, 'scripts', 'packages.txt'), 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean));
  const recipes = new Map<string, Set<string>>();
  for (const name of readdirSync(join(repoRoot, 'recipes'))) {
    const file = join(repoRoot, 'recipes', name, 'recipe.json');
    if (!existsSync(file)) continue;
    recipes.set(name, new Set((JSON.parse(readFileSync(file, 'utf8')) as { hostPackages?: string[] }).hostPackages ?? []));
  }
  return { common, recipes };
}

function sh(cmd: string, args: string[]): string {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout ?? '';
}

/** Packages set-up installs plus everything they hard-depend on, plus the Essential set. */
function covered(packages: Set<string>, essential: Set<string>): Set<string> {
  const out = sh('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', '--installed', ...packages, 'apt']);
  const names = out.split('\n').map((l) => l.replace(/^\s*(?:\|?(?:Pre)?Depends:\s*)?/, '').trim()).filter((l) => l && !l.startsWith('<'));
  return new Set([...names.map((n) => n.replace(/:any$/, '')), ...packages, ...essential]);
}

/** The paths dpkg may know a host path by (usr-merge moved /bin to /usr/bin; links). */
function aliases(path: string): string[] {
  const out = new Set([path]);
  try {
    out.add(realpathSync(path));
  } catch {
    // missing: reported by the caller
  }
  for (const p of [...out]) {
    if (/^\/usr\/(s?bin|lib)\//.test(p)) out.add(p.slice(4));
    else if (/^\/(s?bin|lib)\//.test(p)) out.add(`/usr${p}`);
  }
  return [...out];
}

function resolveCommand(name: string): string | undefined {
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

test('every host command and file used belongs to a package set-up installs (dpkg -S), never to a Recommends', () => {
  const needs = collectNeeds();
  assert.ok(needs.some((n) => n.what === '/usr/lib/syslinux/mbr/mbr.bin'), 'the scan sees the recipes\' need_files');
  assert.ok(needs.some((n) => n.what === 'qemu-img'), 'the scan sees commands the code runs');
  const essential = new Set(sh('dpkg-query', ['-W', '-f=${Package} ${Essential}\\n']).split('\n').filter((l) => l.endsWith(' yes')).map((l) => l.split(' ')[0] as string));
  const { common, recipes } = listed();
  const coverage = new Map<string | undefined, Set<string>>([[undefined, covered(common, essential)]]);
  for (const [name, extra] of recipes) coverage.set(name, covered(new Set([...common, ...extra]), essential));

  const problems: string[] = [];
  const paths = new Map<string, string[]>();
  for (const n of needs) {
    const path = n.what.startsWith('/') ? n.what : resolveCommand(n.what);
    if (!path || !existsSync(path)) {
      problems.push(`${n.what} (${n.where}) is not on this machine: set-up does not install it`);
      continue;
    }
    paths.set(n.what, aliases(path));
  }
  const all = [...new Set([...paths.values()].flat())];
  const owners = new Map<string, string[]>();
  for (const line of sh('dpkg', ['-S', ...all]).split('\n')) {
    const m = /^([^:][^:]*?)(?::[a-z0-9]+)?: (\/.*)$/.exec(line);
    if (!m || line.startsWith('diversion')) continue;
    owners.set(m[2] as string, (m[1] as string).split(', ').map((p) => p.replace(/:[a-z0-9]+$/, '')));
  }
  for (const n of needs) {
    const known = paths.get(n.what);
    if (!known) continue;
    const pkgs = [...new Set(known.flatMap((p) => owners.get(p) ?? []))];
    if (pkgs.length === 0) {
      problems.push(`${n.what} (${n.where}) belongs to no Debian package: set-up cannot install it`);
      continue;
    }
    const ok = coverage.get(n.recipe) as Set<string>;
    if (!pkgs.some((p) => ok.has(p))) {
      problems.push(`${n.what} (${n.where}) comes from ${pkgs.join(' or ')}, which is not in scripts/packages.txt${n.recipe ? ` or recipes/${n.recipe}/recipe.json "hostPackages"` : ''} (nor a dependency of one)`);
    }
  }
  assert.deepEqual(problems, []);
});
