/**
 * The load side of scripts/bench-http.ts, run in a worker thread so that it does not
 * share the server's event loop: `concurrency` keep-alive connections, each sending
 * `GET path` back to back over a raw socket until `ms` elapsed. Posts
 * `{ requests, seconds }`, or `{ error }`.
 */
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

/** One connection: request, read the whole answer (by Content-Length), repeat. */
async function drive(port, path, deadline) {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  let answered;
  let failed;
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buffered.subarray(0, end).toString('latin1');
    if (!head.startsWith('HTTP/1.1 200')) {
      failed = new Error(`unexpected answer: ${head.split('\r\n')[0]}`);
      answered?.();
      return;
    }
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? NaN);
    if (buffered.length < end + 4 + length) return;
    buffered = buffered.subarray(end + 4 + length);
    answered?.();
  });
  let done = 0;
  while (performance.now() < deadline) {
    const reply = new Promise((resolve) => (answered = resolve));
    socket.write(request);
    await reply;
    if (failed) throw failed;
    done++;
  }
  socket.destroy();
  return done;
}

const { port, path, ms, concurrency } = workerData;
const t0 = performance.now();
try {
  const counts = await Promise.all(
    Array.from({ length: concurrency }, () => drive(port, path, t0 + ms)),
  );
  parentPort.postMessage({
    requests: counts.reduce((a, b) => a + b, 0),
    seconds: (performance.now() - t0) / 1000,
  });
} catch (err) {
  parentPort.postMessage({ error: String(err) });
}
