import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { blockdevOf, dataDevice, macFor, qemuArgs, NIC_DEVICES } from './qemu-args.js';
import type { VmSpec } from './qemu-args.js';
import { networkModelOf } from '../../../domain/instance-wire.js';

const base: VmSpec = {
  name: 'i-1', accel: 'tcg', vcpus: 1, memoryMiB: 256,
  root: { path: '/d/i-1/root.qcow2', format: 'qcow2' },
  network: { address: '127.100.0.2', forwards: [{ host: 22, guest: 22 }], mac: '52:54:00:aa:bb:cc' },
  serialLog: '/d/i-1/serial.log', qmpSocket: '/d/i-1/qmp.sock', pidFile: '/d/i-1/qemu.pid',
};

/** The value following a flag (the n-th occurrence). */
function after(args: string[], flag: string, n = 0): string | undefined {
  const idx = args.map((a, i) => (a === flag ? i : -1)).filter((i) => i >= 0)[n];
  return idx === undefined ? undefined : args[idx + 1];
}

const cases: Array<[string, Partial<VmSpec>, (a: string[]) => void]> = [
  ['TCG when there is no KVM, with the max CPU model', {}, (a) => {
    assert.equal(after(a, '-accel'), 'tcg');
    assert.equal(after(a, '-cpu'), 'max');
  }],
  ['KVM with the host CPU when /dev/kvm is usable', { accel: 'kvm' }, (a) => {
    assert.equal(after(a, '-accel'), 'kvm');
    assert.equal(after(a, '-cpu'), 'host');
  }],
  ['a capped TCG cache keeps idle guests small', { tcgCacheMiB: 64 }, (a) => assert.equal(after(a, '-accel'), 'tcg,tb-size=64')],
  ['vCPUs and RAM as asked', { vcpus: 2, memoryMiB: 1024 }, (a) => {
    assert.equal(after(a, '-smp'), '2');
    assert.equal(after(a, '-m'), '1024');
  }],
  ['the root disk boots first, on virtio, through its overlay', {}, (a) => {
    assert.equal(after(a, '-drive'), 'file=/d/i-1/root.qcow2,format=qcow2,if=none,id=root,cache=writeback,discard=unmap');
    assert.equal(after(a, '-device', 1), 'virtio-blk-pci,drive=root,bootindex=0');
  }],
  ['the seed is attached read-only', { seed: { path: '/d/i-1/seed.iso', format: 'raw' } }, (a) => {
    assert.equal(after(a, '-drive', 1), 'file=/d/i-1/seed.iso,format=raw,if=none,id=seed,cache=writeback,discard=unmap,readonly=on');
  }],
  ['a swap disk follows the seed', { seed: { path: '/s.iso', format: 'raw' }, swap: { path: '/d/swap.qcow2', format: 'qcow2' } }, (a) => {
    assert.match(after(a, '-drive', 2) ?? '', /^file=\/d\/swap.qcow2,format=qcow2,if=none,id=swap,/);
  }],
  ['ide when the image metadata asks for it (slterms:disks-bus)', { diskBus: 'ide' }, (a) => assert.equal(after(a, '-device', 1), 'ide-hd,drive=root,bootindex=0')],
  ['a comma in a path is escaped', { root: { path: '/d/a,b.qcow2', format: 'qcow2' } }, (a) => assert.match(after(a, '-drive') ?? '', /^file=\/d\/a,,b.qcow2,/)],
  ['user networking is restricted, ports are forwarded from the instance address only', { network: { ...base.network, forwards: [{ host: 22, guest: 22 }, { host: 80, guest: 80 }] } }, (a) => {
    assert.equal(after(a, '-netdev'), 'user,id=net0,restrict=on,hostfwd=tcp:127.100.0.2:22-:22,hostfwd=tcp:127.100.0.2:80-:80');
    assert.equal(after(a, '-device', 2), 'virtio-net-pci,netdev=net0,mac=52:54:00:aa:bb:cc,romfile=');
  }],
  ['the network card the user asked for (--vm-network-model), with no option ROM', { nicModel: 'e1000' }, (a) => {
    assert.equal(after(a, '-device', 2), 'e1000,netdev=net0,mac=52:54:00:aa:bb:cc,romfile=');
  }],
  ['rtl8139 for guests without virtio drivers', { nicModel: 'rtl8139' }, (a) => assert.match(after(a, '-device', 2) ?? '', /^rtl8139,netdev=net0,/)],
  ['host services the guest may reach are explicit guestfwd rules', { network: { ...base.network, services: [{ guestPort: 80, host: '127.0.0.1', hostPort: 9204 }] } }, (a) => {
    assert.match(after(a, '-netdev') ?? '', /,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:9204$/);
  }],
  ['VNC at one port (5900 + display) on the address asked for', { vnc: { listen: '127.0.0.1', display: 7 } }, (a) => assert.equal(after(a, '-vnc'), '127.0.0.1:7')],
  ['VNC on the first free port of a range: QEMU binds it, so parallel launches never race for one', { vnc: { listen: '127.0.0.1', display: 0, lastDisplay: 99, password: true } }, (a) => {
    assert.equal(after(a, '-vnc'), '127.0.0.1:0,to=99,password=on');
  }],
  ['a range of one port is that port alone', { vnc: { listen: '127.0.0.1', display: 3, lastDisplay: 3 } }, (a) => assert.equal(after(a, '-vnc'), '127.0.0.1:3')],
  ['an IPv6 listen address is bracketed (its colons would read as the display)', { vnc: { listen: '::1', display: 0, password: true } }, (a) => assert.equal(after(a, '-vnc'), '[::1]:0,password=on')],
  ['VNC stays on the address asked for on the bridge too (never the guest\'s)', { vnc: { listen: '127.0.0.1', display: 1 }, network: { ...base.network, tap: 'st0' } }, (a) => assert.equal(after(a, '-vnc'), '127.0.0.1:1')],
  ['no VNC unless asked', {}, (a) => assert.equal(after(a, '-vnc'), 'none')],
  ['serial console to a log file, QMP on a unix socket, a pid file', {}, (a) => {
    assert.equal(after(a, '-serial'), 'file:/d/i-1/serial.log');
    assert.equal(after(a, '-qmp'), 'unix:/d/i-1/qmp.sock,server=on,wait=off');
    assert.equal(after(a, '-pidfile'), '/d/i-1/qemu.pid');
  }],
  ['data disks come after the boot disk, seed and swap, each a virtio-blk device named after its block node, with its serial', {
    diskBus: 'ide', seed: { path: '/s.iso', format: 'raw' },
    data: [{ id: 'vol-vdz', path: '/v/a,b.raw', format: 'raw', serial: 'cd99cbb8-d6bf-4a2f-9' }, { id: 'readonly', path: '/v/o.raw', format: 'raw', readonly: true, serial: 'PxJQ0F1u9P0vKrrVafwo' }],
  }, (a) => {
    assert.equal(after(a, '-device', 1), 'ide-hd,drive=root,bootindex=0', 'the boot disk stays first, on the image\'s bus');
    assert.deepEqual(JSON.parse(after(a, '-blockdev') ?? ''), {
      'node-name': 'vol-vdz', driver: 'raw', 'read-only': false, discard: 'unmap', file: { driver: 'file', filename: '/v/a,b.raw', 'read-only': false, discard: 'unmap' },
    }, 'JSON: a comma in the path needs no escaping');
    assert.equal(after(a, '-device', 3), 'virtio-blk-pci,drive=vol-vdz,id=dev-vol-vdz,serial=cd99cbb8-d6bf-4a2f-9');
    assert.equal(after(a, '-device', 4), 'virtio-blk-pci,drive=readonly,id=dev-readonly,serial=PxJQ0F1u9P0vKrrVafwo,share-rw=on');
  }],
  ['a read-only data disk is read-only down to its file', { data: [{ id: 'readonly', path: '/o.raw', format: 'raw', readonly: true, serial: 'ro' }] }, (a) => {
    const node = JSON.parse(after(a, '-blockdev') ?? '') as { 'read-only': boolean; file: { 'read-only': boolean } };
    assert.deepEqual([node['read-only'], node.file['read-only']], [true, true]);
  }],
  ['no default devices: only what is listed', {}, (a) => assert.ok(a.includes('-nodefaults'))],
  ['a guest panic pauses QEMU in guest-panicked, which the driver fails at once', {}, (a) => {
    assert.ok(a.join(' ').includes('-device pvpanic -action panic=pause'));
  }],
  ['the guest agent\'s channel: a virtio-serial port named as qemu-guest-agent looks for it', { agentSocket: '/d/i-1/agent.sock' }, (a) => {
    assert.equal(after(a, '-chardev'), 'socket,id=agent0,path=/d/i-1/agent.sock,server=on,wait=off');
    assert.ok(a.includes('virtserialport,bus=serial0.0,chardev=agent0,name=org.qemu.guest_agent.0'));
  }],
  ['a booted base\'s state is read by a command whose path is quoted for the shell', { incoming: "/d/it's; rm -rf ~/state" }, (a) => {
    assert.equal(after(a, '-incoming'), "exec:cat '/d/it'\\''s; rm -rf ~/state'");
    assert.equal(execFileSync('sh', ['-c', `printf %s ${(after(a, '-incoming') as string).slice('exec:cat '.length)}`], { encoding: 'utf8' }), "/d/it's; rm -rf ~/state");
  }],
  ['no agent channel and no saved state unless asked for (a restored VM must have the devices its base had)', {}, (a) => {
    assert.equal(after(a, '-chardev'), undefined);
    assert.equal(after(a, '-incoming'), undefined);
  }],
];

