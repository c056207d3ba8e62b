import { StratusError } from '../../domain/errors.js';
import { convertImage, outputFormatFor } from '../../images/index.js';
import type { OutputFormat } from '../../images/index.js';
import { formatBytes } from '../../platform/progress.js';
import { newProgram, onInterrupt, runProgram, contextOf } from '../program.js';

interface ConvertOptions {
  outputFormat?: string;
  gzip?: boolean;
  maxSize: string;
  force?: boolean;
  identifier?: boolean;
  json?: boolean;
  upload?: boolean;
}

/**
 * stratus-convert-image: the seed's "Converting a VirtualBox Image" (VBoxManage
 * converttoraw, then gzip) as one checked step, for VDI, VMDK, VHD/VHDX, qcow2 and raw disks.
 * With --upload, stratus-upload-image then takes the result, with the options given after `--`.
 */
export default async function main(argv: string[]): Promise<number> {
  const program = newProgram('stratus-convert-image',
    'Convert a disk made elsewhere (VirtualBox VDI, VMware VMDK, Hyper-V VHD/VHDX, qcow2, raw) to a raw or qcow2 image, optionally gzip\'ed. The input\'s format is read from its header, never guessed; disks that would make qemu-img read other files of this host (backing files, external data files, VMDK descriptors, differencing disks) are refused.')
    .argument('<input>', 'the disk to convert (.vdi, .vmdk, .vhd, .vhdx, .qcow2, .img)')
    .argument('<output>', 'the image to write (.img, .qcow2; a .gz ending gzips it)')
    .argument('[upload-options...]', 'with --upload: the options of stratus-upload-image, after --')
    .option('-O, --output-format <format>', 'raw or qcow2 (default: qcow2 for a .qcow2 output, raw otherwise)')
    .option('-z, --gzip', 'gzip the output (implied by an output ending in .gz)')
    .option('--max-size <GiB>', 'refuse disks that declare more than this many GiB', '1024')
    .option('-f, --force', 'replace the output file when it exists')
    .option('--identifier', 'print the image\'s SHA-1 and Marketplace identifier (reads the output once more)')
    .option('--json', 'print the result as JSON')
    .option('--upload', 'then upload it with stratus-upload-image (its options after --)')
    .action(async (input: string, output: string, uploadArgs: string[], o: ConvertOptions) => {
      const ctx = contextOf(program);
      const out = ctx.output;
      const format = parseFormat(o.outputFormat ?? outputFormatFor(output));
      const gzip = o.gzip === true || output.endsWith('.gz');
      const maxGib = Number(o.maxSize);
      if (!Number.isFinite(maxGib) || maxGib <= 0) throw new StratusError('USAGE', `--max-size must be a positive number of GiB, not ${o.maxSize}`);
      if (uploadArgs.length > 0 && !o.upload) throw new StratusError('USAGE', `unexpected arguments ${uploadArgs.join(' ')}`, { hint: 'Options for stratus-upload-image go after --upload --.' });
      const result = await convertImage({
        input, output, format, gzip, maxVirtualBytes: maxGib * 2 ** 30, force: o.force === true,
        identifier: o.identifier === true, progress: process.stdout.isTTY && !o.json && out.level >= 0, onInterrupt,
      });
      if (o.json) {
        out.out(JSON.stringify({
          input: { path: input, format: result.input.format, kind: result.input.kind, virtualBytes: result.input.virtualBytes },
          output: result.output, format: result.format, gzip: result.gzip, bytes: result.bytes,
          ...(result.identifier ? { sha1: result.sha1, identifier: result.identifier } : {}),
        }, null, 2));
      } else {
        out.out(`Converted ${input} (${result.input.kind}, ${formatBytes(result.input.virtualBytes)} disk) to ${result.output} (${result.format}${result.gzip ? ', gzip' : ''}, ${formatBytes(result.bytes)})`);
        if (result.identifier) out.out(`Identifier: ${result.identifier} (SHA-1 ${result.sha1 ?? ''})`);
      }
      if (o.upload) {
        const upload = await import('./upload-image.js');
        const code = await upload.default([result.output, ...uploadArgs]);
        if (code !== 0) throw new StratusError('TOOL_FAILED', `the upload of ${result.output} failed (stratus-upload-image exit ${code}); the converted image stays`, { hint: `Run stratus-upload-image ${result.output} … again once the problem is fixed.` });
      }
    });
  return runProgram(program, argv);
}

/** --output-format's value (check-image --sysprep takes it too). */
export function parseFormat(text: string): OutputFormat {
  if (text === 'raw' || text === 'qcow2') return text;
  throw new StratusError('USAGE', `--output-format must be raw or qcow2, not ${text}`);
}
