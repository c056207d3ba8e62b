/** Dates as StratusLab writes them: yyyy-MM-dd'T'HH:mm:ss'Z', always UTC, no fraction. */
const STRICT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

export function formatUtc(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Parses a date the way Java's non-lenient SimpleDateFormat does for that pattern: the shape
 * must match and every field must be in range (no 2011-02-30, no hour 99, no offsets).
 */
export function parseStrictUtc(s: string): Date | undefined {
  const m = STRICT.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d
    || date.getUTCHours() !== h || date.getUTCMinutes() !== mi || date.getUTCSeconds() !== se) return undefined;
  return date;
}

/** Adds whole days to a date. */
export function addDays(d: Date, days: number): Date {
  return new Date(d.getTime() + days * 86_400_000);
}
