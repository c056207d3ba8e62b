import { join } from 'node:path';
import { openSqlite } from './database.js';
import { entryStoreConformance } from './conformance.js';
import { tempDir } from '../../test/helpers/tmp.js';

const dir = tempDir();
let n = 0;
entryStoreConformance('sqlite', () => openSqlite(join(dir, `db${n++}.sqlite`)));
