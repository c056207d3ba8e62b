import { StratusError } from '../domain/errors.js';
import { DEFAULT_CONNECTION_LIMITS } from '../api/connections.js';
import type { ConnectionLimits } from '../api/connections.js';
import { DEFAULT_LOGIN_LIMITS } from '../api/login-guard.js';
import type { LoginLimits } from '../api/login-guard.js';
import { DEFAULT_ANONYMOUS_UPLOADS_PER_HOUR, DEFAULT_BODY_MEMORY_BYTES, DEFAULT_MAX_METADATA_BYTES } from '../api/build-app.js';

/** The limits that keep one client from exhausting the server (issue 8 §3), from stratus.cfg. */
export interface ServerLimits {
  /** The URL clients reach the server by, for Location headers and the same-origin check. */
  publicUrl?: string;
  maxMetadataBytes: number;
  bodyMemoryBytes: number;
  anonymousUploadsPerHour: number;
  login: LoginLimits;
  connections: ConnectionLimits;
}

type Get = (section: string, key: string) => string | undefined;

/**
 * Reads, all optional:
 *   [server] public_url, max_connections, max_connections_per_address (0: no cap, e.g. behind
 *            a proxy), idle_timeout_s, headers_timeout_s, body_timeout_s, upload_timeout_s,
 *            keep_alive_timeout_s, login_failures_per_address, login_failures_per_account,
 *            login_window_s
 *   [marketplace] max_metadata_bytes, body_memory_mib, anonymous_uploads_per_hour (0: uploads
 *            need an account; "unlimited": StratusLab's behaviour)
 * Timeouts are seconds and may have decimals.
 */
export function loadServerLimits(get: Get, cfgPath: string): ServerLimits {
  const num = (section: string, key: string, fallback: number, opts: { min: number; integer?: boolean; scale?: number }): number => {
    const raw = get(section, key);
    if (raw === undefined) return fallback;
    const n = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(n) || n < opts.min || (opts.integer && !Number.isSafeInteger(n))) {
      throw new StratusError('CONFIG_INVALID', `${cfgPath}: [${section}] ${key} = ${raw} is not ${opts.integer ? 'a whole number' : 'a number'} ≥ ${opts.min}`);
    }
    return Math.round(n * (opts.scale ?? 1));
  };
  const seconds = (key: string, fallbackMs: number): number => num('server', key, fallbackMs, { min: 0.1, scale: 1000 });
  const whole = (section: string, key: string, fallback: number, min = 1): number => num(section, key, fallback, { min, integer: true });
  const d = DEFAULT_CONNECTION_LIMITS;
  const limits: ServerLimits = {
    maxMetadataBytes: whole('marketplace', 'max_metadata_bytes', DEFAULT_MAX_METADATA_BYTES, 1024),
    bodyMemoryBytes: whole('marketplace', 'body_memory_mib', DEFAULT_BODY_MEMORY_BYTES / 2 ** 20) * 2 ** 20,
    anonymousUploadsPerHour: get('marketplace', 'anonymous_uploads_per_hour')?.trim() === 'unlimited'
      ? Infinity
      : whole('marketplace', 'anonymous_uploads_per_hour', DEFAULT_ANONYMOUS_UPLOADS_PER_HOUR, 0),
    login: {
      perAddress: whole('server', 'login_failures_per_address', DEFAULT_LOGIN_LIMITS.perAddress),
      perAccount: whole('server', 'login_failures_per_account', DEFAULT_LOGIN_LIMITS.perAccount),
      windowMs: seconds('login_window_s', DEFAULT_LOGIN_LIMITS.windowMs),
    },
    connections: {
      maxConnections: whole('server', 'max_connections', d.maxConnections),
      maxConnectionsPerAddress: whole('server', 'max_connections_per_address', d.maxConnectionsPerAddress, 0),
      idleTimeoutMs: seconds('idle_timeout_s', d.idleTimeoutMs),
      headersTimeoutMs: seconds('headers_timeout_s', d.headersTimeoutMs),
      bodyTimeoutMs: seconds('body_timeout_s', d.bodyTimeoutMs),
      uploadTimeoutMs: seconds('upload_timeout_s', d.uploadTimeoutMs),
      keepAliveTimeoutMs: seconds('keep_alive_timeout_s', d.keepAliveTimeoutMs),
      maxRequestsPerSocket: d.maxRequestsPerSocket,
    },
  };
  if (limits.maxMetadataBytes > limits.bodyMemoryBytes) {
    throw new StratusError('CONFIG_INVALID', `${cfgPath}: max_metadata_bytes (${limits.maxMetadataBytes}) is more than body_memory_mib holds`);
  }
  const publicUrl = get('server', 'public_url')?.trim();
  if (publicUrl) limits.publicUrl = checkedPublicUrl(publicUrl, cfgPath);
  return limits;
}

function checkedPublicUrl(value: string, cfgPath: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StratusError('CONFIG_INVALID', `${cfgPath}: [server] public_url = ${value} is not a URL`, { hint: 'Give the scheme, host and port clients use, e.g. https://marketplace.example.org:9204' });
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw new StratusError('CONFIG_INVALID', `${cfgPath}: [server] public_url = ${value} must be a plain http(s) URL`, { hint: 'Give the scheme, host and port clients use, e.g. https://marketplace.example.org:9204' });
  }
  return url.href.replace(/\/+$/, '');
}
