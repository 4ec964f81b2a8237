/**
 * A private network for the partition tests: one bridge in the root namespace and one
 * network namespace per host (a Redis server, a Sentinel, a service node), each joined to
 * the bridge by a veth pair, on a /24 of 10.213.0.0/16 that nothing else on the machine
 * routes. The root side of the bridge has `.1`, so the test process (the clients, the
 * observers) reaches every host; hosts reach each other through the bridge, and a
 * partition is a set of iptables DROP rules inside the namespaces, removed to heal it.
 *
 * Every name starts with the run's prefix (`ida<pid>`, from the partitions' global
 * setup), so the global teardown can find anything left behind; the namespaces' inodes
 * are recorded too, so a process still running in one is found even after its name is
 * gone. Everything is removed on `dispose()`, and on process exit or a signal when a
 * test could not get that far.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What the global setup hands to every test file (vitest `provide`). */
export interface NetnsRun {
  /** Why namespaces cannot be used here, or undefined when they can. */
  readonly unusable: string | undefined;
  /** Prefix of every namespace, link and bridge name of this run. */
  readonly prefix: string;
  /** Directory for this run's state (namespace inodes) and the nodes' log files. */
  readonly dir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    netnsRun: NetnsRun;
  }
}

export interface NetHost {
  /** The test's name for it, e.g. `master`, `nodeA`. */
  readonly name: string;
  /** Its network namespace. */
  readonly ns: string;
  readonly ip: string;
  /** Prefix a command with this to run it in the host's namespace. */
  readonly launcher: readonly string[];
}

/** Marks the rules of {@link Network.impair}, so their counters can be read back. */
const IMPAIR_COMMENT = 'idalloc-impair';

/** Runs `ip …`, failing with its stderr. */
export async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 10_000 })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

type Table = 'filter' | 'mangle';

/** An iptables rule a test added inside a namespace (gone with the namespace anyway). */
interface Rule {
  readonly ns: string;
  readonly table: Table;
  readonly chain: string;
  readonly spec: readonly string[];
}

/** Runs `iptables -w -t table …` in namespace `ns`; its stdout. */
async function iptables(ns: string, table: Table, ...args: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', ns, 'iptables', '-w', '-t', table, ...args])).stdout;
}

/** Appends a rule and records it in `into`, for {@link removeRules}. */
async function addRule(
  into: Rule[],
  ns: string,
  table: Table,
  chain: string,
  spec: readonly string[],
): Promise<void> {
  await iptables(ns, table, '-A', chain, ...spec);
  into.push({ ns, table, chain, spec });
}

/** Deletes the rules of `from`, newest first, and empties it. */
async function removeRules(from: Rule[]): Promise<void> {
  while (from.length > 0) {
    const r = from.pop()!;
    await iptables(r.ns, r.table, '-D', r.chain, ...r.spec);
  }
}

/** Networks not yet disposed in this process, for the exit and signal handlers. */
const live = new Set<Network>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const n of live) n.disposeSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const n of live) n.disposeDetached();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** A third octet of 10.213.x.0/24 that no route on this machine uses yet. */
async function freeSubnet(seed: number): Promise<number> {
  const routes = await ip('-4', 'route', 'show');
  for (let i = 0; i < 200; i++) {
    const x = 20 + ((seed + i) % 200);
    if (!routes.includes(`10.213.${x}.`)) return x;
  }
  throw new Error('no free /24 in 10.213.20.0–10.213.219.0 for a test network');
}

export class Network {
  private readonly hosts: (NetHost & { readonly veth: string })[] = [];
  private readonly cuts: Rule[] = [];
  private readonly impairments: Rule[] = [];
  private nextHost = 10;
  private disposed = false;

  private constructor(
    /** Prefix of this network's names: the run's prefix and a letter per network. */
    readonly prefix: string,
    readonly subnet: string,
    readonly bridge: string,
    private readonly stateDir: string,
  ) {}

  /** The bridge's own address: the test process reaches the hosts from it. */
  get gateway(): string {
    return `${this.subnet}.1`;
  }

  /** Makes the bridge; `label` (one letter or digit) tells this network apart in the run. */
  static async create(runInfo: NetnsRun, label: string): Promise<Network> {
    if (!/^[a-z0-9]$/.test(label)) throw new Error(`network label '${label}': one of a-z 0-9`);
    const prefix = `${runInfo.prefix}${label}`;
    const x = await freeSubnet(process.pid + label.charCodeAt(0));
    const net = new Network(prefix, `10.213.${x}`, `${prefix}br`, runInfo.dir);
    installExitHandlers();
    live.add(net);
    try {
      await ip('link', 'add', net.bridge, 'type', 'bridge');
      await ip('addr', 'add', `${net.gateway}/24`, 'dev', net.bridge);
      await ip('link', 'set', net.bridge, 'up');
    } catch (err) {
      await net.dispose();
      throw err;
    }
    return net;
  }

