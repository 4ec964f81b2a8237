/**
 * The baseline contenders of `npm run bench`, each a process of its own (the bench pins
 * it to one core):
 *
 * - `bare`:    node:http answering a constant JSON ID (A, the floor of any Node service)
 * - `express`: express 5 answering the same constant (B)
 * - `incr`:    express + one Redis `INCR` per request (F, the "just use INCR" design)
 * - `lock`:    express + a Redis lock per ID: `SET lock NX PX`, `GET`, `SET`, `DEL` (G,
 *              the lock-per-ID design of the articles idalloc's segments replace)
 *
 *   PORT=… REDIS_URL=… node scripts/bench-server.mjs <kind>
 *
 * Plain JavaScript, like the built service it is compared with (dist/), so that no
 * loader sits in either. Every answer has idalloc's headers (JSON, `Cache-Control:
 * no-store`, no ETag) so that only the work behind it differs. The bench starts it with
 * the service's V8 flags (`SERVICE_NODE_FLAGS`, bench-tools.ts) for the same reason.
 */
import http from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { setImmediate } from 'node:timers';

const kind = process.argv[2];
const port = Number(process.env.PORT);
const CONSTANT = '{"tag":"bench","id":"1234567890"}';
const JSON_TYPE = 'application/json; charset=utf-8';

function answer(res, body) {
  res.statusCode = 200;
  res.setHeader('Content-Type', JSON_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

function failed(res, err) {
  res.statusCode = 503;
  res.setHeader('Content-Type', JSON_TYPE);
  res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: String(err) } }));
}

function expressApp() {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  return app;
}

function redis() {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set');
  return new Redis(url);
}

/** G: take the lock (retrying while another request holds it), read, write, release. */
async function lockedNext(r, tag) {
  const lock = `bench:lock:${tag}`;
  for (let tries = 0; ; tries++) {
    if ((await r.set(lock, '1', 'PX', 1000, 'NX')) === 'OK') break;
    if (tries > 10_000) throw new Error('lock not acquired');
    await new Promise((resolve) => setImmediate(resolve));
  }
  try {
    const next = BigInt((await r.get(`bench:counter:${tag}`)) ?? '0') + 1n;
    await r.set(`bench:counter:${tag}`, next.toString());
    return next;
  } finally {
    await r.del(lock);
  }
}

let server;
if (kind === 'bare') {
  server = http.createServer((_req, res) => answer(res, CONSTANT));
} else if (kind === 'express') {
  const app = expressApp();
  app.get('/v1/ids/:tag', (_req, res) => answer(res, CONSTANT));
  server = http.createServer(app);
} else if (kind === 'incr') {
  const r = redis();
  const app = expressApp();
  app.get('/v1/ids/:tag', (req, res) => {
    const tag = req.params.tag;
    r.incr(`bench:incr:${tag}`).then(
      (id) => answer(res, `{"tag":"${tag}","id":"${id}"}`),
      (err) => failed(res, err),
    );
  });
  server = http.createServer(app);
} else if (kind === 'lock') {
  const r = redis();
  const app = expressApp();
  app.get('/v1/ids/:tag', (req, res) => {
    const tag = req.params.tag;
    lockedNext(r, tag).then(
      (id) => answer(res, `{"tag":"${tag}","id":"${id}"}`),
      (err) => failed(res, err),
    );
  });
  server = http.createServer(app);
} else {
  console.error(
    'usage: bench-server.mjs bare|express|incr|lock (PORT, REDIS_URL from the environment)',
  );
  process.exit(2);
}
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
process.on('SIGTERM', () => process.exit(0));
