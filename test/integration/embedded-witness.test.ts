/**
 * What the embedded store's witness names (docs/design.md §8.1, incarnation.ts): the
 * file's inode and birth time, so a copy of the whole directory put back — witness
 * included — is found restored; a witness of an older idalloc without them is adopted;
 * a never-written file that finds another file's witness is not fresh; and a dry-run
 * import leaves the file's generation and the witness as they were.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/store.js';
import { segmentTag } from '../support/store.js';

const GAP = 1_000_000n;

let root: string;
let dataDir: string;
let witness: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'idalloc-witness-'));
  dataDir = join(root, 'data');
  witness = join(dataDir, 'idalloc.witness');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A store holding `order` (step 100, gap 10^6) and one grant of it (1..100). */
async function seed(): Promise<EmbeddedStore> {
  const store = new EmbeddedStore({ dataDir });
  await store.createTag(segmentTag('order', { step: 100, gap: GAP }));
  expect(await store.allocate('order', 0, false)).toMatchObject({ start: 1n, bumped: false });
  return store;
}

/** The file's `meta` rows, read beside the store's connection. */
function meta(): Record<string, string> {
  const db = new DatabaseSync(join(dataDir, 'idalloc.db'), { readOnly: true });
  try {
    const rows = db.prepare('SELECT key, value FROM meta').all();
    return Object.fromEntries(rows.map((r) => [String(r.key), String(r.value)]));
  } finally {
    db.close();
  }
}

const claim = (token: string, now: number) => ({
  token,
  leaseMs: 3000,
  now,
  aheadMs: 2000,
  marginMs: 60_000,
  maxWaitMs: 120_000,
});

describe('the witness names the file', () => {
  it('a copy of the whole directory, witness included, put back in place of it: each tag skips its gap', async () => {
    const store = await seed();
    await store.close();
    // The usual backup: the directory as it is (cp -a, rsync, tar), taken while stopped.
    cpSync(dataDir, join(root, 'backup'), { recursive: true, preserveTimestamps: true });
    const later = new EmbeddedStore({ dataDir });
    expect(await later.allocate('order', 0, false)).toMatchObject({ start: 101n, bumped: false });
    await later.close();
    rmSync(dataDir, { recursive: true });
    cpSync(join(root, 'backup'), dataDir, { recursive: true, preserveTimestamps: true });
    const restored = new EmbeddedStore({ dataDir });
    expect(await restored.allocate('order', 0, false)).toMatchObject({
      start: 101n + GAP,
      bumped: true,
      skipped: GAP,
    });
    expect(await restored.allocate('order', 0, false)).toMatchObject({ bumped: false });
    await restored.close();
  });

  it('a witness written before it named the file is adopted: no jump, and the next write names it', async () => {
    const store = await seed();
    const w = JSON.parse(readFileSync(witness, 'utf8')) as Record<string, unknown>;
    expect(w.file).toMatch(/^\d+:\d+$/);
    // What the idalloc before this check wrote: incarnation and generation only.
    writeFileSync(
      witness,
      JSON.stringify({ incarnation: w.incarnation, generation: w.generation }),
    );
    expect(await store.allocate('order', 0, false)).toMatchObject({ start: 101n, bumped: false });
    expect(JSON.parse(readFileSync(witness, 'utf8'))).toMatchObject({ file: w.file });
    await store.close();
  });
});

describe('a never-written file and the witness of another', () => {
  it('a new file where another one was written is not fresh: a worker ID waits the margin', async () => {
    const first = new EmbeddedStore({ dataDir });
    expect(await first.workerLeases().claim(1, claim('a', Date.now()))).toMatchObject({
      kind: 'claimed',
      margin: false,
    });
    await first.close();
    // The file gone (deleted, or the directory's other files moved elsewhere), its
    // witness left: the new file cannot know which worker IDs that one's nodes used.
    for (const s of ['', '-wal', '-shm']) rmSync(join(dataDir, `idalloc.db${s}`), { force: true });
    const second = new EmbeddedStore({ dataDir });
    expect(meta().fresh).toBe('1');
    const [look] = await second.workerLeases().inspect([2], Date.now(), 60_000);
    expect((look as { floor: number }).floor).toBeGreaterThanOrEqual(Date.now() + 59_000);
    expect(await second.workerLeases().claim(2, claim('b', Date.now()))).toMatchObject({
      kind: 'claimed',
      margin: true,
    });
    expect(meta().fresh).toBe('0');
    await second.close();
  });

  it('a never-written copy put back is not fresh either', async () => {
    const empty = new EmbeddedStore({ dataDir });
    await empty.close();
    cpSync(dataDir, join(root, 'backup'), { recursive: true });
    const used = new EmbeddedStore({ dataDir });
    expect(await used.workerLeases().claim(0, claim('a', Date.now()))).toMatchObject({
      margin: false,
    });
    await used.close();
    for (const s of ['', '-wal', '-shm']) rmSync(join(dataDir, `idalloc.db${s}`), { force: true });
    cpSync(join(root, 'backup', 'idalloc.db'), join(dataDir, 'idalloc.db'));
    const restored = new EmbeddedStore({ dataDir });
    expect(await restored.workerLeases().claim(0, claim('b', Date.now()))).toMatchObject({
      kind: 'claimed',
      margin: true,
    });
    await restored.close();
  });

  it('a new file with no witness at all stays fresh: its first worker ID starts at once', async () => {
    const store = new EmbeddedStore({ dataDir });
    expect(await store.workerLeases().claim(0, claim('a', Date.now()))).toMatchObject({
      kind: 'claimed',
      margin: false,
    });
    expect(meta().fresh).toBe('1');
    await store.close();
  });
});

describe('a dry-run import', () => {
  it('writes nothing: the generation and the witness stay, even on a restored file', async () => {
    const store = await seed();
    const { records } = await store.exportTags();
    await store.close();
    cpSync(join(dataDir, 'idalloc.db'), join(root, 'copy.db'));
    const again = new EmbeddedStore({ dataDir });
    await again.allocate('order', 0, false);
    const before = { meta: meta(), witness: readFileSync(witness, 'utf8') };
    const dry = async () => {
      for (const r of records) await again.importTag(r, 5000n, true);
    };
    await dry();
    expect({ meta: meta(), witness: readFileSync(witness, 'utf8') }).toEqual(before);
    await again.close();

    // On a file found restored, the dry run says what the import would do (skip the gap
    // first) and still sets no new incarnation: the first real write does.
    for (const s of ['', '-wal', '-shm']) rmSync(join(dataDir, `idalloc.db${s}`), { force: true });
    cpSync(join(root, 'copy.db'), join(dataDir, 'idalloc.db'));
    const restored = new EmbeddedStore({ dataDir });
    const was = { meta: meta(), witness: readFileSync(witness, 'utf8') };
    expect(await restored.importTag(records[0]!, 5000n, true)).toMatchObject({
      outcome: 'raised',
      before: 101n,
      after: 101n + GAP,
    });
    expect({ meta: meta(), witness: readFileSync(witness, 'utf8') }).toEqual(was);
    expect(await restored.importTag(records[0]!, 5000n, false)).toMatchObject({
      outcome: 'raised',
      after: 101n + GAP,
    });
    expect(meta().incarnation).not.toBe(was.meta.incarnation);
    await restored.close();
  });
});
