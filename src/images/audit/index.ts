import { createReadStream, closeSync, existsSync, mkdtempSync, readSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { StratusError } from '../../domain/errors.js';
import { openImage, readDiskHeader } from '../../platform/disk-format.js';
import { run } from '../../platform/run.js';
import { SparseFileWriter } from '../../platform/sparse-writer.js';
import { convertImage } from '../convert.js';
import type { ConvertRequest, ConvertResult } from '../convert.js';
import { auditFs, byWorst, worstSeverity } from './checks.js';
import type { Finding, Severity } from './checks.js';
import { DebugfsView } from './fs-view.js';
import { applySysprep, sysprepPlan } from './sysprep.js';

export type { Finding, Severity } from './checks.js';

export interface AuditResult {
  image: string;
  /** Where the root file system starts in the (raw) disk. */
  rootOffset: number;
  findings: Finding[];
  worst: Severity;
}

/**
 * stratus-check-image's audit: no boot, no mount. A raw image is read where it lies; a qcow2
 * (standalone only: checked by our header reading first) or a .gz is first made a sparse raw
 * copy in a private temporary folder. The root file system is the largest Linux partition of
 * the MBR (or the whole disk when it is a bare ext file system), read with debugfs.
 */
export async function auditImage(path: string): Promise<AuditResult> {
  const work = mkdtempSync(join(tmpdir(), 'stratus-check-'));
  try {
    const raw = await rawOf(path, work);
    const rootOffset = rootFileSystem(raw, path);
    const findings = await auditFs(new DebugfsView(raw, rootOffset));
    return { image: path, rootOffset, findings, worst: worstSeverity(findings) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Whether a raw image's root file system has `file` (a regular file), read as the audit reads:
 * no boot, no mount. An image it cannot read has none.
 */
export async function imageHasFile(raw: string, file: string): Promise<boolean> {
  try {
    const fs = new DebugfsView(raw, rootFileSystem(raw));
    const dir = file.slice(0, file.lastIndexOf('/')) || '/';
    const name = file.slice(file.lastIndexOf('/') + 1);
    return ((await fs.list([dir])).get(dir) ?? []).some((e) => e.name === name && e.type === 'file');
  } catch {
    return false;
  }
}

const VERDICT_ITEMS = 5;

/**
 * The audit's verdict in one line, as a saved image's draft carries it in its description
 * (issue 11 §3: seen before anyone endorses the image). Never throws: an image the audit cannot
 * read gets a verdict saying so.
 */
export async function auditVerdict(path: string): Promise<string> {
  const head = 'Image check (stratus-check-image)';
  let result: AuditResult;
  try {
    result = await auditImage(path);
  } catch (e) {
    return `${head}: not done: ${(e as Error).message.replace(/\s+/g, ' ').replace(`${path}: `, '')}`;
  }
  const problems = byWorst(result.findings).filter((f) => f.severity !== 'info');
  if (problems.length === 0) return `${head}: no problems found.`;
  const count = (s: Severity): number => problems.filter((f) => f.severity === s).length;
  const items = problems.slice(0, VERDICT_ITEMS).map((f) => `${f.check} ${f.path} (${f.message})`);
  const more = problems.length > VERDICT_ITEMS ? `; and ${problems.length - VERDICT_ITEMS} more` : '';
  return `${head}: ${count('error')} error(s), ${count('warning')} warning(s): ${items.join('; ')}${more}.`;
}

export interface SysprepRequest extends Omit<ConvertRequest, 'maxVirtualBytes'> {
  /** Write the cleaned copy even when problems --sysprep cannot fix are left in it. */
  allowUnfixable?: boolean;
}

export interface SysprepResult {
  /** The input's findings that were fixed. */
  fixed: Finding[];
  /** The audit of the cleaned copy. */
  after: AuditResult;
  converted: ConvertResult;
}

/**
 * stratus-check-image --sysprep: a cleaned copy of the image. The input is never changed: a
 * private raw copy is audited, refused when a problem is left that only the image's maker can
 * fix (unless allowed), cleaned with debugfs -w, audited again (every fixable finding must be
 * gone), and only then written to the output as stratus-convert-image writes (sparse, atomic,
 * raw or qcow2, gzip'ed on request).
 */
export async function sysprepImage(req: SysprepRequest): Promise<SysprepResult> {
  if (existsSync(req.output) && existsSync(req.input) && realpathSync(req.output) === realpathSync(req.input)) {
    throw new StratusError('USAGE', `the output ${req.output} is the image itself, which --sysprep never changes`, { hint: 'Write the cleaned copy to another file, and rename it over the image if that is what you want.' });
  }
  const work = mkdtempSync(join(tmpdir(), 'stratus-sysprep-'));
  try {
    let raw = await rawOf(req.input, work);
    if (raw === req.input) {
      raw = join(work, 'image.raw');
      await run('cp', ['--sparse=always', req.input, raw], { timeoutMs: 600_000 });
    }
    const rootOffset = rootFileSystem(raw, req.input);
    const view = new DebugfsView(raw, rootOffset);
    const findings = await auditFs(view);
    const problems = findings.filter((f) => f.severity !== 'info');
    const unfixable = problems.filter((f) => !f.fixable);
    if (unfixable.length > 0 && req.allowUnfixable !== true) {
      throw new StratusError('IMAGE_UNSAFE', `${req.input}: ${unfixable.length} problem(s) cannot be fixed offline, so no cleaned copy was written:\n${unfixable.map((f) => `  ${f.severity} ${f.check} (${f.path}): ${f.message}`).join('\n')}`, {
        hint: 'Fix them in the image (run it with --save, change it, shut it down), or give --allow-unfixable to write the cleaned copy with them left in.',
      });
    }
    await applySysprep(raw, rootOffset, await sysprepPlan(view, findings), work);
    const left = await auditFs(new DebugfsView(raw, rootOffset));
    const stuck = left.filter((f) => f.fixable && f.severity !== 'info');
    if (stuck.length > 0) {
      throw new StratusError('TOOL_FAILED', `${req.input}: debugfs could not clean ${stuck.map((f) => f.path).join(', ')}; no cleaned copy was written`);
    }
    const converted = await convertImage({ ...req, input: raw, maxVirtualBytes: Number.MAX_SAFE_INTEGER });
    return { fixed: problems.filter((f) => f.fixable), after: { image: converted.output, rootOffset, findings: left, worst: worstSeverity(left) }, converted };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function rawOf(path: string, work: string): Promise<string> {
  const head = Buffer.alloc(2);
  const fd = openImage(path);
  try {
    readSync(fd, head, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const out = join(work, 'image.raw');
    const writer = new SparseFileWriter(out, false);
    try {
      await pipeline(createReadStream(path), createGunzip(), writer);
    } catch (e) {
      throw new StratusError('IMAGE_NOT_READABLE', `${path}: not a complete gzip file (${(e as Error).message})`);
    }
    return rawOf(out, work);
  }
  const header = readDiskHeader(path);
  if (header.format === 'raw') return path;
  if (header.format !== 'qcow2') {
    throw new StratusError('USAGE', `${path} is ${header.kind}: stratus-check-image reads raw, qcow2 and gzip'ed images`, { hint: `Convert it first: stratus-convert-image ${path} image.img` });
  }
  const out = join(work, 'image.raw');
  await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path, out], { timeoutMs: 600_000 });
  return out;
}


const EXT_MAGIC = 0xef53;

/** The byte offset of the root file system: the largest ext partition of the MBR, or 0 for a bare file system. */
export function rootFileSystem(raw: string, label = raw): number {
  const fd = openImage(raw);
  try {
    const read = (offset: number, length: number): Buffer => {
      const b = Buffer.alloc(length);
      readSync(fd, b, 0, length, offset);
      return b;
    };
    const isExt = (offset: number): boolean => read(offset + 1024 + 56, 2).readUInt16LE(0) === EXT_MAGIC;
    if (isExt(0)) return 0;
    const mbr = read(0, 512);
    if (mbr[510] !== 0x55 || mbr[511] !== 0xaa) throw new StratusError('IMAGE_NOT_READABLE', `${label}: neither a partitioned disk (no MBR) nor an ext file system`);
    const parts = [0, 1, 2, 3].map((i) => mbr.subarray(446 + i * 16, 462 + i * 16))
      .map((p) => ({ type: p[4] as number, start: p.readUInt32LE(8) * 512, size: p.readUInt32LE(12) * 512 }))
      .filter((p) => p.size > 0 && p.type === 0x83 && isExt(p.start))
      .sort((a, b) => b.size - a.size);
    const root = parts[0];
    if (!root) {
      throw new StratusError('IMAGE_NOT_READABLE', `${label}: no ext2/3/4 partition in its MBR (GPT disks and other file systems are not read yet)`);
    }
    return root.start;
  } finally {
    closeSync(fd);
  }
}
