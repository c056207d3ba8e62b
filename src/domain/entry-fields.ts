/**
 * The entry schema: one row per element of an entry's rdf:Description (reference §4.3-4.4),
 * in the order StratusLab's manifest template writes them. Every layer that handles an
 * entry's fields reads this table: the RDF/XML reader and writer, stratus-build-metadata's
 * options, the database columns, the JSON shapes and the entry page. Adding a field means
 * adding a row here.
 *
 * The entry's key and provenance (endorsement e-mail and time, certificate subject and issuer)
 * and the signature are structure, not fields: they are handled where they are used.
 */

/** Namespace prefixes, as every writer spells them (URIs in metadata/xml/dom.ts). */
export type EntryNamespace = 'dcterms' | 'slreq' | 'slterms';

/**
 * - `text`, `date` (yyyy-MM-ddTHH:mm:ssZ; an empty one is stored as no date) and `integer`
 *   (digits only; other text reads as absent) hold the element's trimmed text;
 * - `checksum` (slreq:algorithm + slreq:value) and `endorsement` are the structured blocks.
 */
export type EntryFieldType = 'text' | 'date' | 'integer' | 'checksum' | 'endorsement';

export interface EntryField {
  /** Property of the typed entry and, unless `wire` says otherwise, name in JSON. */
  readonly name: string;
  readonly wire?: string;
  readonly ns: EntryNamespace;
  /** Local name of the element. */
  readonly element: string;
  /** Read when `element` is absent (StratusLab's tools did not agree on every namespace). */
  readonly alias?: { readonly ns: EntryNamespace; readonly element: string };
  /** `one`: the first element counts; `many`: every element, in document order. */
  readonly cardinality: 'one' | 'many';
  readonly type: EntryFieldType;
  /** Allowed values of an integer field, for the options that set it. */
  readonly range?: readonly [number, number];
  /**
   * The database column. Listings are served from columns, so fields with one are in every
   * listing (JSON `entries`); the others come from the stored XML, on the entry itself only.
   * A `many` field's column holds a JSON array.
   */
  readonly column?: string;
  /** Label on the entry page. */
  readonly label: string;
  /** Part of the text free-text search looks in. */
  readonly searchable?: boolean;
  /**
   * Present on the fields stratus-build-metadata writes: they are written even when empty
   * (the value, else `default`, else ''); the others only when given. `option` is the
   * command-line option that sets it, with a hint for its help.
   */
  readonly build?: { readonly default?: string; readonly option?: string; readonly hint?: string };
}

export const ENTRY_FIELDS = [
  { name: 'identifier', ns: 'dcterms', element: 'identifier', cardinality: 'one', type: 'text', column: 'identifier', label: 'Identifier', searchable: true, build: {} },
  { name: 'bytes', ns: 'slreq', element: 'bytes', cardinality: 'one', type: 'integer', range: [0, Number.MAX_SAFE_INTEGER], column: 'bytes', label: 'Bytes', build: {} },
  { name: 'checksums', ns: 'slreq', element: 'checksum', cardinality: 'many', type: 'checksum', label: 'Checksums', build: {} },
  { name: 'endorsement', ns: 'slreq', element: 'endorsement', cardinality: 'one', type: 'endorsement', label: 'Endorsement', build: {} },
  { name: 'type', ns: 'dcterms', element: 'type', cardinality: 'one', type: 'text', column: 'type', label: 'Type', searchable: true, build: { default: 'base', option: '--type <name>', hint: 'base, grid, machine, …' } },
  { name: 'kind', ns: 'slterms', element: 'kind', cardinality: 'one', type: 'text', column: 'kind', label: 'Kind', searchable: true, build: { default: 'machine', option: '--kind <name>', hint: 'machine or disk' } },
  { name: 'os', ns: 'slterms', element: 'os', cardinality: 'one', type: 'text', column: 'os', label: 'OS', searchable: true, build: { option: '--os <name>' } },
  { name: 'osVersion', ns: 'slterms', element: 'os-version', cardinality: 'one', type: 'text', column: 'os_version', label: 'OS version', searchable: true, build: { option: '--os-version <v>' } },
  { name: 'osArch', ns: 'slterms', element: 'os-arch', cardinality: 'one', type: 'text', column: 'os_arch', label: 'OS arch', searchable: true, build: { option: '--os-arch <arch>' } },
  { name: 'version', ns: 'slterms', element: 'version', cardinality: 'one', type: 'text', column: 'version', label: 'Image version', searchable: true, build: { option: '--image-version <v>' } },
  { name: 'serialNumber', ns: 'slterms', element: 'serial-number', cardinality: 'one', type: 'text', label: 'Serial number' },
  // build-metadata's --compression defaults from the file name, so its option is its own.
  { name: 'compression', ns: 'dcterms', element: 'compression', alias: { ns: 'slterms', element: 'compression' }, cardinality: 'one', type: 'text', label: 'Compression', build: {} },
  { name: 'locations', ns: 'slterms', element: 'location', cardinality: 'many', type: 'text', column: 'locations', label: 'Locations', searchable: true, build: { option: '--location <uri>', hint: 'repeat for mirrors' } },
  { name: 'format', ns: 'dcterms', element: 'format', cardinality: 'one', type: 'text', column: 'format', label: 'Format', build: { default: 'raw', option: '--format <fmt>', hint: 'raw or qcow2' } },
  { name: 'creator', ns: 'dcterms', element: 'creator', cardinality: 'one', type: 'text', column: 'creator', label: 'Creator', searchable: true, build: { option: '--author <name>' } },
  { name: 'created', wire: 'metadataCreated', ns: 'dcterms', element: 'created', cardinality: 'one', type: 'date', label: 'Metadata created', build: {} },
  { name: 'valid', ns: 'dcterms', element: 'valid', cardinality: 'one', type: 'date', column: 'valid', label: 'Valid until', build: {} },
  { name: 'title', ns: 'dcterms', element: 'title', cardinality: 'one', type: 'text', column: 'title', label: 'Title', searchable: true, build: { option: '--title <text>' } },
  { name: 'alternative', ns: 'dcterms', element: 'alternative', cardinality: 'one', type: 'text', column: 'alternative', label: 'Tag (alternative)', searchable: true, build: { option: '--tag <text>', hint: 'a stable alias' } },
  { name: 'description', ns: 'dcterms', element: 'description', cardinality: 'one', type: 'text', column: 'description', label: 'Description', searchable: true, build: { option: '--comment <text>' } },
  { name: 'hypervisor', ns: 'slterms', element: 'hypervisor', cardinality: 'one', type: 'text', label: 'Hypervisor', build: { default: 'kvm', option: '--hypervisor <name>' } },
  { name: 'disksBus', ns: 'slterms', element: 'disks-bus', cardinality: 'one', type: 'text', label: 'Disks bus', build: { default: 'ide', option: '--disks-bus <bus>', hint: 'ide, scsi or virtio' } },
  { name: 'inboundPorts', ns: 'slterms', element: 'inbound-port', cardinality: 'many', type: 'integer', range: [0, 65535], label: 'Inbound ports', build: { option: '--inbound-port <port>', hint: 'repeat' } },
  { name: 'outboundPorts', ns: 'slterms', element: 'outbound-port', cardinality: 'many', type: 'integer', range: [0, 65535], label: 'Outbound ports' },
  { name: 'icmp', ns: 'slterms', element: 'icmp', cardinality: 'many', type: 'integer', range: [0, 255], label: 'ICMP' },
  { name: 'publisher', ns: 'dcterms', element: 'publisher', cardinality: 'one', type: 'text', label: 'Publisher', build: { default: 'StratusLab' } },
  { name: 'deprecated', ns: 'slterms', element: 'deprecated', cardinality: 'one', type: 'text', column: 'deprecated', label: 'Deprecated' },
] as const satisfies readonly EntryField[];