  /** A new namespace on the bridge with the next address. */
  async host(name: string): Promise<NetHost> {
    const n = this.nextHost++;
    const ns = `${this.prefix}-${name}`;
    const outer = `${this.prefix}h${n}`;
    const inner = `${this.prefix}p${n}`;
    const hostIp = `${this.subnet}.${n}`;
    await ip('netns', 'add', ns);
    const host: NetHost = { name, ns, ip: hostIp, launcher: ['ip', 'netns', 'exec', ns] };
    this.hosts.push({ ...host, veth: outer });
    appendFileSync(join(this.stateDir, 'netns-inodes'), `${statSync(`/run/netns/${ns}`).ino}\n`);
    await ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
    await ip('link', 'set', outer, 'master', this.bridge, 'up');
    await ip('link', 'set', inner, 'netns', ns);
    await ip('-n', ns, 'link', 'set', inner, 'name', 'eth0');
    await ip('-n', ns, 'addr', 'add', `${hostIp}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    return host;
  }

  /**
   * Cuts every host of `a` off from every host of `b`, both ways: packets are dropped
   * (no reset, no ICMP), as on a failed link. The root side (the test's clients) still
   * reaches both.
   */
  async cut(a: readonly NetHost[], b: readonly NetHost[]): Promise<void> {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const h of from) {
        for (const other of to) {
          await addRule(this.cuts, h.ns, 'filter', 'INPUT', ['-s', other.ip, '-j', 'DROP']);
          await addRule(this.cuts, h.ns, 'filter', 'OUTPUT', ['-d', other.ip, '-j', 'DROP']);
        }
      }
    }
  }

  /** Removes every rule `cut` added. */
  async heal(): Promise<void> {
    await removeRules(this.cuts);
  }

  /**
   * Real packet faults below TCP on one host's TCP traffic with the bridge's root side on
   * `port` (`role` `client`: to that port there; `server`: from that port of its own):
   * each packet dropped with chance `loss`, each outgoing one sent twice with chance
   * `duplicate` (iptables `statistic` + `DROP`, and `TEE` to the packet's own
   * destination). The kernel's TCP meets real loss and duplicates: retransmissions,
   * out-of-order arrival behind a lost segment, D-SACKs. Undone by {@link unimpair}.
   */
  async impair(
    host: NetHost,
    opts: { port: number; role: 'client' | 'server'; loss: number; duplicate: number },
  ): Promise<void> {
    const gw = this.gateway;
    const p = String(opts.port);
    const [here, there] = opts.role === 'client' ? ['--sport', '--dport'] : ['--dport', '--sport'];
    const out = ['-p', 'tcp', '-d', gw, there, p];
    const back = ['-p', 'tcp', '-s', gw, here, p];
    const chance = (x: number) =>
      ['-m', 'statistic', '--mode', 'random', '--probability', String(x)] as const;
    const mark = ['-m', 'comment', '--comment', IMPAIR_COMMENT] as const;
    const lose = [...chance(opts.loss), ...mark, '-j', 'DROP'];
    await addRule(this.impairments, host.ns, 'filter', 'OUTPUT', [...out, ...lose]);
    await addRule(this.impairments, host.ns, 'filter', 'INPUT', [...back, ...lose]);
    await addRule(this.impairments, host.ns, 'mangle', 'POSTROUTING', [
      ...out,
      ...chance(opts.duplicate),
      ...mark,
      ...['-j', 'TEE', '--gateway', gw],
    ]);
  }

  /**
   * Removes every rule {@link impair} added and returns how many packets they dropped and
   * duplicated (the rules' own counters, read just before).
   */
  async unimpair(): Promise<{ dropped: number; duplicated: number }> {
    const counts = { dropped: 0, duplicated: 0 };
    const tables = new Set(this.impairments.map((r) => `${r.ns} ${r.table}`));
    for (const key of tables) {
      const [ns, table] = key.split(' ') as [string, Table];
      const listing = await iptables(ns, table, '-L', '-v', '-x', '-n');
      for (const line of listing.split('\n')) {
        if (!line.includes(IMPAIR_COMMENT)) continue;
        const packets = Number(line.trim().split(/\s+/)[0]);
        if (line.includes('TEE')) counts.duplicated += packets;
        else counts.dropped += packets;
      }
    }
    await removeRules(this.impairments);
    return counts;
  }

  /** Kills every process in the namespaces, deletes them and the bridge. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposeSync();
  }

  /** {@link dispose} without awaiting (for process exit handlers). */
  disposeSync(): void {
    if (this.disposed) return;
    this.disposed = true;
    live.delete(this);
    try {
      execFileSync('sh', ['-c', this.teardownScript()], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // whatever is left, the run's final check finds and reports
    }
  }

  /**
   * The same in a detached shell, which outlives this process: for a signal, after which
   * the test runner may kill this worker before a synchronous teardown would finish.
   */
  disposeDetached(): void {
    if (this.disposed) return;
    this.disposed = true;
    live.delete(this);
    spawn('sh', ['-c', this.teardownScript()], { detached: true, stdio: 'ignore' }).unref();
  }

  /**
   * Every process in the namespaces killed first (a deleted namespace lives on while one
   * runs in it), then each veth pair (the kernel frees a deleted namespace's links only
   * later), the namespaces, the bridge. The names are this network's own (letters,
   * digits, `-`), so they need no quoting.
   */
  private teardownScript(): string {
    const lines: string[] = [];
    for (const h of this.hosts) {
      lines.push(`for p in $(ip netns pids ${h.ns} 2>/dev/null); do kill -9 $p 2>/dev/null; done`);
    }
    for (const h of this.hosts) {
      lines.push(`ip link del ${h.veth} 2>/dev/null`, `ip netns del ${h.ns} 2>/dev/null`);
    }
    lines.push(`ip link del ${this.bridge} 2>/dev/null`, 'true');
    return lines.join('\n');
  }
}
