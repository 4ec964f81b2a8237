/**
 * The npm package as a user gets it: `npm pack` (its prepack builds), the tarball
 * installed with npm into a scratch project, then used the ways the README shows —
 * imported from ESM, type-checked by a strict TypeScript consumer, its bins run, the
 * service started on the embedded store, a tag created and an ID drawn — and the README's
 * two library examples, type-checked and run as written.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../src/config/schema.js';
import { testPrefix } from '../support/prefix.js';
import { readme, readmeBlock } from '../support/readme-procedure.js';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE_DIR = dirname(process.execPath);
/** The PATH a user has: this Node first, so the bins' shebangs (`#!/usr/bin/env node`, `#!/usr/bin/env -S node …`) find it. */
const PATH = [NODE_DIR, process.env.PATH ?? ''].join(delimiter);

let scratch: string;
let tarball: string;
let service: ServiceProcess | undefined;

async function sh(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(command, args, {
      cwd: opts.cwd ?? scratch,
      env: { PATH, HOME: process.env.HOME ?? '/root', ...opts.env },
      maxBuffer: 32 * 1024 * 1024,
      timeout: 240_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

/**
 * npm with the caller's whole environment, as a user's shell runs it: its proxy and CA
 * settings (`NODE_EXTRA_CA_CERTS`, `HTTPS_PROXY`, `npm_config_*`) reach the registry
 * where a bare environment fails (a cold cache on a machine behind a TLS-inspecting
 * proxy: SELF_SIGNED_CERT_IN_CHAIN, retried until the time budget ran out).
 */
const npm = (args: string[], cwd: string) =>
  sh('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    env: {
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          (e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('npm_lifecycle'),
        ),
      ),
      PATH,
    },
  });

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'idalloc-pkg-'));
  const packed = await npm(['pack', '--json', '--pack-destination', scratch], ROOT);
  expect(packed.code, packed.stderr).toBe(0);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as {
    filename: string;
  }[];
  tarball = join(scratch, info!.filename);
  await writeFile(
    join(scratch, 'package.json'),
    JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
  );
  const installed = await npm(['install', '--prefer-offline', tarball], scratch);
  expect(installed.code, installed.stderr).toBe(0);
}, 300_000);

