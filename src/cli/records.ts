import type { Entry } from '../metadata/entry/entry.js';
import type { EntrySummary } from '../domain/wire.js';

/** "Created at: ['YYYY-MM-DD', 'HH:MM:SS']", the Python list repr the 2014 browse commands printed. */
export function createdAt(created: string | undefined | null): string {
  const [date = '', time = ''] = (created ?? '').replace(/Z$/, '').split('T');
  return `['${date}', '${time}']`;
}

/** The short record of stratus-list-images. */
export function listRecord(e: EntrySummary): string[] {
  return [
    `Description: ${e.description ?? ''}`,
    `ID: ${e.identifier}`,
    `OS: ${e.os ?? ''} ${e.osVersion ?? ''} | Arch: ${e.osArch ?? ''}`,
    `Creator: ${e.creator ?? ''}`,
    `Created at: ${createdAt(e.created)}`,
    '####',
    '',
  ];
}

/** The full record of stratus-search-image and stratus-show-image. */
export function fullRecord(e: Entry): string[] {
  return [
    `Description: ${e.description ?? ''}`,
    `ID: ${e.identifier}`,
    `Creator: ${e.creator ?? ''}`,
    `Created at: ${createdAt(e.endorsement.created)}`,
    `Validity: ${e.valid ?? ''}`,
    `OS: ${e.os ?? ''}`,
    `Version: ${e.version ?? ''}`,
    `Compression: ${e.compression ?? ''}`,
    `Location: ${e.locations[0] ?? ''}`,
    `Format: ${e.format ?? ''}`,
    `Publisher: ${e.publisher ?? ''}`,
    `Hypervisor: ${e.hypervisor ?? ''}`,
    `Endorser: ${e.endorsement.email ?? ''}`,
    ...e.checksums.map((c) => `${c.algorithm} ${c.value}`),
    '####',
    '',
  ];
}
