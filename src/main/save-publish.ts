import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { StratusError } from '../domain/errors.js';
import type { PublishSaved, SavedImage } from '../cloud/save-epilog.js';
import type { Marketplace } from '../marketplace/marketplace.js';
import type { ServiceIdentity } from '../marketplace/service-identity.js';
import { savedImageMessage } from '../mail/index.js';
import type { Mailer } from '../mail/index.js';
import { postEntry } from '../images/transfer/post-entry.js';
import type { UrlGuard } from '../images/index.js';

export interface SavePublisherOptions {
  marketplace: Pick<Marketplace, 'publishServiceDraft'>;
  service: Pick<ServiceIdentity, 'sign'>;
  mailer: Mailer;
  /** This server's public base URL (its Marketplace and pdisk). */
  ownUrl: () => string;
  /** For a --marketplace-endpoint-newimage that is another server: the SSRF guard of user-given URLs. */
  guard: UrlGuard;
  validDays: number;
  log: (line: string) => void;
}

/**
 * §2.4 steps 6-8 for a saved image: the draft is signed by this server's identity and stored as
 * the owner's draft here, or, when the user named another Marketplace, signed the same way and
 * uploaded there (through the guard: the server never posts to its own loopback or the
 * instance network for a user). Then its creator is mailed. A mail that cannot be sent does
 * not undo the image: the log says so, and the describe line still names it.
 */
export function savedImagePublisher(o: SavePublisherOptions): PublishSaved {
  return async (saved: SavedImage) => {
    const own = o.ownUrl().replace(/\/+$/, '');
    const target = saved.save.marketplace?.replace(/\/+$/, '');
    let marketplace = own;
    if (target === undefined || target === own) {
      await o.marketplace.publishServiceDraft({ id: saved.ownerId, username: saved.owner }, saved.draftXml);
    } else {
      marketplace = target;
      const status = await postEntry(`${target}/metadata`, o.service.sign(saved.draftXml), o.guard);
      o.log(`VM ${saved.vmId}: the draft of ${saved.draft.identifier} went to ${target} (HTTP ${status})`);
    }
    const message = savedImageMessage({
      id: saved.draft.identifier, volumeUuid: saved.volume.uuid, serverUrl: own, marketplaceUrl: marketplace,
      validityDays: o.validDays, draftXml: saved.draftXml, to: saved.save.authorEmail,
    });
    if (message) {
      try {
        await o.mailer.send(message);
      } catch (e) {
        o.log(`VM ${saved.vmId}: WARNING: the mail about ${saved.draft.identifier} to ${saved.save.authorEmail} was not sent: ${(e as Error).message}`);
      }
    }
    return { marketplace };
  };
}

/**
 * Whether a --marketplace-endpoint-newimage can take the draft, checked when the VM is asked
 * for rather than in its Epilog: this server itself, or a host that passes the URL guard at
 * every address its name has now (the upload checks again when it connects).
 */
export async function checkDraftTarget(url: string, ownUrl: string, guard: UrlGuard): Promise<void> {
  const target = url.replace(/\/+$/, '');
  if (target === ownUrl.replace(/\/+$/, '')) return;
  const u = new URL(target);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch (e) {
    throw new StratusError('MARKETPLACE_UNREACHABLE', `--marketplace-endpoint-newimage ${target}: ${host} cannot be resolved (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  for (const address of addresses) {
    const why = guard.refusal(address, u);
    if (why) {
      throw new StratusError('URL_REFUSED', `--marketplace-endpoint-newimage ${target}: ${host} is ${address}, ${why}`, {
        hint: `Leave the option out to register the draft here (${ownUrl}), or name a Marketplace this cloud may reach.`,
      });
    }
  }
}
