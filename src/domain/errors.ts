/**
 * The error catalogue: every failure a user can meet has a stable code, an HTTP status, and a
 * hint that says how to fix it. docs/errors.md is generated from this table.
 */
export interface ErrorSpec {
  /** HTTP status the API answers with. */
  readonly status: number;
  /** What the code means, for docs/errors.md. */
  readonly description: string;
  /** Default advice shown after the message. */
  readonly hint: string;
}

export const errorCatalogue = {
  USAGE: { status: 400, description: 'A command was called with missing or wrong arguments.', hint: 'Run the command with --help to see its options.' },
  FILE_NOT_FOUND: { status: 404, description: 'A file named on the command line does not exist.', hint: 'Check the path and that you can read it.' },
  CONFIG_INVALID: { status: 500, description: 'A configuration file or variable has a bad value.', hint: 'Fix the named key in the named file, or unset the variable.' },
  IDENTIFIER_INVALID: { status: 400, description: 'A Marketplace identifier is not 27 characters of the base64url alphabet.', hint: 'Identifiers look like MMZu9WvwKIro-rtBQfDk4PsKO7_ (27 characters, A-Z a-z 0-9 - _).' },
  SHA1_INVALID: { status: 400, description: 'A SHA-1 checksum is not 40 hexadecimal digits.', hint: 'Give the SHA-1 of the uncompressed image in hex.' },
  XML_TOO_LARGE: { status: 413, description: 'An XML document is over the size limit.', hint: 'Metadata entries are a few kilobytes; check that you sent the metadata file, not the image.' },
  XML_NOT_UTF8: { status: 400, description: 'An XML document is not valid UTF-8.', hint: 'Save the file as UTF-8 (e.g. iconv -t UTF-8).' },
  XML_DTD_FORBIDDEN: { status: 400, description: 'An XML document carries a DOCTYPE; DTDs and entities are refused for safety.', hint: 'Remove the <!DOCTYPE ...> declaration; metadata never needs one.' },
  XML_TOO_DEEP: { status: 400, description: 'An XML document nests elements deeper than the limit (64 levels); entries nest about six.', hint: 'Flatten the document; metadata entries never need deep nesting.' },
  XML_MALFORMED: { status: 400, description: 'An XML document could not be parsed.', hint: 'Check that the file is complete, well-formed XML (xmllint --noout FILE).' },
  METADATA_INVALID: { status: 400, description: 'A metadata entry breaks the schema, a constraint or the RDF/XML grammar.', hint: 'Run stratus-validate-metadata on the file to see every finding.' },
  METADATA_UNSAFE: { status: 400, description: 'A metadata entry holds content a browser could run (XHTML, SVG or MathML elements, on* event-handler attributes, javascript: URLs, processing instructions such as xml-stylesheet) or that its signature does not cover (comments).', hint: 'Remove the named node and sign the entry again; metadata needs none of these.' },
  SIGNATURE_MISSING: { status: 400, description: 'A metadata entry has no XML signature.', hint: 'Sign it first: stratus-sign-metadata --p12-cert CERT.p12 FILE.' },
  SIGNATURE_INVALID: { status: 400, description: 'An XML signature does not verify: the document changed after signing, or the signature is damaged.', hint: 'Re-sign the file with stratus-sign-metadata after your last edit.' },
  SIGNATURE_UNSUPPORTED: { status: 400, description: 'An XML signature uses an algorithm or reference form Stratus does not verify.', hint: 'Sign with RSA-SHA256 or RSA-SHA1, inclusive C14N, an enveloped signature and URI="".' },
  ENDORSER_INCONSISTENT: { status: 400, description: 'The endorser block does not match the signing certificate.', hint: 'Re-sign the file: the signer rewrites the endorser from the certificate.' },
  ENDORSEMENT_IN_FUTURE: { status: 400, description: 'The endorsement date (dcterms:created) is further ahead of the server\'s clock than the configured margin (max_created_ahead_seconds, default 300).', hint: 'Check the signing machine\'s clock (timedatectl; enable NTP) and sign the entry again.' },
  TRUST_REJECTED: { status: 403, description: 'The trust policy of this Marketplace refuses the endorser.', hint: 'Ask the Marketplace operator to trust your certificate, or sign with a trusted one.' },
  ENTRY_OLDER_THAN_LATEST: { status: 400, description: 'An upload is older than the latest entry of the same image and endorser.', hint: 'Re-sign the entry so that its endorsement date is now.' },
  ENTRY_NOT_FOUND: { status: 404, description: 'No metadata entry has that identifier, endorser and date.', hint: 'List entries with stratus-list-images or GET /metadata.' },
  PENDING_UPLOAD_NOT_FOUND: { status: 404, description: 'No upload waits for confirmation under that link: it was confirmed, aborted or reported already, it expired ([marketplace] pending_upload_hours), or the link is wrong.', hint: 'Upload the signed entry again: a new confirmation e-mail is sent to its endorser.' },
  NO_MATCH: { status: 404, description: 'No metadata entry matches the query.', hint: 'Widen the filters, or add status=all to see expired and deprecated entries.' },
  P12_NOT_FOUND: { status: 400, description: 'The PKCS#12 certificate file does not exist.', hint: 'Give --p12-cert, set STRATUSLAB_P12_CERTIFICATE, or make one with stratus-generate-p12.' },
  P12_BAD_PASSWORD: { status: 400, description: 'The PKCS#12 file could not be opened with that password.', hint: 'Check --p12-password (or STRATUSLAB_P12_PASSWORD).' },
  P12_NO_KEY: { status: 400, description: 'The PKCS#12 file holds no private key with a certificate.', hint: 'Export the key together with its certificate (openssl pkcs12 -export -inkey KEY -in CERT).' },
  CERT_INVALID: { status: 400, description: 'A certificate or key could not be read.', hint: 'Give a PEM or DER X.509 certificate and a matching PEM private key.' },
  ENDORSER_EMAIL_MISSING: { status: 400, description: 'The certificate has no e-mail SubjectAltName and no --email was given.', hint: 'Pass --email you@example.org.' },
  EMAIL_INVALID: { status: 400, description: 'An e-mail address is not valid.', hint: 'Use a plain address such as jane@example.org.' },
  MARKETPLACE_UNREACHABLE: { status: 502, description: 'The Marketplace endpoint did not answer.', hint: 'Check --marketplace-endpoint (or STRATUSLAB_MARKETPLACE_ENDPOINT) and that the server runs.' },
  MARKETPLACE_ERROR: { status: 502, description: 'The Marketplace answered with an error.', hint: 'Read the message; it comes from the server.' },
  IMAGE_NOT_READABLE: { status: 400, description: 'An image file could not be read.', hint: 'Check the path; compressed images must be complete .gz or .bz2 files.' },
  ROUTE_NOT_FOUND: { status: 404, description: 'No HTTP resource at that path.', hint: 'See docs/api.md for the routes.' },
  NOT_ACCEPTABLE: { status: 406, description: 'The client asked for a representation the server does not have.', hint: 'Use ?media=xml, ?media=json or ?media=html.' },
  PAYLOAD_UNSUPPORTED: { status: 415, description: 'The request body has a content type the route does not take.', hint: 'POST metadata as application/xml, application/rdf+xml, or a multipart form.' },
  TOOL_FAILED: { status: 500, description: 'An external tool (qemu-img, gzip, …) failed or is missing.', hint: 'Read the quoted tool output; npm run setup installs every tool Stratus uses.' },
  STORAGE_FULL: { status: 507, description: 'The disk holding the data dir is full; nothing was stored.', hint: 'Free space in the data dir (or delete volumes you no longer need) and try again.' },
  AUTH_REQUIRED: { status: 401, description: 'The request needs a username and password, or they are wrong.', hint: 'Give -u/--username and -p/--password (or STRATUSLAB_USERNAME / STRATUSLAB_PASSWORD, or the config file).' },
  FORBIDDEN: { status: 403, description: 'The account may not do this (an admin-only action, or another user\'s volume).', hint: 'Ask the owner or an admin.' },
  RATE_LIMITED: { status: 429, description: 'Too many failed logins, or too many anonymous uploads, from one client address or for one account; the answer\'s Retry-After header says when to try again.', hint: 'Wait the number of seconds in Retry-After, check the username and password, or upload with an account.' },
  CROSS_SITE_REFUSED: { status: 403, description: 'A state-changing request came from another web site (its Origin or Sec-Fetch-Site header says so): refused whatever credentials it carries, against cross-site request forgery.', hint: 'Use the Stratus web UI, the stratus-* commands or a non-browser client; a page on another site cannot change anything here.' },
  SERVER_BUSY: { status: 503, description: 'The server is at a limit it shares between all clients (password checks, or memory for request bodies in progress); nothing was done.', hint: 'Try again after the number of seconds in Retry-After.' },
  MULTIPART_MALFORMED: { status: 400, description: 'A multipart/form-data body is malformed: no boundary in its Content-Type, a boundary that never appears, or a body that ends before its closing boundary.', hint: 'Send the form again with a complete body, as a browser or curl -F does.' },
  USER_EXISTS: { status: 409, description: 'An account with that name exists already.', hint: 'Pick another name, or change the password with stratus user passwd.' },
  USER_NOT_FOUND: { status: 404, description: 'No account has that name.', hint: 'List accounts with stratus user list.' },
  USER_IN_USE: { status: 409, description: 'The account still owns volumes or mounts, so it was not removed.', hint: 'Delete them first, or remove the account with stratus user remove --force, which hands them to the admin.' },
  VOLUME_NOT_FOUND: { status: 404, description: 'No volume with that UUID is visible to you.', hint: 'List your volumes with stratus-describe-volumes.' },
  VOLUME_INVALID: { status: 400, description: 'A volume request has a bad value (UUID, size, tag, type, visibility).', hint: 'Sizes are 1-1024 GiB, tags at most 40 characters, UUIDs look like 410b7fb4-973b-4b6d-82a7-e637a5103f4d.' },
  VOLUME_DUPLICATE: { status: 409, description: 'A volume with the same content (identifier) is registered already.', hint: 'Use the existing volume (stratus-describe-volumes -f identifier:<id>) instead of uploading it again.' },
  VOLUME_IN_USE: { status: 409, description: 'The volume is attached to a machine or has snapshots, so it cannot be deleted or changed that way.', hint: 'Detach it (or delete its snapshots) first.' },
  VOLUME_STATE: { status: 409, description: 'The operation does not apply to a volume of this type.', hint: 'Snapshots are made from MACHINE_IMAGE_ORIGIN volumes; rebase applies to MACHINE_IMAGE_LIVE ones.' },
  QUOTA_EXCEEDED: { status: 507, description: 'The request would take the account over its volume quota (a number of volumes or of GiB); an upload is stopped as soon as it passes the quota.', hint: 'Delete volumes you no longer need, or ask an admin to raise the quota (stratus user quota).' },
  VOLUME_TOO_LARGE: { status: 413, description: 'A volume would be larger than the server allows (max_volume_gib in the server configuration); an upload is stopped as soon as it passes the limit.', hint: 'Split the data over several volumes, or ask the operator to raise max_volume_gib.' },
  UPLOAD_INCOMPLETE: { status: 400, description: 'An upload ended before all its data arrived, or is not a valid gzip stream.', hint: 'Upload the whole file again; nothing of the partial upload was kept.' },
  IMAGE_UNSAFE: { status: 400, description: 'An image was refused before it was stored or booted: a qcow2 that names a backing file or an external data file (either would make QEMU read a file of the server\'s host), a qcow2 larger than the largest volume, or a format other than raw and qcow2.', hint: 'Publish a standalone image: qemu-img convert -O qcow2 (or -O raw) writes one without a backing or data file.' },
  URL_REFUSED: { status: 403, description: 'The server will not fetch that URL: a scheme other than http and https, or an address of the server itself (loopback, its own interfaces), a link-local address, or the instance network, unless the administrator allows it ([instances] url_allow); a redirect is checked the same way.', hint: 'Put the image on a web server the cloud may reach, or ask the administrator to add its address to [instances] url_allow.' },
  DOWNLOAD_FAILED: { status: 502, description: 'No location of the image gave content matching its metadata.', hint: 'Read each location\'s reason; the image may have moved or been corrupted.' },
  CONTEXT_TOO_LARGE: { status: 400, description: 'The contextualization (user-data) is over the size limit.', hint: 'Keep user-data under 16 KiB gzipped; put large files on a volume.' },
  INSTANCE_NOT_FOUND: { status: 404, description: 'No instance with this vm ID is visible to the caller (others\' instances are not shown).', hint: 'List your instances with stratus-describe-instance.' },
  INSTANCE_STATE: { status: 409, description: 'The instance is not in a state that allows this action (for example, shutdown of an instance that is not Running).', hint: 'Check its state with stratus-describe-instance; stratus-kill-instance ends it from any state.' },
  INSTANCE_LIMIT: { status: 403, description: 'The request would take the account over its instance limits (instances, vCPUs or RAM), or asks for more than this host has.', hint: 'Kill instances you no longer need, pick a smaller type (stratus-run-instance -l), or ask an admin to raise the limits.' },
  VNC_REFUSED: { status: 403, description: 'This cloud does not allow the VNC listen address or port asked for: an address other than loopback that the administrator has not allowed ([instances] vnc_listen_allowed), or a port outside the site\'s VNC ports ([instances] vnc_ports).', hint: 'Leave --vnc-listen and --vnc-port out (loopback, a port the cloud picks) and reach the port through SSH, or ask the administrator.' },
  VNC_PORT_BUSY: { status: 409, description: 'The VNC port asked for is in use (by another instance or program), or the site\'s VNC ports have no free one left.', hint: 'Give another port, or --vnc-port -1 to let the cloud pick a free one.' },
  POLICY_REFUSED: { status: 403, description: 'The site policy of this cloud refuses the image (white and black lists of endorsers, images and checksums).', hint: 'Run an image the site allows, or ask the site administrator.' },
  INSTANCE_FAILED: { status: 500, description: 'A virtual machine did not start or did not become ready.', hint: 'Read the quoted serial console lines; the image may not be bootable.' },
  LAYER_INVALID: { status: 400, description: 'A layer key is not 64 lowercase hexadecimal digits (a SHA-256 in hex, as stratus-create-image computes it from the base image and the step).', hint: 'Give the key as 64 characters 0-9 a-f; a layer key never names a path.' },
  LAYER_NOT_FOUND: { status: 404, description: 'The caller has no cached layer with that key (layers are each account\'s own; another account\'s key does not exist for you), or the base image it was made over is gone.', hint: 'Save one with POST /instances/<id>/layers (stratus-create-image does), or run from the base image without a layer.' },
  LAYER_MISMATCH: { status: 409, description: 'The cached layer was made over another base image (another origin volume) than the image asked for, or its instance does not boot a disk the cloud made from a base image.', hint: 'Run the layer with the image it was made from, or save a new layer from an instance of this image.' },
  LAYER_IN_USE: { status: 409, description: 'A live instance was started from the cached layer, so it is not removed now.', hint: 'Kill or shut down that instance first (stratus-describe-instance lists yours).' },
  LAYER_CACHE_FULL: { status: 507, description: 'The new layer does not fit in the account\'s layer cache ([instances] layer_cache_mib), even after its least recently used layers that no live instance uses were removed; nothing was kept.', hint: 'Delete layers you no longer need, end the instances started from layers, or ask the operator to raise layer_cache_mib.' },
  CREATE_IMAGE_FAILED: { status: 500, description: 'A step of stratus-create-image failed inside the VM: installing the packages (-a) or a user script (-s) exited non-zero. The message quotes the step\'s last lines; the VM was killed, so no image was saved.', hint: 'Fix the package list or the script and run the command again; the steps before the failed one are kept in the step cache.' },
  MAIL_FAILED: { status: 502, description: 'A message could not be sent: the SMTP server of the server configuration ([mail]) could not be reached, refused the TLS handshake, the login, the sender or the recipient, or did not answer in time; or the outbox could not be written.', hint: 'Check [mail] host, port, security, user, password and ca_file in stratus.cfg (without host, mail goes to <data-dir>/outbox/).' },
  INTERNAL: { status: 500, description: 'An unexpected failure inside Stratus. The API answers with the code and a request id only; the server log has the detail under that id.', hint: 'Report the request id to the server operator (the detail is in the server log under it), or run again with -vvv and report the trace.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The one error class: a stable code, a message saying what and where, and a hint. */
export class StratusError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string;

  /** Seconds after which a refused request may be tried again (HTTP Retry-After), when that is known. */
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown; retryAfterS?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StratusError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.hint = options.hint ?? errorCatalogue[code].hint;
    this.retryAfterS = options.retryAfterS;
  }
}

/** True when `e` is a StratusError with one of the given codes (or any code when none given). */
export function isStratusError(e: unknown, ...codes: ErrorCode[]): e is StratusError {
  return e instanceof StratusError && (codes.length === 0 || codes.includes(e.code));
}
