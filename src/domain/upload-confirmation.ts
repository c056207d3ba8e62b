/**
 * What the Marketplace hands to whoever writes its mail (main/ wires mail/ in) when an upload
 * waits for its endorser's confirmation (reference §6.3, `validate.email`), and when an
 * endorser reports one as abuse. Plain data, shared by marketplace/ and mail/.
 */

/** An upload held until its endorser confirms it. */
export interface UploadConfirmation {
  /** The signing certificate's e-mail address. */
  to: string;
  /** The secret of the links; only its hash is stored. */
  token: string;
  /** The server's public base URL, which the links start with. */
  base: string;
  identifier: string;
  created: string;
  title?: string;
  deprecating: boolean;
  /** When the links stop working (ISO 8601 UTC). */
  expires: string;
}

/** What the administrators are told of an upload its endorser reported as abuse. */
export interface AbuseReport {
  identifier: string;
  email: string;
  created: string;
  subject: string | null;
  received: string;
  /** The client address the upload came from, and its account id when it had one. */
  client: string | null;
  uploaderId: string | null;
}
