/**
 * A VNC client as far as authentication (RFB 3.8, RFC 6143 §7.1-7.2), to prove what a real
 * VNC server on an instance offers and whom it lets in.
 */
import { createCipheriv } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** RFC 6143 security types. */
export const RFB_NONE = 1;
export const RFB_VNC_AUTH = 2;

/** Reads exactly the bytes asked for, in order, from a socket. */
class Reader {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private ended: Error | undefined;

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.waiting?.();
    });
    const end = (e?: Error): void => {
      this.ended = e ?? new Error('the VNC server closed the connection');
      this.waiting?.();
    };
    socket.on('end', () => end());
    socket.on('error', end);
  }

  async bytes(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered.length < n) {
      if (this.ended) throw this.ended;
      if (Date.now() > deadline) throw new Error(`the VNC server sent ${this.buffered.length} of ${n} bytes within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = undefined;
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }
}

export interface RfbGreeting {
  /** The server's ProtocolVersion line, e.g. `RFB 003.008\n`. */
  banner: string;
  /** The security types it offers to a 3.8 client. */
  types: number[];
}

/** Connects, reads the banner, answers as a 3.8 client and reads the security types offered. */
async function greet(host: string, port: number): Promise<{ greeting: RfbGreeting; reader: Reader }> {
  const socket = connect({ host, port });
  const reader = new Reader(socket);
  try {
    const banner = (await reader.bytes(12)).toString('latin1');
    socket.write('RFB 003.008\n');
    const count = (await reader.bytes(1))[0] as number;
    const types = [...(await reader.bytes(count))];
    return { greeting: { banner, types }, reader };
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

/** The banner and security types of the VNC server at host:port. */
export async function rfbGreeting(host: string, port: number): Promise<RfbGreeting> {
  const { greeting, reader } = await greet(host, port);
  reader.socket.destroy();
  return greeting;
}

/** What the server says of its screen once a client is in (ServerInit). */
export interface RfbDesktop {
  width: number;
  height: number;
  /** QEMU's: `QEMU (<-name>)`. */
  name: string;
}

/**
 * VNC authentication with `password`: the server's 16-byte challenge encrypted with DES under
 * the password (8 bytes, zero-padded, each byte's bits reversed, as every VNC client does).
 * Resolves with whether the server accepted it, and its reason when not; once in, the desktop.
 */
export async function vncAuthenticate(host: string, port: number, password: string): Promise<{ ok: boolean; reason: string; desktop?: RfbDesktop }> {
  const { greeting, reader } = await greet(host, port);
  try {
    if (!greeting.types.includes(RFB_VNC_AUTH)) throw new Error(`the server offers no VNC authentication: ${greeting.types.join(', ')}`);
    reader.socket.write(Buffer.from([RFB_VNC_AUTH]));
    const challenge = await reader.bytes(16);
    reader.socket.write(desEncrypt(vncKey(password), challenge));
    const result = (await reader.bytes(4)).readUInt32BE(0);
    if (result === 0) {
      // ClientInit (shared), then ServerInit: the framebuffer's size and the desktop's name.
      reader.socket.write(Buffer.from([1]));
      const init = await reader.bytes(24);
      const name = (await reader.bytes(init.readUInt32BE(20))).toString('utf8');
      return { ok: true, reason: '', desktop: { width: init.readUInt16BE(0), height: init.readUInt16BE(2), name } };
    }
    const length = (await reader.bytes(4)).readUInt32BE(0);
    return { ok: false, reason: (await reader.bytes(length)).toString('utf8') };
  } finally {
    reader.socket.destroy();
  }
}

function vncKey(password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  return Buffer.from(key.map((b) => {
    let r = 0;
    for (let i = 0; i < 8; i++) r |= ((b >> i) & 1) << (7 - i);
    return r;
  }));
}

/** Single DES, which OpenSSL 3 keeps only in its legacy provider: two-key triple DES with both keys equal is the same cipher. */
function desEncrypt(key: Buffer, data: Buffer): Buffer {
  const cipher = createCipheriv('des-ede-ecb', Buffer.concat([key, key]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}
