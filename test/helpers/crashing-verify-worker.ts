/**
 * The real verify worker with a way to crash it, for the pool's tests only. The crash hook is
 * imported first, so its listener runs before the real worker's and the crash comes before
 * any answer. Both are registered before the first message can arrive (a listener added
 * later, after an await, would miss it).
 */
import './crash-hook.js';
import '../../src/marketplace/verify-worker.js';
