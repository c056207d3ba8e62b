import { randomUUID } from 'node:crypto';
import { StratusError } from '../domain/errors.js';
import { formatUtc } from '../domain/dates.js';
import type { SaveRequest } from '../domain/instance-wire.js';
import { auditVerdict } from '../images/index.js';
import { buildEntryXml } from '../metadata/entry/build.js';
import type { EntryDraft } from '../metadata/entry/build.js';
import { BUILT_IMAGE_VALID_DAYS, savedImageDraft } from '../metadata/entry/saved.js';
import type { InstanceRow, InstanceStore } from '../storage/instances.js';
import type { VolumeRow } from '../storage/volumes/store.js';
import type { InstanceDisks } from '../volumes/instance-disks.js';
import { parseSpec, serializeSpec } from './instance-spec.js';
import type { InstanceSpec, SaveState } from './instance-spec.js';

/** A saved image, handed to whoever signs its draft, uploads it and mails its author (§2.4 steps 6-8). */
export interface SavedImage {
  vmId: number;
  owner: string;
  /** The owner's account id (drafts belong to the account, not the name). */
  ownerId: string;
  save: SaveRequest;
  volume: VolumeRow;
  draft: EntryDraft;
  /** The unsigned draft (what the e-mail attaches as manifest-not-signed.xml). */
  draftXml: string;
}

/**
 * Signs, uploads and mails a saved image's draft; returns the Marketplace it went to. Built
 * elsewhere (the service identity, the mailer); without one, the draft is made but goes
 * nowhere, and the Marketplace named is its target: the one the user asked for, or this server.
 */
export type PublishSaved = (saved: SavedImage) => Promise<{ marketplace: string }>;

export interface SaveEpilogOptions {
  store: InstanceStore;
  disks: InstanceDisks;
  /** §2.4 step 1: ends every volume attachment of the VM. */
  detach: (vmId: number) => Promise<void>;
  /** The pdisk service's base URL, for the draft's `pdisk:` location (known once the server listens). */
  pdiskEndpoint: () => string;
  validDays?: number;
  /** [instances] saved_image_format: a qcow2 of the stored clusters (default), or the raw disk. */
  format?: 'raw' | 'qcow2';
  publish?: PublishSaved;
  /** Refuses, when the VM is asked for, a --marketplace-endpoint-newimage the draft could not go to. */
  checkTarget?: (marketplace: string) => Promise<void>;
  /** The offline audit's verdict on the saved image file, one line (default: stratus-check-image's). */
  audit?: (path: string) => Promise<string>;
  /** The server log. */
  log?: (line: string) => void;
  clock?: () => Date;
}

/**
 * The Epilog of a --save instance (§2.4), run after its guest powered off and before its disk
 * is released: detach its volumes, copy its snapshot into a new volume with every checksum in
 * the same pass, make the draft, publish it. The step about to run is recorded in the
 * instance's spec first, so a server killed at any point resumes at that step after a restart
 * (a copy under way is made again from the start, its half-made volume removed first). On a
 * failure the new volume goes, the state says why, and the snapshot is left to its owner
 * (released() does not quarantine it): the user's changes are never lost.
 */
export class SaveEpilog {
  constructor(private readonly o: SaveEpilogOptions) {}

  /** Runs (or resumes) the Epilog of `row`; returns the `MARKETPLACE_AND_IMAGEID <mp> <id>` line, or undefined for an instance without --save. */
  async run(row: InstanceRow): Promise<string | undefined> {
    const current = (await this.o.store.get(row.id)) ?? row;
    let spec = parseSpec(current.spec);
    const save = spec.save;
    if (!save) return undefined;
    let state: SaveState = spec.saveState ?? { step: 'detach' };
    const record = async (next: SaveState): Promise<void> => {
      spec = { ...spec, saveState: next };
      await this.o.store.setSpec(row.id, serializeSpec(spec));
      state = next;
    };
    if (state.step === 'failed') throw new StratusError('INSTANCE_FAILED', `saving VM ${row.id} failed: ${state.reason ?? 'unknown reason'}`);
    try {
      if (!current.disk) throw new StratusError('VOLUME_STATE', `VM ${row.id} has no disk to save`);
      if (state.step === 'detach') {
        await this.o.detach(row.id);
        await record({ step: 'copy', target: randomUUID() });
      }
      if (state.step === 'copy') {
        const target = state.target ?? randomUUID();
        await this.o.disks.dropSaved(target);
        const owner = { username: current.owner, id: current.owner_id };
        const { volume, content } = await this.o.disks.saveSnapshot(current.disk, owner, { tag: save.title, target, format: this.o.format ?? 'qcow2' });
        await record({ step: 'publish', target, content, at: formatUtc((this.o.clock ?? (() => new Date()))()), identifier: volume.identifier });
      }
      if (state.step === 'publish') {
        const marketplace = await this.publish(row, { username: current.owner, id: current.owner_id }, spec, state);
        await record({ ...state, step: 'done', marketplace });
      }
    } catch (e) {
      const reason = (e as Error).message;
      if (state.target) await this.o.disks.dropSaved(state.target).catch(() => undefined);
      const { target: _gone, ...kept } = state;
      await record({ ...kept, step: 'failed', reason }).catch(() => undefined);
      this.o.log?.(`VM ${row.id}: saving its disk failed, the snapshot ${current.disk ?? ''} is kept for ${current.owner}: ${reason}`);
      throw e;
    }
    const line = `MARKETPLACE_AND_IMAGEID ${state.marketplace ?? ''} ${state.identifier ?? ''}`;
    this.o.log?.(`VM ${row.id}: ${line}`);
    return line;
  }

  /** Whether the instance's snapshot is to be kept for its owner rather than quarantined: a save that failed. */
  static keepsDisk(spec: InstanceSpec): boolean {
    return spec.save !== undefined && spec.saveState?.step === 'failed';
  }

  private async publish(row: InstanceRow, owner: { username: string; id: string }, spec: InstanceSpec, state: SaveState): Promise<string> {
    const save = spec.save as SaveRequest;
    const volume = state.target ? await this.o.disks.savedVolume(state.target) : undefined;
    if (!volume || !state.content) throw new StratusError('VOLUME_NOT_FOUND', `the saved volume of VM ${row.id} is gone`);
    // The audit's verdict joins the user's --comment, so whoever endorses the draft reads it first.
    const verdict = await (this.o.audit ?? auditVerdict)(this.o.disks.locate(volume.uuid).path);
    const draft = savedImageDraft(spec.saveParent, {
      content: state.content, volume: volume.uuid, format: volume.format === 'qcow2' ? 'qcow2' : 'raw', pdiskEndpoint: this.o.pdiskEndpoint(),
      creator: save.author, version: save.imageVersion, title: save.title, description: save.comment ? `${save.comment}\n${verdict}` : verdict,
      validDays: this.o.validDays ?? BUILT_IMAGE_VALID_DAYS, now: state.at ? new Date(state.at) : new Date(),
    });
    if (!this.o.publish) return save.marketplace ?? this.o.pdiskEndpoint();
    return (await this.o.publish({ vmId: row.id, owner: owner.username, ownerId: owner.id, save, volume, draft, draftXml: buildEntryXml(draft) })).marketplace;
  }
}