for (const [why, over, check] of cases) {
  test(`qemuArgs: ${why}`, () => check(qemuArgs({ ...base, ...over })));
}

test('macFor is stable per name, locally administered, and differs between names', () => {
  assert.equal(macFor('i-1'), macFor('i-1'));
  assert.notEqual(macFor('i-1'), macFor('i-2'));
  assert.match(macFor('i-1'), /^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
});

test('a data disk\'s serial and id cannot carry more fields into the device or node options', () => {
  const disk = { id: 'vol-vdz', path: '/v.raw', format: 'raw' as const, serial: 'ok' };
  assert.throws(() => dataDevice({ ...disk, serial: 'a,drive=root' }), /serial/);
  assert.throws(() => dataDevice({ ...disk, serial: 'x'.repeat(21) }), /serial/, 'virtio-blk keeps 20 bytes');
  assert.throws(() => blockdevOf({ ...disk, id: 'a,b' }), /disk id/);
  assert.deepEqual(dataDevice(disk), { driver: 'virtio-blk-pci', drive: 'vol-vdz', id: 'dev-vol-vdz', serial: 'ok' });
});

test('a network card model outside the list never reaches QEMU\'s command line', () => {
  assert.throws(() => networkModelOf('e1000,romfile=/etc/shadow', '--vm-network-model'), (e: Error) => {
    assert.equal(e.message, '--vm-network-model must be virtio, e1000, e1000e, rtl8139, not e1000,romfile=/etc/shadow');
    return true;
  });
  assert.equal(networkModelOf('e1000e', 'field networkModel'), 'e1000e');
});

test('every network card a user may ask for is a device this QEMU has', () => {
  const devices = execFileSync('qemu-system-x86_64', ['-device', 'help'], { encoding: 'utf8' });
  for (const device of Object.values(NIC_DEVICES)) assert.match(devices, new RegExp(`^name "${device}"`, 'm'), device);
});
