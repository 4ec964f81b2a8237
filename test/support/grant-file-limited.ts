/**
 * Run by test/unit/grant-file.test.ts in a child process whose file size limit
 * (`ulimit -f`) the parent set: records grants into GRANT_LOG=argv[2] until one fails
 * (the limit cuts a write short, then refuses it: EFBIG), then makes room by truncating
 * the file to 40 bytes, lets the probe interval pass and records once more. Prints what
 * happened as one JSON line.
 */
import { truncateSync } from 'node:fs';
import { PROBE_MS } from '../../src/grants/file.js';
import { createGrantLog } from '../../src/grants/log.js';

// The limit's signal would end the process; ignored, the write fails with EFBIG instead.
process.on('SIGXFSZ', () => {});
const file = process.argv[2]!;
const errors: string[] = [];
let t = 0;
const grants = createGrantLog(
  { info: () => {}, error: (_: object, msg: string) => errors.push(msg) },
  { nodeId: 'limited', file, now: () => t },
);
const event = (i: number) => ({
  kind: 'segment' as const,
  tag: 'order',
  start: BigInt(i * 100 + 1),
  end: BigInt(i * 100 + 100),
});
let recorded = 0;
let failure = '';
for (let i = 0; i < 100 && failure === ''; i++) {
  try {
    grants.record(event(i));
    recorded++;
  } catch (err) {
    failure = (err as Error).message;
  }
}
let againFailure = '';
try {
  grants.record(event(1000));
} catch (err) {
  againFailure = (err as Error).message;
}
truncateSync(file, 40);
t += PROBE_MS;
const check = grants.check() ?? null;
grants.record(event(2000));
grants.close();
process.stdout.write(`${JSON.stringify({ recorded, failure, againFailure, errors, check })}\n`);
