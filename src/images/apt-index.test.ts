import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { aptIndexCurrent, aptIndexFetch, aptUpdateUnlessCurrent } from './apt-index.js';
import type { AptIndexPaths } from './apt-index.js';

/**
 * The guest's apt played by two scripts in a folder of their own: `apt-get` (indextargets from
 * a sources file, update that copies the archive's InRelease files into the lists) and the
 * helper (download-file from the archive folder, failing for what it lacks). dash runs the
 * snippets, as in the guest.
 */
function fakeGuest(): { dir: string; paths: AptIndexPaths; lists: string; archive: string; sources: string; sh(script: string): { code: number; out: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'apt-index-'));
  const bin = join(dir, 'bin');
  const lists = join(dir, 'lists');
  const archive = join(dir, 'archive');
  for (const d of [bin, lists, archive]) mkdirSync(d);
  const sources = join(dir, 'sources');
  // one line per source: REPO_URI RELEASE NAME-PREFIX (as apt names its lists files)
  writeFileSync(sources, 'http://deb.example.org/debian/ bookworm deb.example.org_debian_dists_bookworm_\nhttp://deb.example.org/debian-security/ bookworm-security deb.example.org_debian-security_dists_bookworm-security_\n');
  writeFileSync(join(bin, 'apt-get'), `#!/bin/sh
case "$*" in
  *'update'*)
    while read -r uri rel name; do
      f="${archive}/$(printf %s "$uri" | sed 's|^http://||; s|/|_|g')dists_$rel"
      [ -f "$f" ] || { echo "E: Failed to fetch $uri"; exit 100; }
      cp "$f" "${lists}/\${name}InRelease"
      echo p > "${lists}/\${name}main_binary-amd64_Packages"
    done < '${sources}' ;;
  *'$(URI) $(REPO_URI)'*)
    while read -r uri rel name; do
      echo "\${uri}dists/$rel/main/binary-amd64/Packages \${uri}dists/$rel/InRelease ${lists}/\${name}main_binary-amd64_Packages main/binary-amd64/Packages"
      echo "\${uri}dists/$rel/main/binary-all/Packages \${uri}dists/$rel/InRelease ${lists}/\${name}main_binary-all_Packages main/binary-all/Packages"
    done < '${sources}' ;;
  *'$(URI)'*)
    while read -r uri rel name; do echo "\${uri}dists/$rel/main/binary-amd64/Packages"; echo "\${uri}dists/$rel/main/binary-all/Packages"; done < '${sources}' ;;
  *) exit 2 ;;
esac
`);
  writeFileSync(join(bin, 'apt-helper'), `#!/bin/sh
[ "$2" = download-file ] || exit 2
f="${archive}/$(printf %s "$3" | sed 's|^http://||; s|/dists/\\([^/]*\\)/InRelease$|/dists_\\1|; s|/|_|g')"
[ -f "$f" ] && cp "$f" "$4"
`);
  chmodSync(join(bin, 'apt-get'), 0o755);
  chmodSync(join(bin, 'apt-helper'), 0o755);
  const paths: AptIndexPaths = { record: join(dir, 'run', 'stratus', 'apt-sources'), helper: join(bin, 'apt-helper') };
  return {
    dir, paths, lists, archive, sources,
    sh: (script) => {
      const r = spawnSync('dash', ['-c', script], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
      return { code: r.status ?? -1, out: r.stdout + r.stderr };
    },
  };
}

function publish(archive: string, text = 'signed release\n'): void {
  writeFileSync(join(archive, 'deb.example.org_debian_dists_bookworm'), text);
  writeFileSync(join(archive, 'deb.example.org_debian-security_dists_bookworm-security'), `security ${text}`);
}

test('the index a booted base fetched is current while the archive serves the same InRelease files and the sources are the same', (t) => {
  const g = fakeGuest();
  t.after(() => rmSync(g.dir, { recursive: true, force: true }));
  publish(g.archive);
  assert.match(g.sh(aptIndexFetch(g.paths)).out, /package index: fetched\n$/);
  assert.match(readFileSync(g.paths.record, 'utf8'), /bookworm-security\/main\/binary-all\/Packages/);
  assert.equal(g.sh(aptIndexCurrent(g.paths)).code, 0);
  const update = g.sh(aptUpdateUnlessCurrent(g.paths));
  assert.equal(update.code, 0);
  assert.match(update.out, /apt-get update: not needed/);
});

test('a new InRelease in the archive or a source added means apt-get update', (t) => {
  const g = fakeGuest();
  t.after(() => rmSync(g.dir, { recursive: true, force: true }));
  publish(g.archive);
  g.sh(aptIndexFetch(g.paths));

  publish(g.archive, 'the next day\'s release\n');
  assert.equal(g.sh(aptIndexCurrent(g.paths)).code, 1, 'the archive moved on');
  const update = g.sh(aptUpdateUnlessCurrent(g.paths));
  assert.doesNotMatch(update.out, /not needed/);
  assert.equal(update.code, 0, 'the fake apt-get update ran');
  assert.equal(g.sh(aptIndexCurrent(g.paths)).code, 0, 'after the update, the index is the archive\'s again');

  writeFileSync(g.sources, `${readFileSync(g.sources, 'utf8')}http://extra.example.org/repo/ stable extra.example.org_repo_dists_stable_\n`);
  assert.equal(g.sh(aptIndexCurrent(g.paths)).code, 1, 'a source added since (a prerecipe, --extra-os-repos)');
});

test('no record, a lost InRelease, an unreachable archive or a failed fetch: never "current"', (t) => {
  const g = fakeGuest();
  t.after(() => rmSync(g.dir, { recursive: true, force: true }));
  publish(g.archive);
  assert.equal(g.sh(aptIndexCurrent(g.paths)).code, 1, 'no record: the index was never fetched by a base');
  g.sh(aptIndexFetch(g.paths));
  rmSync(join(g.lists, 'deb.example.org_debian_dists_bookworm_InRelease'));
  assert.equal(g.sh(aptIndexCurrent(g.paths)).code, 1, 'an InRelease missing from the lists');
  g.sh(aptIndexFetch(g.paths));
  rmSync(join(g.archive, 'deb.example.org_debian-security_dists_bookworm-security'));
  assert.equal(g.sh(aptIndexCurrent(g.paths)).code, 1, 'the archive cannot be reached for one source');

  rmSync(g.paths.record);
  const failed = g.sh(aptIndexFetch(g.paths));
  assert.match(failed.out, /package index: not fetched\n$/);
  assert.equal(failed.code, 0, 'a base is still made: its builds update as without one');
  assert.equal(g.sh(aptIndexCurrent(g.paths)).code, 1);
});

test('the snippets the guest gets parse under dash', () => {
  for (const s of [aptIndexFetch(), aptIndexCurrent(), aptUpdateUnlessCurrent()]) {
    const r = spawnSync('dash', ['-n', '-c', s], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
});
