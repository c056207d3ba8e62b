import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INSTANCE_TYPES, formatInstanceTypes, instanceTypes, resolveInstanceType } from './instance-types.js';

test('--list-types prints StratusLab\'s table byte for byte (reference §1.1)', () => {
  assert.equal(formatInstanceTypes(INSTANCE_TYPES), [
    ' Type             CPU       RAM      SWAP',
    '  c1.medium       2 CPU    1536 MB    1536 MB',
    '  c1.xlarge       4 CPU    6144 MB    6144 MB',
    '  m1.large        2 CPU    6144 MB    6144 MB',
    '  m1.medium       1 CPU    3072 MB    3072 MB',
    '* m1.small        1 CPU    1536 MB    1536 MB',
    '  m1.xlarge       4 CPU    8192 MB    8192 MB',
    '  t1.micro        1 CPU     512 MB     512 MB',
  ].join('\n'));
});

test('[instance_types]: digit runs pulled out, three integers with cpu > 0, ram > 0, swap >= 0, merged over the defaults', () => {
  const { types, ignored } = instanceTypes(new Map([
    ['my.type', '4, 2048, 2048'], ['words', '2 cpu 1024 MB 0 MB'], ['m1.small', '2,2048,1024'],
    ['two', '1, 512'], ['nocpu', '0, 512, 512'], ['noram', '1, 0, 0'],
  ]));
  assert.deepEqual(types['my.type'], { cpu: 4, ramMiB: 2048, swapMiB: 2048 });
  assert.deepEqual(types.words, { cpu: 2, ramMiB: 1024, swapMiB: 0 });
  assert.deepEqual(types['m1.small'], { cpu: 2, ramMiB: 2048, swapMiB: 1024 }, 'a user type replaces a default');
  assert.deepEqual(ignored, ['two = 1, 512', 'nocpu = 0, 512, 512', 'noram = 1, 0, 0']);
  assert.equal(INSTANCE_TYPES['m1.small']?.ramMiB, 1536, 'the defaults are not changed');
});

test('-t picks a type (m1.small by default), --cpu/--ram/--swap override it, an unknown one is refused', () => {
  assert.deepEqual(resolveInstanceType(INSTANCE_TYPES), { cpu: 1, ramMiB: 1536, swapMiB: 1536 });
  assert.deepEqual(resolveInstanceType(INSTANCE_TYPES, 't1.micro', { ramMiB: 256, cpu: undefined }), { cpu: 1, ramMiB: 256, swapMiB: 512 });
  assert.throws(() => resolveInstanceType(INSTANCE_TYPES, 'x9.huge'), { message: 'Unknown instance type: x9.huge' });
});
