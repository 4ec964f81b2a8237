/**
 * A process drawing segments from an embedded store, for the multi-process tests:
 *
 *   node --import tsx test/support/embedded-allocate.ts <dataDir> <tag> <rounds> <count> [pauseMs]
 *
 * Prints `ready` once the store is open, waits for a line `go` on stdin (so that every
 * process starts drawing at the same moment), then prints each grant as `start end`
 * right after it is committed, and `done` at the end. With rounds 0 it draws until
 * killed. Between grants it pauses `pauseMs` (as a node serves IDs between fetches),
 * which lets processes waiting for the write lock take turns. Errors go to stderr with
 * exit 1.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedStore } from '../../src/store/embedded/store.js';

const [dataDir, tag, roundsText, countText, pauseText] = process.argv.slice(2);
if (!dataDir || !tag || !roundsText || !countText) {
  process.stderr.write('usage: embedded-allocate <dataDir> <tag> <rounds> <count> [pauseMs]\n');
  process.exit(2);
}
const rounds = Number(roundsText);
const count = Number(countText);
const pauseMs = Number(pauseText ?? 0);

const store = new EmbeddedStore({ dataDir });
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() === 'go') break;
}
lines.close();

try {
  for (let i = 0; rounds === 0 || i < rounds; i++) {
    const g = await store.allocate(tag, count, false);
    process.stdout.write(`${g.start} ${g.end}\n`);
    if (pauseMs > 0) await sleep(pauseMs);
  }
  process.stdout.write('done\n');
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await store.close();
}
