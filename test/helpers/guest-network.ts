/**
 * What the host and a guest say of the guest's network, for a test that could not reach the
 * guest: a failure message that names the cause instead of "No route to host".
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { instancePaths } from '../../src/compute/launch.js';
import { GuestAgent } from '../../src/compute/drivers/qemu/guest-agent.js';
import { tableName } from '../../src/network/firewall.js';

const GUEST = 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin; ip -o addr; ip route; ip neigh; ls /run/systemd/network; '
  + 'networkctl --no-pager list 2>&1; journalctl -b --no-pager -n 30 -u systemd-networkd 2>&1';

function host(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `$ ${cmd} ${args.join(' ')}\n${(r.stdout + r.stderr).trim()}`;
}

/** The host's view of `bridge`, and, when the instance has a guest agent (a resumed VM), the guest's. */
export async function networkReport(dataDir: string, instanceName: string, bridge: string): Promise<string> {
  const parts = [
    host('ip', ['neigh', 'show', 'dev', bridge]),
    host('bridge', ['fdb', 'show', 'br', bridge, 'dynamic']),
    host('nft', ['list', 'table', 'bridge', tableName(bridge)]),
  ];
  const socket = instancePaths(join(dataDir, 'instances'), instanceName).agentSocket;
  if (existsSync(socket)) {
    try {
      const agent = await GuestAgent.connect(socket, 20_000, () => undefined);
      try {
        const r = await agent.exec('/bin/sh', ['-c', GUEST], { timeoutMs: 60_000 });
        parts.push(`guest ${instanceName}:\n${(r.stdout + r.stderr).trim()}`);
      } finally {
        agent.close();
      }
    } catch (e) {
      parts.push(`guest ${instanceName}: its agent did not answer (${(e as Error).message})`);
    }
  }
  return parts.join('\n');
}
