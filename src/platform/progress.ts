/**
 * A one-line progress bar on stderr: bytes done, percentage, rate and ETA. It draws only on a
 * terminal (so logs and pipes stay clean) and at most ten times a second.
 */
export interface Progress {
  update(done: number): void;
  finish(): void;
}

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || total <= 0) return { update: () => undefined, finish: () => undefined };
  const start = Date.now();
  let last = 0;
  let current = 0;
  const draw = (final: boolean): void => {
    const elapsed = (Date.now() - start) / 1000;
    const frac = Math.min(current / total, 1);
    const width = 30;
    const filled = Math.round(frac * width);
    const rate = elapsed > 0 ? current / elapsed : 0;
    const eta = rate > 0 && !final ? ` ETA ${formatSeconds((total - current) / rate)}` : '';
    stream.write(`\r ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(current)}/${formatBytes(total)} ${formatBytes(rate)}/s${eta}   `);
    if (final) stream.write('\n');
  };
  return {
    update(done) {
      current = done;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw(false);
      }
    },
    finish() {
      current = Math.max(current, total);
      draw(true);
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s % 60)}s` : `${Math.round(s)}s`;
}
