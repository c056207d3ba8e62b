import { StratusError } from '../domain/errors.js';

/**
 * Asks for a secret on the terminal without echoing it. When stdin is not a terminal (a
 * script), the next line of stdin is the answer, so `echo pw | stratus-sign-metadata …` works.
 */
export async function promptSecret(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const line = await readLine(stdin);
    if (line === undefined) throw new StratusError('USAGE', `${question.trim()} no input on stdin`, { hint: 'Pass the password as an option or in the environment.' });
    return line;
  }
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(value));
        if (ch === '\u0003') return done(() => reject(new StratusError('USAGE', 'interrupted')));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = (then: () => void): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      then();
    };
    stdin.on('data', onData);
  });
}

/**
 * The next line of a non-terminal stdin, without its line end; undefined at the end of the
 * input. What follows the line is pushed back, so the next call reads the next line.
 */
export function readLine(stream: NodeJS.ReadStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const finish = (v: string | undefined): void => {
      stream.removeListener('data', onData).removeListener('end', onEnd).removeListener('error', reject);
      stream.pause();
      resolve(v);
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      finish(buf.subarray(0, nl).toString('utf8').replace(/\r$/, ''));
      // Only once paused, or the stream would hand the rest straight back to onData.
      if (nl + 1 < buf.length) stream.unshift(buf.subarray(nl + 1));
    };
    const onEnd = (): void => finish(buf.length > 0 ? buf.toString('utf8') : undefined);
    stream.on('data', onData).on('end', onEnd).on('error', reject);
    stream.resume();
  });
}
