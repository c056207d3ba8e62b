import { rmSync } from 'node:fs';

/**
 * Removes `path` if the process exits before the returned function is called. Ctrl-C goes
 * through process.exit (see runProgram), so a half-written file does not outlive the command;
 * only SIGKILL can leave one, which is why temporary names are predictable where it matters.
 */
export function removeOnExit(path: string): () => void {
  const hook = (): void => rmSync(path, { force: true });
  process.on('exit', hook);
  return () => {
    process.removeListener('exit', hook);
  };
}
