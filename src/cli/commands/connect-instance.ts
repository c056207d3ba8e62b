import { spawn } from 'node:child_process';
import { StratusError } from '../../domain/errors.js';
import { contextOf, newProgram, runProgram } from '../program.js';
import { printDetail } from '../output.js';
import { addCloudOptions, cloudClient, privateKeyPath } from '../cloud.js';
import { sshArgs } from '../../platform/ssh.js';
import type { CloudOptionValues } from '../cloud.js';

const TRIES = 30;

/**
 * `stratus-connect-instance vm-id` (reference §1.1): ssh as root to the VM's address with the
 * private key (the public key's path without .pub), retried while the guest is still booting.
 */
export default async function main(argv: string[]): Promise<number> {
  const program = addCloudOptions(newProgram('stratus-connect-instance', 'Open an SSH session as root on a virtual machine, retrying until it answers.'))
    .argument('<vm-id>', 'the VM')
    .argument('[command...]', 'a command to run instead of a shell')
    .option('-k, --key <file>', 'SSH private key (default: the public key path, env STRATUSLAB_KEY or ~/.ssh/id_rsa.pub, without .pub)')
    .action(async (id: string, command: string[], o: CloudOptionValues & { key?: string }) => {
      const ctx = contextOf(program);
      const vm = await (await cloudClient(ctx, o)).instance(id);
      if (vm.state !== 'Running' || !vm.address) throw new StratusError('INSTANCE_STATE', `VM ${id} is ${vm.state}, not Running: nothing to connect to`);
      const args = sshArgs({ host: vm.address, key: privateKeyPath(ctx, o.key) }, command);
      for (let attempt = 1; ; attempt++) {
        printDetail(ctx.output, `ssh ${args.join(' ')}`);
        const code = await new Promise<number>((resolve) => {
          const child = spawn('ssh', args, { stdio: 'inherit' });
          child.on('exit', (c) => resolve(c ?? 255));
          child.on('error', () => resolve(255));
        });
        // 255 is ssh's own failure (no route, refused, not yet up); anything else is the session's status.
        if (code !== 255 || attempt >= TRIES) {
          process.exitCode = code;
          return;
        }
        await new Promise((r) => setTimeout(r, 5000));
      }
    });
  return runProgram(program, argv);
}