afterAll(async () => {
  await service?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('ships the built code, the bins, README, LICENSE and docs — no sources or tests', async () => {
    const listed = await run('tar', ['-tzf', tarball]);
    const files = listed.stdout.split('\n').filter(Boolean);
    for (const f of [
      'package/dist/index.js',
      'package/dist/index.d.ts',
      'package/dist/client/index.js',
      'package/dist/client/index.d.ts',
      'package/dist/bin/idalloc.js',
      'package/dist/bin/idalloc-admin.js',
      'package/dist/lua/allocate-1.lua',
      'package/README.md',
      'package/LICENSE',
      'package/docs/design.md',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^package\/(src|test|scripts|\.ci)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
  });

  it('imports the library and the client from ESM; the client loads no server dependency', async () => {
    const probe = `
      import { registerHooks } from 'node:module';
      const seen = new Set();
      registerHooks({ resolve(spec, ctx, next) { seen.add(spec); return next(spec, ctx); } });
      const which = process.argv[2];
      const m = await import(which);
      const server = ['express', 'ioredis', 'pino', 'pino-http', 'prom-client', 'node:sqlite'];
      const loaded = [...seen].filter((s) => server.some((b) => s === b || s.startsWith(b + '/')));
      console.log(JSON.stringify({ exports: Object.keys(m).sort(), loaded: loaded.sort() }));
    `;
    await writeFile(join(scratch, 'probe.mjs'), probe);
    const client = await sh(process.execPath, ['probe.mjs', 'idalloc/client']);
    expect(client.code, client.stderr).toBe(0);
    const c = JSON.parse(client.stdout) as { exports: string[]; loaded: string[] };
    expect(c.exports).toEqual(expect.arrayContaining(['IdClient', 'IdAllocError', 'ErrorCode']));
    expect(c.loaded).toEqual([]);

    // The same probe sees the library load ioredis: the hook does observe imports.
    const lib = await sh(process.execPath, ['probe.mjs', 'idalloc']);
    expect(lib.code, lib.stderr).toBe(0);
    const l = JSON.parse(lib.stdout) as { exports: string[]; loaded: string[] };
    expect(l.exports).toEqual(
      expect.arrayContaining(['createAllocator', 'IdClient', 'IdAllocError']),
    );
    expect(l.loaded).toContain('ioredis');
    expect(l.exports).not.toContain('default');

    const meta = await sh(process.execPath, [
      '--input-type=module',
      '-e',
      "import p from 'idalloc/package.json' with { type: 'json' }; console.log(p.name, p.version)",
    ]);
    expect(meta.stdout.trim()).toMatch(/^idalloc \d+\.\d+\.\d+/);
  });

  it.each(['nodenext', 'bundler', 'node10'])(
    'type-checks a strict TypeScript consumer with moduleResolution %s',
    async (resolution) => {
      const dir = join(scratch, `ts-${resolution}`);
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, 'consumer.ts'),
        `import { createAllocator, IdAllocError, type IdAllocator } from 'idalloc';
import { IdClient, ErrorCode, type IdClientOptions } from 'idalloc/client';

const options: IdClientOptions = { urls: ['http://127.0.0.1:8080'], token: 't' };
const client = new IdClient(options);
const id: bigint | Promise<bigint> = client.next('order');
export async function draw(): Promise<bigint> {
  const ids: IdAllocator = await createAllocator({ redis: 'redis://127.0.0.1:6379' });
  try {
    return await ids.next('order');
  } catch (err) {
    if (err instanceof IdAllocError && err.code === ErrorCode.TAG_NOT_FOUND) return 0n;
    throw err;
  } finally {
    await ids.close();
  }
}
export const first = id;
`,
      );
      const module = { nodenext: 'nodenext', bundler: 'esnext', node10: 'commonjs' }[resolution];
      await writeFile(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module,
            moduleResolution: resolution,
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [join(ROOT, 'node_modules/@types')],
          },
          files: ['consumer.ts'],
        }),
      );
      // The consumer sits inside the scratch project, so 'idalloc' resolves to the
      // installed tarball, never to this checkout.
      const tsc = await sh(process.execPath, [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(dir, 'tsconfig.json'),
      ]);
      expect(tsc.stdout + tsc.stderr).toBe('');
      expect(tsc.code).toBe(0);
    },
    120_000,
  );

  it('installs both bins; --help and --version answer (both bins)', async () => {
    const bin = join(scratch, 'node_modules/.bin');
    expect(await realpath(join(bin, 'idalloc'))).toMatch(/dist\/bin\/idalloc\.js$/);
    const admin = await sh(join(bin, 'idalloc-admin'), ['--help']);
    expect(admin.code).toBe(0);
    expect(admin.stdout).toMatch(/^Usage: idalloc-admin tag <command>/);

    const help = await sh(join(bin, 'idalloc'), ['--help']);
    expect(help.code).toBe(0);
    for (const name of CONFIG_VARIABLES)
      expect(help.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    const version = await sh(join(bin, 'idalloc'), ['--version']);
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(version.stdout).toBe(`idalloc ${pkg.version}\n`);
    const adminVersion = await sh(join(bin, 'idalloc-admin'), ['--version']);
    expect(adminVersion.stdout).toBe(`idalloc-admin ${pkg.version}\n`);

    const wrong = await sh(join(bin, 'idalloc'), ['--port', '80']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('starts idalloc on the embedded store; idalloc-admin creates a tag; an ID is drawn', async () => {
    const bin = join(scratch, 'node_modules/.bin');
    const env = { DATA_DIR: join(scratch, 'data'), PATH };
    service = await startServiceProcess(env, 30_000, {
      entry: { command: join(bin, 'idalloc'), args: [], cwd: scratch },
    });
    const created = await sh(join(bin, 'idalloc-admin'), ['tag', 'create', 'order'], { env });
    expect(created.stderr).toBe('');
    expect(created.stdout).toMatch(/^created segment tag 'order': next ID 1,/);
    const res = await fetch(`${service.base}/v1/ids/order`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ tag: 'order', id: '1' });
    service.proc.kill('SIGTERM');
    expect((await service.exited).code).toBe(0);
  }, 60_000);

  describe("the README's library examples, as written, against the installed package", () => {
    /** Lines the test appends to an example: its results as JSON, bigints as strings. */
    const report = (names: string[]) =>
      `\nconsole.log(JSON.stringify({ ${names.join(', ')} }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));\n`;

    /** Type-checks `file` as a strict nodenext consumer, then runs it with Node. */
    async function checkAndRun(file: string, env: Record<string, string>) {
      await writeFile(
        join(scratch, `tsconfig-${file}.json`),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [join(ROOT, 'node_modules/@types')],
          },
          files: [file],
        }),
      );
      const tsc = await sh(process.execPath, [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(scratch, `tsconfig-${file}.json`),
      ]);
      expect(tsc.stdout + tsc.stderr).toBe('');
      const r = await sh(process.execPath, [file], { env });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    }

    /** Every ID of `ids` and `ranges`, checked for repeats. */
    function expectDistinct(ids: string[], ranges: { start: string; end: string }[] = []) {
      const all = ids.map(BigInt);
      for (const r of ranges) for (let i = BigInt(r.start); i <= BigInt(r.end); i++) all.push(i);
      expect(new Set(all).size).toBe(all.length);
    }

    it('in-process allocator: the tag created as the README says, then the example', async () => {
      const url = inject('redisUrl');
      const prefix = testPrefix();
      const section = readme().slice(readme().indexOf('### In-process allocator'));
      // The command the paragraph gives, run as written (its Redis is the test's).
      const create = /\(`(REDIS_URL=\S+ npx idalloc-admin tag create \w+)`\)/.exec(section);
      expect(create, 'the README says how to create the tag').not.toBeNull();
      const made = await sh('sh', ['-c', create![1]!.replace('redis://127.0.0.1:6379', url)], {
        env: { KEY_PREFIX: prefix },
      });
      expect(made.stderr).toBe('');
      expect(made.code).toBe(0);
      const example = readmeBlock('### In-process allocator');
      expect(example).toContain("'redis://127.0.0.1:6379'");
      expect(example).toContain("keyPrefix: 'idalloc:'");
      await writeFile(
        join(scratch, 'readme-allocator.mts'),
        example
          .replace("'redis://127.0.0.1:6379'", JSON.stringify(url))
          .replace("keyPrefix: 'idalloc:'", `keyPrefix: ${JSON.stringify(prefix)}`) +
          report(['id', 'batch', 'range']),
      );
      const got = (await checkAndRun('readme-allocator.mts', {})) as {
        id: string;
        batch: string[];
        range: { start: string; end: string };
      };
      expect(got.id).toBe('1');
      expect(got.batch).toHaveLength(50);
      expect([...got.batch].sort((a, b) => Number(BigInt(a) - BigInt(b)))).toEqual(got.batch);
      expect(BigInt(got.range.end) - BigInt(got.range.start) + 1n).toBe(10_000n);
      expectDistinct([got.id, ...got.batch], [got.range]);
    }, 120_000);

    it('IdClient: two services sharing one store, with a token, then the example', async () => {
      const bin = join(scratch, 'node_modules/.bin');
      const data = join(scratch, 'client-data');
      const env = { DATA_DIR: data, PATH, API_TOKENS: 's3cret' };
      const entry = { command: join(bin, 'idalloc'), args: [], cwd: scratch };
      const services = [
        await startServiceProcess(env, 30_000, { entry }),
        await startServiceProcess(env, 30_000, { entry }),
      ];
      try {
        const made = await sh(join(bin, 'idalloc-admin'), ['tag', 'create', 'order'], { env });
        expect(made.code, made.stderr).toBe(0);
        const example = readmeBlock('### HTTP client (`IdClient`)');
        let code = example;
        for (const [i, s] of services.entries()) {
          expect(code).toContain(`'http://ids-${i + 1}:8080'`);
          code = code.replace(`'http://ids-${i + 1}:8080'`, JSON.stringify(s.base));
        }
        await writeFile(join(scratch, 'readme-client.mts'), code + report(['id', 'batch']));
        const got = (await checkAndRun('readme-client.mts', { IDALLOC_TOKEN: 's3cret' })) as {
          id: string;
          batch: string[];
        };
        expect(got.batch).toHaveLength(50);
        expect(BigInt(got.batch[0]!)).toBeGreaterThan(BigInt(got.id));
        expectDistinct([got.id, ...got.batch]);
        // Without the token the services refuse, and the example fails with that error.
        const refused = await sh(process.execPath, ['readme-client.mts']);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toMatch(/UNAUTHORIZED/);
      } finally {
        await Promise.all(services.map((s) => s.dispose()));
      }
    }, 120_000);
  });

  it('refuses an old Node in one line before loading anything', async () => {
    // The machine's own Node (Debian's) is the old one users meet; where it is new
    // enough, the unit test of nodeVersionProblem covers the rule alone.
    const old = await sh('/usr/bin/node', ['-p', 'process.versions.node']);
    const major = Number(old.stdout.split('.')[0]);
    if (old.code !== 0 || !(major < 22)) return;
    for (const name of ['idalloc', 'idalloc-admin']) {
      const r = await sh(
        '/usr/bin/node',
        [join(scratch, `node_modules/idalloc/dist/bin/${name}.js`), 'tag', 'list'],
        { env: { REDIS_URL: 'redis://127.0.0.1:1' } },
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `${name}: needs Node.js 22.13 or newer (Node 24 LTS recommended); this is Node.js ${old.stdout.trim()}\n`,
      );
    }
  });
});
