import type { MailMessage } from './mailer.js';

/** What the notice of a saved image (§2.4 step 8) tells its creator. */
export interface SavedImage {
  /** The new image's Marketplace identifier. */
  id: string;
  /** The pdisk volume holding it. */
  volumeUuid: string;
  /** This server's public base URL (pdisk and the Marketplace are both served there). */
  serverUrl: string;
  /** The Marketplace the draft entry was uploaded to. */
  marketplaceUrl: string;
  /** How long the draft entry is valid (built_image_validity_period). */
  validityDays: number;
  /** The draft entry, not signed. */
  draftXml: string;
  /** CREATOR_EMAIL: the --author-email of the save. */
  to: string;
}

export const DRAFT_ATTACHMENT = 'manifest-not-signed.xml';

/**
 * The message of §2.4 step 8, or undefined when there is nobody to tell (StratusLab skipped the
 * mail when CREATOR_EMAIL was empty). Pure: the caller sends it.
 */
export function savedImageMessage(s: SavedImage): MailMessage | undefined {
  const to = s.to.trim();
  if (to === '') return undefined;
  const base = s.serverUrl.replace(/\/+$/, '');
  const mp = s.marketplaceUrl.replace(/\/+$/, '');
  const days = `${s.validityDays} day${s.validityDays === 1 ? '' : 's'}`;
  const text = [
    'Image creation was SUCCESSFUL.',
    '',
    `The new image has the identifier ${s.id}.`,
    '',
    `It is stored in the persistent disk service as volume ${s.volumeUuid}`,
    'and is private by default. Its access policy can be changed at',
    '',
    `  ${base}/pswd/disks/${s.volumeUuid}`,
    `  ${base}/cert/disks/${s.volumeUuid}`,
    '',
    `A draft metadata entry for the image is attached (${DRAFT_ATTACHMENT}).`,
    `It was uploaded to the Marketplace ${mp}`,
    `as a temporary entry, valid for only ${days}, so that the image can be`,
    `run at once: stratus-run-instance ${s.id}`,
    '',
    'To keep the image available longer, edit the validity (dcterms:valid)',
    'of the attached entry, sign it with your certificate,',
    '',
    `  stratus-sign-metadata --p12-cert <your certificate>.p12 ${DRAFT_ATTACHMENT}`,
    '',
    `and upload it through the Marketplace's web interface (${mp}/upload)`,
    'or with',
    '',
    `  stratus-upload-metadata --marketplace-endpoint ${mp} ${DRAFT_ATTACHMENT}`,
    '',
  ].join('\n');
  return {
    to,
    subject: `New image created ${s.id}`,
    text,
    attachments: [{ filename: DRAFT_ATTACHMENT, content: s.draftXml, contentType: 'application/xml' }],
  };
}
