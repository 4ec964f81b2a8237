/**
 * Where a CPU profile's busy time goes: self time by function and by area (socket
 * writes, express, Node's HTTP core, idalloc, prom-client, …), as shares of busy time.
 *
 *   node scripts/profile-summary.mjs <file.cpuprofile> [top] [skipMs]
 *
 * `skipMs` leaves out the first milliseconds of the profile (start-up, module loading,
 * warm-up), so that only the steady state under load is counted.
 */
import { readFileSync } from 'node:fs';

const [file, topArg, skipArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/profile-summary.mjs <file.cpuprofile> [top] [skipMs]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const skipUs = Number(skipArg ?? 0) * 1000;
const dt = prof.timeDeltas;
let at = 0;
for (let i = 0; i < prof.samples.length; i++) {
  at += dt[i] ?? 0;
  if (at < skipUs) continue;
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
}

/** The area a frame belongs to, from its URL and name. */
function area(cf) {
  const url = cf.url ?? '';
  const name = cf.functionName;
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  if (
    /writev|writeGeneric|_writeGeneric|handleWriteReq|WriteWrap|writeBuffer|writeUtf8String/.test(
      name,
    )
  )
    return 'socket write';
  if (url.includes('node_modules/express') || url.includes('node_modules/router'))
    return 'express + router';
  if (url.includes('node_modules/prom-client')) return 'prom-client';
  if (url.includes('node_modules/pino')) return 'pino';
  if (url.includes('node_modules/')) return 'other packages';
  if (url.includes('/src/') || url.includes('/dist/')) return 'idalloc';
  if (url.startsWith('node:_http') || url.startsWith('node:http')) return 'node http core';
  if (
    url.startsWith('node:net') ||
    url.startsWith('node:internal/stream') ||
    url.startsWith('node:stream')
  )
    return 'node net/streams';
  if (url.startsWith('node:')) return 'node other';
  return name.startsWith('(') ? name : 'native/builtin';
}

let total = 0;
let busy = 0;
const fn = new Map();
const areas = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  total += t;
  const a = area(cf);
  if (a === '(idle)') continue;
  busy += t;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(node_modules|src|dist)\//, '$1/')}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + t);
  areas.set(a, (areas.get(a) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / busy).toFixed(1)} %`;
console.log(`busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled`);
console.log('\nby area (self time, share of busy time)');
for (const [a, t] of [...areas].sort((x, y) => y[1] - x[1]))
  console.log(`  ${pct(t).padStart(7)}  ${a}`);
console.log(`\ntop ${top} functions (self time)`);
for (const [k, t] of [...fn].sort((x, y) => y[1] - x[1]).slice(0, top))
  console.log(`  ${pct(t).padStart(7)}  ${k}`);
