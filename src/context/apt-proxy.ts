import { StratusError } from '../domain/errors.js';

/**
 * A package proxy URL as guests get it: plain http to a host (name, IPv4 or [IPv6]) and port,
 * nothing else. The URL lands in apt's configuration (`Acquire::http::Proxy "…";`) and in
 * cloud-config, so a quote, a semicolon or a newline in it would be configuration of its own.
 */
export function checkProxyUrl(url: string): string {
  if (!/^http:\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?\/?$/.test(url)) {
    throw new StratusError('CONFIG_INVALID', `package proxy URL '${url}' is not http://HOST:PORT`, {
      hint: 'Give the proxy as http://ADDRESS:PORT, e.g. http://10.20.30.1:3142 (apt-cacher-ng on the bridge address).',
    });
  }
  return url;
}

/**
 * NoCloud vendor-data that points apt at the package proxy. cloud-init 22.4 (debian-12) reads
 * `apt: http_proxy:` (and its older spelling `proxy:`) and writes
 * /etc/apt/apt.conf.d/90cloud-init-aptproxy. As vendor-data it is the provider's default: a
 * user's own `apt:` cloud-config overrides it key by key.
 */
export function aptProxyVendorData(url: string): string {
  return `#cloud-config\napt:\n  http_proxy: ${JSON.stringify(checkProxyUrl(url))}\n`;
}
