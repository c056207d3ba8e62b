import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EntrySummary } from '../../src/domain/wire.js';

/** A server's answer to an upload: status, error code header and message (JSON body). */
export interface UploadAnswer {
  status: number;
  code: string | null;
  message: string;
  body: string;
}

/** POSTs signed XML to /metadata as StratusLab's client does, asking for JSON. */
export async function postEntry(baseUrl: string, xml: string): Promise<UploadAnswer> {
  const res = await fetch(`${baseUrl}/metadata`, { method: 'POST', headers: { 'Content-Type': 'application/xml', Accept: 'application/json' }, body: xml });
  const body = await res.text();
  let message = '';
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    message = typeof json[String(res.status)] === 'string' ? json[String(res.status)] as string : '';
  } catch { /* not JSON: the assertions show the body */ }
  return { status: res.status, code: res.headers.get('x-stratus-error'), message, body };
}

/** Every stored entry, all statuses, over the JSON listing. */
export async function storedEntries(baseUrl: string): Promise<EntrySummary[]> {
  const res = await fetch(`${baseUrl}/metadata?media=json&status=all&limit=1000`);
  if (res.status !== 200) throw new Error(`listing answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { entries: EntrySummary[] }).entries;
}

/** Creates a data directory whose stratus.cfg holds `cfg` (INI text); its path. */
export function dataDirWithConfig(parent: string, name: string, cfg: string): string {
  const dataDir = join(parent, name);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'stratus.cfg'), cfg);
  return dataDir;
}
