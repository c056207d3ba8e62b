/**
 * The system ssh and scp clients' arguments for reaching an instance as root, shared by
 * stratus-connect-instance and stratus-create-image. Guests are new machines with new host
 * keys every time, so host keys are neither checked nor recorded (StratusLab's client did the
 * same); the log level keeps ssh's own chatter (the "Warning: Permanently added" lines) out of
 * the command's output.
 */
export interface SshTarget {
  host: string;
  /** The private key (-i). */
  key: string;
  /** A forwarded port, when the guest's port 22 is not reached on 22. */
  port?: number;
  /** Seconds ssh waits for the TCP connection (default 10). */
  connectTimeoutS?: number;
  /** No password or passphrase prompt: fail instead (for unattended runs). */
  batch?: boolean;
  /**
   * A control socket: the first connection stays open (for at most `persistS` idle seconds)
   * and later commands share it. Under emulation each new connection's key exchange costs the
   * guest over a second; a shared one costs a tenth.
   */
  shared?: { socket: string; persistS: number };
}

function common(t: SshTarget): string[] {
  return [
    '-i', t.key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-o', `ConnectTimeout=${t.connectTimeoutS ?? 10}`, ...(t.batch ? ['-o', 'BatchMode=yes'] : []),
    ...(t.shared ? ['-o', 'ControlMaster=auto', '-o', `ControlPath=${t.shared.socket}`, '-o', `ControlPersist=${t.shared.persistS}`] : []),
  ];
}

/**
 * `ssh` arguments running `command` as root on the target. ssh joins the command's words with
 * spaces and the remote shell parses them again, so callers quote what must stay one word
 * (shellQuote). `tty`: a terminal for the command even when ours is not one (-tt), as
 * StratusLab ran scripts with -t.
 */
export function sshArgs(t: SshTarget, command: string[] = [], opts: { tty?: boolean } = {}): string[] {
  return [...common(t), ...(t.port !== undefined ? ['-p', String(t.port)] : []), ...(opts.tty ? ['-tt'] : []), `root@${t.host}`, ...command];
}

/** `ssh` arguments asking the shared connection's master (`t.shared`) to end. */
export function sshStopSharedArgs(t: SshTarget & { shared: { socket: string } }): string[] {
  return ['-o', `ControlPath=${t.shared.socket}`, '-O', 'exit', `root@${t.host}`];
}

/** `scp` arguments copying the local file `from` to root's `to` on the target. */
export function scpArgs(t: SshTarget, from: string, to: string): string[] {
  // A local name with a colon would be read as host:path; ./ keeps it a local path.
  const local = from.startsWith('/') || from.startsWith('./') ? from : `./${from}`;
  return [...common(t), ...(t.port !== undefined ? ['-P', String(t.port)] : []), local, `root@${bracketed(t.host)}:${to}`];
}

/** An IPv6 address in an scp destination needs brackets, or its colons end the host. */
function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * `text` as one word of a POSIX shell: single-quoted, each single quote closed, escaped and
 * reopened. Nothing inside single quotes is special to the shell ($, `, \, ;, newlines).
 */
export function shellQuote(text: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
