import { StratusError } from '../../domain/errors.js';
import { checkSaveRequest } from '../../domain/instance-wire.js';
import type { SaveRequest } from '../../domain/instance-wire.js';
import { nextVersion } from '../../metadata/entry/saved.js';

/** The new image's description, as stratus-create-image's options give it. */
export interface NewImageOptions {
  title?: string;
  comment?: string;
  author?: string;
  authorEmail?: string;
  imageVersion?: string;
  marketplaceEndpointNewimage?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * The four required options of reference §1.2, checked in its order and refused in
 * StratusLab's words (a blank value is missing too; the e-mail must be an address).
 */
export function checkRequired(o: NewImageOptions): void {
  const missing = (v: string | undefined): boolean => v === undefined || v.trim() === '';
  if (missing(o.title)) throw usage('Provide a title describing the new image', '--title');
  if (missing(o.comment)) throw usage('Provide a comment describing the new image', '--comment');
  if (missing(o.author)) throw usage('Provide an author for the new image', '--author');
  if (missing(o.authorEmail) || !EMAIL.test((o.authorEmail as string).trim())) throw usage('Provide a valid Email address of the author of the image.', '--author-email');
}

function usage(message: string, option: string): StratusError {
  return new StratusError('USAGE', message, { hint: `Give ${option}; stratus-create-image needs --title, --comment, --author and --author-email.` });
}

/**
 * What the VM saves at shutdown (§2.4): the required fields, and the version, by default the
 * base image's with its minor part incremented (`1.4` → `1.5`, the Epilog's own rule).
 */
export function saveRequestOf(o: NewImageOptions, baseVersion: string | undefined): SaveRequest {
  checkRequired(o);
  return checkSaveRequest({
    author: o.author, authorEmail: o.authorEmail, title: o.title, comment: o.comment,
    imageVersion: o.imageVersion?.trim() ? o.imageVersion : nextVersion(baseVersion),
    ...(o.marketplaceEndpointNewimage !== undefined ? { marketplace: o.marketplaceEndpointNewimage } : {}),
  }, {
    author: '--author', authorEmail: '--author-email', imageVersion: '--image-version', title: '--title', comment: '--comment', marketplace: '--marketplace-endpoint-newimage',
  }, 'Provide ');
}

/** --vm-start-timeout and --vm-ping-timeout: whole seconds, at least 1. */
export function seconds(text: string, option: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1) throw new StratusError('USAGE', `${option} must be a whole number of seconds ≥ 1, not ${text}`);
  return n;
}
