// The hang watchdog of scripts/fuzz.js, in a worker thread: the main thread copies every input into shared
// memory before checking it and counts it; when the count stops moving for too long (a parser stuck in a loop,
// or expanding without bound), this thread saves the input being checked as a fixture and ends the process,
// since a busy main thread can neither notice nor be interrupted.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { workerData } from 'node:worker_threads';

const { shared, fixturesDir, hangMs } = workerData;
// Header (Int32): [0] inputs checked, [1] content length (-1: too large to keep).
const header = new Int32Array(shared, 0, 4);
// Then the target name and extension (256 bytes, NUL-padded), then the content.
const names = new Uint8Array(shared, 16, 256);
const content = new Uint8Array(shared, 16 + 256);

let last = -1;
let since = Date.now();
setInterval(() => {
  const count = Atomics.load(header, 0);
  if (count !== last) {
    last = count;
    since = Date.now();
    return;
  }
  if (Date.now() - since < hangMs) return;
  const [target, ext] = Buffer.from(names).toString('utf8').replace(/\0+$/, '').split('\n');
  const length = Atomics.load(header, 1);
  console.error(
    `\nHANG: no input finished for ${((Date.now() - since) / 1000).toFixed(0)} s in target ${target}`,
  );
  if (length >= 0 && target && ext) {
    const bytes = Buffer.from(content.subarray(0, length));
    const folder = path.join(fixturesDir, target);
    mkdirSync(folder, { recursive: true });
    const file = path.join(folder, `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.${ext}`);
    writeFileSync(file, bytes);
    console.error(`saved the input being checked as ${file}`);
  } else {
    console.error('the input being checked was too large to keep');
  }
  process.kill(process.pid, 'SIGKILL');
}, 1000);
