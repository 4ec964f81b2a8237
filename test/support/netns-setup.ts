/**
 * Global setup of the partition tests: decides whether network namespaces can be made
 * here (root, `ip netns`, veth, bridge, iptables inside a namespace), names the run
 * (`ida<pid>`), and at the end checks that nothing of the run is left behind — no
 * namespace, veth or bridge with the run's prefix, no process in a namespace the run
 * made. Anything found is removed and fails the run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { NetnsRun } from './netns.js';

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString();
}

/** Why namespaces cannot be used, or undefined when a probe namespace worked. */
function probe(prefix: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  const ns = `${prefix}probe`;
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', `${prefix}pa`, 'type', 'veth', 'peer', 'name', `${prefix}pb`]);
    sh('ip', ['link', 'set', `${prefix}pb`, 'netns', ns]);
    sh('ip', [
      'netns',
      'exec',
      ns,
      'iptables',
      '-w',
      '-A',
      'INPUT',
      '-s',
      '10.213.0.9',
      '-j',
      'DROP',
    ]);
    return undefined;
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    return `${e.stderr?.toString().trim() || e.message}`;
  } finally {
    try {
      sh('ip', ['link', 'del', `${prefix}pa`]);
    } catch {
      // not made, or gone with the namespace
    }
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // not made
    }
  }
}

/** Everything of the run still present, as readable lines (removing what it can). */
export function leftovers(prefix: string, dir: string, remove = true): string[] {
  const found: string[] = [];
  // Removal may fail when something else took the thing first: it is reported either way.
  const removeWith = (f: () => unknown) => {
    if (!remove) return;
    try {
      f();
    } catch {
      // gone meanwhile
    }
  };
  let inodes = new Set<string>();
  try {
    inodes = new Set(readFileSync(join(dir, 'netns-inodes'), 'utf8').split('\n').filter(Boolean));
  } catch {
    // no namespace was made
  }
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      continue; // ended meanwhile
    }
    const ino = /\[(\d+)\]/.exec(link)?.[1];
    if (ino !== undefined && inodes.has(ino)) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        // ended meanwhile
      }
      found.push(`process ${pid} (${cmd}) in a namespace of the run`);
      removeWith(() => process.kill(Number(pid), 'SIGKILL'));
    }
  }
  for (const ns of sh('ip', ['netns', 'list']).split('\n')) {
    const name = ns.split(' ')[0];
    if (name?.startsWith(prefix)) {
      found.push(`namespace ${name}`);
      removeWith(() => sh('ip', ['netns', 'del', name]));
    }
  }
  for (const line of sh('ip', ['-o', 'link', 'show']).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name?.startsWith(prefix)) {
      found.push(`link ${name}`);
      removeWith(() => sh('ip', ['link', 'del', name]));
    }
  }
  return found;
}

export default function setup(project: TestProject): () => void {
  const prefix = `ida${String(process.pid % 100_000).padStart(5, '0')}`;
  const base = process.env.PARTITION_LOG_DIR ?? tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, 'idalloc-partitions-'));
  const unusable = probe(prefix);
  const info: NetnsRun = { unusable, prefix, dir };
  project.provide('netnsRun', info);
  if (unusable === undefined) {
    // An interrupted run ends without the teardown below (vitest exits on SIGINT and
    // SIGTERM through process.exit): remove what is left on the way out.
    process.on('exit', () => leftovers(prefix, dir));
  }
  process.stdout.write(
    unusable === undefined
      ? `partition tests: run ${prefix}, node logs in ${dir}\n`
      : `partition tests skipped: network namespaces cannot be made here (${unusable})\n`,
  );
  return () => {
    if (unusable !== undefined) return;
    // The kernel frees what a deleted namespace held a moment later: look twice.
    if (leftovers(prefix, dir, false).length > 0) execFileSync('sleep', ['2']);
    const found = leftovers(prefix, dir);
    if (found.length > 0) {
      throw new Error(`the partition tests left behind (now removed): ${found.join('; ')}`);
    }
    process.stdout.write(`partition tests: nothing of run ${prefix} left behind\n`);
  };
}
