import type { Entry, FsView } from './fs-view.js';

/** A file system as a map of paths to contents (folders implied): the audit's and sysprep's unit tests read it. */
export function memory(files: Record<string, string>): FsView {
  const entries = (dir: string): Entry[] | undefined => {
    const kids = new Map<string, Entry>();
    for (const [p, text] of Object.entries(files)) {
      if (!p.startsWith(`${dir === '/' ? '' : dir}/`)) continue;
      const [name = '', ...rest] = p.slice(dir === '/' ? 1 : dir.length + 1).split('/');
      kids.set(name, rest.length ? { name, type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0 } : { name, type: 'file', size: text.length, mode: 0o640, uid: 0, gid: 42 });
    }
    return kids.size ? [...kids.values()] : undefined;
  };
  return {
    list: (dirs) => Promise.resolve(new Map(dirs.map((d) => [d, entries(d)]))),
    read: (paths) => Promise.resolve(new Map(paths.map((p) => [p, files[p] === undefined ? undefined : Buffer.from(files[p] as string)]))),
  };
}
