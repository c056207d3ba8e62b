import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { StratusError } from '../domain/errors.js';
import { identifierFromSha1 } from '../domain/identifier.js';
import { checkExtension, readDiskHeader } from '../platform/disk-format.js';
import type { DiskHeader } from '../platform/disk-format.js';
import { supportsDirectIo } from '../platform/files.js';
import { hashFile, MultiHash } from '../platform/hashing.js';
import { run } from '../platform/run.js';

/**
 * stratus-convert-image's work: a disk made elsewhere (VirtualBox's VDI, VMware's VMDK,
 * Hyper-V's VHD/VHDX, qcow2, raw) to a raw or qcow2 image, gzip'ed on request. The input's
 * format is our own reading of its header (platform/disk-format.ts), and qemu-img is told it:
 * it never guesses. The output is sparse (qemu-img skips zeros), written under a temporary
 * name in the output's folder and renamed in only when complete (Ctrl-C or a failure removes it).
 */

export type OutputFormat = 'raw' | 'qcow2';

export interface ConvertRequest {
  input: string;
  output: string;
  format: OutputFormat;
  gzip: boolean;
  /** The largest virtual size accepted (a small file can declare a huge disk). */
  maxVirtualBytes: number;
  /** Replace an existing output file. */
  force?: boolean;
  /** Compute the image's SHA-1 and Marketplace identifier (one more read of the output). */
  identifier?: boolean;
  /** qemu-img's progress line on the terminal. */
  progress?: boolean;
  /** Registers a clean-up for an interruption (Ctrl-C); returns its removal. */
  onInterrupt?: (cleanup: () => Promise<void>) => () => void;
}

export interface ConvertResult {
  input: DiskHeader;
  output: string;
  format: OutputFormat;
  gzip: boolean;
  /** Size of the output file. */
  bytes: number;
  /** SHA-1 and identifier of the image (before gzip), when asked for. */
  sha1?: string;
  identifier?: string;
}

interface QemuInfo {
  'virtual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { data?: { 'data-file'?: string; extents?: Array<{ filename?: string }> } };
}

/**
 * Checks the input (our header reading, then qemu-img's own, which must agree that nothing
 * else is read), converts it, optionally gzips and hashes it, and renames the result in.
 */
export async function convertImage(req: ConvertRequest): Promise<ConvertResult> {
  const input = resolve(req.input);
  const output = resolve(req.output);
  const header = readDiskHeader(input);
  checkExtension(input, header);
  if (header.virtualBytes > req.maxVirtualBytes) {
    throw new StratusError('IMAGE_UNSAFE', `${input}: ${header.kind} declares a ${gib(header.virtualBytes)} disk, more than the ${gib(req.maxVirtualBytes)} allowed`, {
      hint: 'Give --max-size a larger size in GiB if the disk really is that big.',
    });
  }
  await checkWithQemu(input, header, req.maxVirtualBytes);
  checkOutput(input, output, req.force === true);

  const part = join(dirname(output), `.${basename(output)}.${randomBytes(4).toString('hex')}.part`);
  const converted = req.gzip ? `${part}.raw` : part;
  const clean = async (): Promise<void> => {
    rmSync(part, { force: true });
    rmSync(converted, { force: true });
  };
  const dropGuard = req.onInterrupt?.(clean) ?? (() => undefined);
  try {
    await qemuConvert(input, header.format, converted, req.format, req.progress === true, supportsDirectIo(dirname(output)));
    let sha1: string | undefined;
    if (req.gzip) {
      sha1 = await gzipHashing(converted, part, req.identifier === true);
      rmSync(converted, { force: true });
    } else if (req.identifier) {
      sha1 = (await hashFile(part, { algorithms: ['sha1'], compression: 'none' })).digests.sha1;
    }
    // Renamed in whole. Written with O_DIRECT where the folder allows it, the converted bytes
    // are on the disk already (qemu-img flushes at the end); a gzip'ed copy is not fsynced.
    renameSync(part, output);
    return {
      input: header, output, format: req.format, gzip: req.gzip, bytes: statSync(output).size,
      ...(sha1 !== undefined ? { sha1, identifier: identifierFromSha1(sha1) } : {}),
    };
  } catch (e) {
    await clean();
    throw e;
  } finally {
    dropGuard();
  }
}

