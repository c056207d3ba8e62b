import { StratusError } from '../domain/errors.js';

/**
 * Asks for a secret on the terminal without echoing it. When stdin is not a terminal (a
 * script), the first line of stdin is the answer, so `echo pw | stratus-sign-metadata …` works.
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

function readLine(stream: NodeJS.ReadStream): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(buf.slice(0, nl).replace(/\r$/, ''));
    };
    const onEnd = (): void => finish(buf === '' ? undefined : buf.replace(/\r?\n$/, ''));
    const finish = (v: string | undefined): void => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.pause();
      resolve(v);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.resume();
  });
}
