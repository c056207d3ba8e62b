/**
 * A plain address, `local@domain`, and nothing else: no display name, no list, no comment, no
 * whitespace or control character. Anything richer is where header and envelope injection hide
 * (`a@b.org\r\nBcc: c@d.org`, `a@b.org, c@d.org`), and Stratus only ever writes to one person.
 * The mailers refuse any other recipient; the Marketplace refuses to hold an upload for
 * confirmation when its certificate's address is not one.
 */
const PLAIN_ADDRESS = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*$/;

export function isPlainAddress(value: string): boolean {
  return value.length <= 254 && PLAIN_ADDRESS.test(value);
}