/** qemu-img's reading, with the format given: it must see no file but the input. */
async function checkWithQemu(input: string, header: DiskHeader, maxVirtualBytes: number): Promise<void> {
  let info: QemuInfo;
  try {
    info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-f', header.format, input], { timeoutMs: 60_000 })).stdout) as QemuInfo;
  } catch (e) {
    throw new StratusError('IMAGE_NOT_READABLE', `${input}: qemu-img cannot read it as ${header.kind}: ${(e as Error).message.split('\n').slice(-2).join(' ')}`);
  }
  const backing = info['full-backing-filename'] ?? info['backing-filename'];
  const data = info['format-specific']?.data;
  const others = (data?.extents ?? []).map((x) => x.filename).filter((f): f is string => f !== undefined && resolve(f) !== input);
  if (backing !== undefined || data?.['data-file'] !== undefined || others.length > 0) {
    throw new StratusError('IMAGE_UNSAFE', `${input}: qemu-img reads it with other files of this host (${[backing, data?.['data-file'], ...others].filter(Boolean).join(', ')}): refused`);
  }
  // (qemu-img may round a size differently: a VHD's to its CHS geometry, unless its maker is one it trusts.)
  if ((info['virtual-size'] ?? 0) > maxVirtualBytes) {
    throw new StratusError('IMAGE_UNSAFE', `${input}: qemu-img reads a ${gib(info['virtual-size'] ?? 0)} disk, more than the ${gib(maxVirtualBytes)} allowed`, {
      hint: 'Give --max-size a larger size in GiB if the disk really is that big.',
    });
  }
}

function checkOutput(input: string, output: string, force: boolean): void {
  if (!existsSync(dirname(output))) throw new StratusError('USAGE', `cannot write ${output}: the folder ${dirname(output)} does not exist`);
  if (existsSync(output)) {
    if (realpathSync(output) === realpathSync(input)) throw new StratusError('USAGE', `the output ${output} is the input: write the converted image to another file`);
    if (!force) throw new StratusError('USAGE', `${output} exists`, { hint: 'Give another output file, or --force to replace it.' });
  }
}

/**
 * qemu-img convert, with the input format given. `direct`: the output bypasses the page cache
 * (`-t none`) and a raw one is written in any order (`-W`): through the page cache, a 2 GiB
 * output filled the dirty-page limit and the write-back throttled qemu-img, 13 s instead of
 * 1.1 s here (docs/benchmarks.md).
 */
function qemuConvert(input: string, from: string, output: string, to: OutputFormat, progress: boolean, direct: boolean): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const tuning = direct ? ['-t', 'none', ...(to === 'raw' ? ['-W'] : [])] : [];
    const args = ['convert', '-f', from, '-O', to, ...tuning, ...(progress ? ['-p'] : []), input, output];
    const child = spawn('qemu-img', args, { stdio: ['ignore', progress ? 'inherit' : 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    child.on('error', (e: NodeJS.ErrnoException) => reject(new StratusError('TOOL_FAILED', `cannot run qemu-img: ${e.code === 'ENOENT' ? 'not installed (Debian package qemu-utils)' : e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new StratusError('IMAGE_NOT_READABLE', `qemu-img convert of ${input} failed (exit ${code}): ${stderr.trim().split('\n').slice(-2).join(' ')}`));
    });
  });
}

/** gzip of `from` into `to`, hashing the uncompressed bytes on the way when asked; returns the SHA-1. */
async function gzipHashing(from: string, to: string, hashing: boolean): Promise<string | undefined> {
  const hash = hashing ? new MultiHash(['sha1'], false) : undefined;
  try {
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        if (!hash) return done(null, chunk);
        hash.update(chunk).then(() => done(null, chunk), done);
      },
    });
    await pipeline(createReadStream(from, { highWaterMark: 1 << 20 }), tap, createGzip({ level: 6 }), createWriteStream(to));
    return hash ? (await hash.digest()).digests.sha1 : undefined;
  } finally {
    await hash?.close();
  }
}


function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 3 : 1)} GiB`;
}