/** A field table: the real one, or one a test extends. */
export type EntryFields = readonly EntryField[];

/** The name a field has in JSON. */
export function wireName(f: EntryField): string {
  return f.wire ?? f.name;
}

/** True for the fields that hold text, dates or integers (not the structured blocks). */
export function isValueField(f: EntryField): boolean {
  return f.type === 'text' || f.type === 'date' || f.type === 'integer';
}

/** The qualified element name, e.g. `slterms:os-version`. */
export function qualifiedName(f: EntryField): string {
  return `${f.ns}:${f.element}`;
}

/** A value field as the row and JSON layers carry it: one shape for all, so the per-row loops stay fast. */
export interface ValueFieldPlan {
  name: string;
  wire: string;
  column: string | undefined;
  many: boolean;
  integer: boolean;
  date: boolean;
}

const plans = new WeakMap<EntryFields, { listed: ValueFieldPlan[]; unlisted: ValueFieldPlan[] }>();

/** The value fields of a table with a column (`listed`) and without (`unlisted`), worked out once per table. */
export function valueFieldPlan(fields: EntryFields): { listed: ValueFieldPlan[]; unlisted: ValueFieldPlan[] } {
  let plan = plans.get(fields);
  if (!plan) {
    const all = fields.filter(isValueField).map((f) => ({
      name: f.name, wire: wireName(f), column: f.column, many: f.cardinality === 'many', integer: f.type === 'integer', date: f.type === 'date',
    }));
    plan = { listed: all.filter((f) => f.column !== undefined), unlisted: all.filter((f) => f.column === undefined) };
    plans.set(fields, plan);
  }
  return plan;
}

// The shapes the table gives each layer, derived from the real table at compile time.
type Row = (typeof ENTRY_FIELDS)[number];
type ValueRow = Extract<Row, { type: 'text' | 'date' | 'integer' }>;
type Scalar<F> = F extends { type: 'integer' } ? number : string;
type WireOf<F> = F extends { wire: infer W extends string } ? W : F extends { name: infer N extends string } ? N : never;
type Listed = Extract<ValueRow, { column: string }>;
type Unlisted = Exclude<ValueRow, { column: string }>;

/** The value fields of a typed entry: one-valued ones optional, many-valued ones arrays. */
export type EntryValues = { [F in Extract<ValueRow, { cardinality: 'one' }> as F['name']]?: Scalar<F> }
  & { [F in Extract<ValueRow, { cardinality: 'many' }> as F['name']]: Array<Scalar<F>> };

/** The value fields in JSON: null where an entry has no such element. */
type WireValues<U> = { [F in U & ValueRow as WireOf<F>]: F extends { cardinality: 'many' } ? Array<Scalar<F>> : Scalar<F> | null };
/** Fields every listing carries (they have a column). */
export type ListedValues = WireValues<Listed>;
/** Fields only the entry itself carries (read from its XML). */
export type UnlistedValues = WireValues<Unlisted>;

/** The database columns of the fields: a many-valued field's column holds a JSON array. */
export type FieldColumns = { [F in Listed as F['column']]: F extends { cardinality: 'many' } ? string : Scalar<F> | null };
