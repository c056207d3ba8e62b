import { join } from 'node:path';
import { createFileVolumeDriver } from '../../src/storage/volumes/file-driver.js';
import { volumeDriverConformance } from '../conformance/volume-driver.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('stratus-volumes-');
let n = 0;
volumeDriverConformance('file', () => createFileVolumeDriver(join(dir, `store${n++}`)));
volumeDriverConformance('file (no fsync)', () => createFileVolumeDriver(join(dir, `store${n++}`), { durable: false }));
