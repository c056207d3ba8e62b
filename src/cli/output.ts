/**
 * StratusLab's console helpers (reference §1.0), reproduced so scripts that read the old
 * output keep working. Messages go to stdout like the Python client's, errors to stderr.
 */
export interface Output {
  /** -v count minus -q count: 0 is INFO, >0 DEBUG, <0 WARNING and above only. */
  level: number;
  out: (s: string) => void;
  err: (s: string) => void;
}

export function consoleOutput(level = 0): Output {
  return { level, out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') };
}

/** A box of colons around the message, with a blank line before it. */
export function printAction(o: Output, msg: string): void {
  if (o.level < 0) return;
  const bar = ' ' + ':'.repeat(msg.length + 6);
  o.out(`\n${bar}\n :: ${msg} ::\n${bar}`);
}

export function printStep(o: Output, msg: string): void {
  if (o.level >= 0) o.out(` :: ${msg}`);
}

export function printInfo(o: Output, msg: string): void {
  if (o.level >= 0) o.out(msg);
}

/** Shown only with -v, as StratusLab's printDetail. */
export function printDetail(o: Output, msg: string): void {
  if (o.level > 0) o.out(msg);
}

export function printWarning(o: Output, msg: string): void {
  if (o.level >= -1) o.err(`  [WARNING] ${msg}`);
}

export function printErrorLine(o: Output, msg: string, hint?: string): void {
  o.err(`  [ERROR] ${msg}`);
  if (hint) o.err(`  hint: ${hint}`);
}
