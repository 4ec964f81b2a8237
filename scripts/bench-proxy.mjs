/**
 * A TCP proxy that delays every chunk by a fixed time in each direction, for the bench's
 * latency-insulation contenders (C and F with 1 ms added to their Redis link). Order is
 * kept: chunks leave in the order they came, each no sooner than `delay` after arrival.
 *
 *   node scripts/bench-proxy.mjs <listenPort> <targetPort> [delayMs=1]
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';

const [listenPort, targetPort, delayArg] = process.argv.slice(2).map(Number);
const delayMs = delayArg ?? 1;
if (!listenPort || !targetPort || !(delayMs >= 0)) {
  console.error('usage: bench-proxy.mjs <listenPort> <targetPort> [delayMs]');
  process.exit(2);
}

/** Forwards `from` to `to`, each chunk `delayMs` after it arrived, in order. */
function delayed(from, to) {
  const queue = [];
  let timer;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0].at <= now) to.write(queue.shift().chunk);
    if (queue.length > 0) timer = setTimeout(flush, queue[0].at - now);
  };
  from.on('data', (chunk) => {
    queue.push({ at: performance.now() + delayMs, chunk });
    timer ??= setTimeout(flush, delayMs);
  });
  from.on('close', () => to.destroy());
  from.on('error', () => to.destroy());
}

net
  .createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(targetPort, '127.0.0.1');
    upstream.setNoDelay(true);
    delayed(client, upstream);
    delayed(upstream, client);
  })
  .listen(listenPort, '127.0.0.1', () => console.log(`listening ${listenPort}`));
process.on('SIGTERM', () => process.exit(0));
