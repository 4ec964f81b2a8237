/**
 * The status page at `GET /` in a real headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core): it shows a tag's numbers changing while IDs are drawn, the
 * store and the snowflake worker, logs no console error, asks for the token when
 * API_TOKENS is set, and under WORKERS=2 names the node and shows both workers, each in
 * its own labelled place on every poll. Screenshots go to .tmp/screenshots/ (git-ignored);
 * UPDATE_SCREENSHOT=1 also rewrites docs/status-page.png, which the README shows.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { startService, type TestService } from '../support/http.js';
import { testPrefix } from '../support/prefix.js';
import { startServiceProcess } from '../support/service-process.js';
import { waitUntil } from '../support/wait.js';
import { segmentTag } from '../support/store.js';

const redisUrl = inject('redisUrl');
const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = join(ROOT, '.tmp', 'screenshots');
const TOKEN = 'status-page-token';
const hasChromium = existsSync(CHROMIUM);

/** Chromium with a fresh profile, no network beyond what the page asks of loopback. */
async function launch(): Promise<{ context: BrowserContext; dispose(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'idalloc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 560 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async dispose() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Console errors and uncaught exceptions of `page`. */
function problems(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') seen.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => seen.push(`pageerror: ${err.message}`));
  return seen;
}

const cell = (page: Page, tag: string, field: string) =>
  page.locator(`tr[data-tag="${tag}"] td[data-field="${field}"]`).innerText();

/** A card's value in the (one) worker's section: `ready`, `store`, `worker`, `fence`, … */
const card = (page: Page, field: string) =>
  page.locator(`section.worker div[data-field="${field}"]`).first();

describe.runIf(hasChromium || process.env.CI === 'true')('the status page in Chromium', () => {
  let svc: TestService;
  let authed: TestService;
  let browser: Awaited<ReturnType<typeof launch>>;

  beforeAll(async () => {
    expect(hasChromium, `${CHROMIUM} is missing: install the Debian package chromium`).toBe(true);
    // The node leases its worker ID in the test Redis, as a service does: the page has a
    // lease and a fence to show.
    svc = await startService(redisUrl, { env: { SNOWFLAKE_LEASE_MS: '3000' } });
    authed = await startService(redisUrl, { env: { API_TOKENS: TOKEN } });
    for (const t of [
      segmentTag('order', { step: 100 }),
      segmentTag('invoice', { step: 1000 }),
      { ...segmentTag('events'), mode: 'snowflake' as const },
    ]) {
      await svc.store.createTag(t);
      await authed.store.createTag(t);
    }
    mkdirSync(SHOTS, { recursive: true });
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.dispose();
    await svc?.close();
    await authed?.close();
  });

  it("shows a tag's numbers changing while IDs are drawn, with no console error", async () => {
    const page = await browser.context.newPage();
    const seen = problems(page);
    await fetch(`${svc.base}/v1/ids/order`).then((r) => r.text());
    const answer = await page.goto(`${svc.base}/`);
    // Its own inline style and script run under a policy that allows nothing else.
    const headers = answer!.headers();
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    const csp = headers['content-security-policy'] ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe/);
    await page.locator('tr[data-tag="order"]').waitFor({ timeout: 10_000 });
    const before = {
      issued: await cell(page, 'order', 'issued'),
      current: await cell(page, 'order', 'current'),
    };
    expect(before.issued).toBe('1');
    expect(await cell(page, 'order', 'mode')).toBe('segment');

    // Draw IDs for a few seconds, so that IDs/s has whole seconds to average.
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      await Promise.all([
        fetch(`${svc.base}/v1/ids/order?count=37`).then((r) => r.text()),
        fetch(`${svc.base}/v1/ids/invoice?count=5`).then((r) => r.text()),
        fetch(`${svc.base}/v1/ids/events`).then((r) => r.text()),
      ]);
      await new Promise((r) => setTimeout(r, 50));
    }
    const issued = Number(
      (
        (await (await fetch(`${svc.base}/v1/status`)).json()) as {
          tags: { name: string; issued: number }[];
        }
      ).tags.find((t) => t.name === 'order')!.issued,
    );
    // The page catches up on its own (it polls every 1.5 s).
    await expect
      .poll(() => cell(page, 'order', 'issued'), { timeout: 10_000, interval: 200 })
      .toBe(String(issued));
    expect(await cell(page, 'order', 'current')).not.toBe(before.current);
    expect(Number(await cell(page, 'order', 'rate'))).toBeGreaterThan(0);
    expect(Number(await cell(page, 'order', 'remaining'))).toBeGreaterThanOrEqual(0);
    expect(await cell(page, 'order', 'lastFetch')).toMatch(/ago$/);
    expect(await cell(page, 'events', 'mode')).toBe('snowflake');
    expect(await card(page, 'store').innerText()).toBe('redis · up');
    expect(await card(page, 'worker').innerText()).toMatch(/^ID \d+$/);
    expect(await card(page, 'fence').innerText()).toMatch(
      /^fence: from \d{4}-\d\d-\d\dT[\d:.]+Z to \d{4}-\d\d-\d\dT[\d:.]+Z$/,
    );
    expect(await card(page, 'ready').innerText()).toBe('ready');
    // The node named (NODE_ID unset: hostname:pid), and its one process labelled.
    expect(await page.locator('#node').innerText()).toMatch(
      /^node \S+:\d+ · host \S+ · region 0\/1 · idalloc \d+\.\d+\.\d+ · started .+ · 1 worker$/,
    );
    expect(await page.locator('section.worker > h2').innerText()).toMatch(
      new RegExp(`^process · pid ${process.pid} · started `),
    );

    // The inline style applied: h1 at 1.3rem (20.8px), not the browser's 2em (32px).
    const h1 = "getComputedStyle(document.querySelector('h1')).fontSize";
    expect(await page.evaluate(h1)).toBe('20.8px');
    await page.screenshot({ path: join(SHOTS, 'status-page.png'), fullPage: true });
    if (process.env.UPDATE_SCREENSHOT === '1') {
      await page.screenshot({ path: join(ROOT, 'docs', 'status-page.png'), fullPage: true });
    }
    expect(seen).toEqual([]);
    await page.close();
  }, 60_000);

  it('asks for the token with API_TOKENS set, keeps it in sessionStorage, then shows the status', async () => {
    const page = await browser.context.newPage();
    const seen = problems(page);
    await fetch(`${authed.base}/v1/ids/order`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    }).then((r) => r.text());
    await page.goto(`${authed.base}/`);
    await page.locator('#auth').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('tr[data-tag="order"]').count()).toBe(0);
    // Before a token: the page says it needs one, and claims nothing about the tags.
    expect(await page.locator('#workers').innerText()).toBe(
      'this node needs an API token: enter one above to see its status',
    );
    expect(await page.locator('#updated').innerText()).toBe('needs a token');
    expect(await page.locator('body').innerText()).not.toContain('no tag served yet');

    await page.fill('#token', 'wrong');
    await page.click('#auth button');
    await page.locator('#error').getByText('that token was refused').waitFor({ timeout: 10_000 });

    await page.fill('#token', TOKEN);
    await page.click('#auth button');
    await page.locator('tr[data-tag="order"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#auth').isVisible()).toBe(false);
    expect(await page.evaluate(() => sessionStorage.getItem('idalloc.token'))).toBe(TOKEN);
    expect(await cell(page, 'order', 'issued')).toBe('1');
    await page.screenshot({ path: join(SHOTS, 'status-page-token.png'), fullPage: true });
    // Chromium reports each 401 as a failed resource load; nothing else may appear.
    expect(seen.filter((s) => !/status of 401/.test(s))).toEqual([]);
    await page.close();
  }, 60_000);

  it('under WORKERS=2 names the node and shows both workers, labelled, in the same places on every poll', async () => {
    const node = await startServiceProcess(
      { REDIS_URL: redisUrl, KEY_PREFIX: testPrefix(), WORKERS: '2', NODE_ID: 'node-a' },
      60_000,
    );
    try {
      const up = `listening on http://127.0.0.1:${node.port} with 2 workers`;
      await waitUntil(() => node.logs.some((l) => l.msg === up), 'both workers', 60_000);
      const page = await browser.context.newPage();
      const seen = problems(page);
      await page.goto(`${node.base}/`);
      const sections = page.locator('section.worker');
      await expect.poll(() => sections.count(), { timeout: 10_000, interval: 200 }).toBe(2);
      const labels = () =>
        sections.evaluateAll((els) =>
          els.map((e) => `${e.getAttribute('data-worker')}:${e.getAttribute('data-pid')}`),
        );
      const first = await labels();
      expect(first.map((l) => l.split(':')[0])).toEqual(['1', '2']);
      expect(await page.locator('section.worker > h2').allInnerTexts()).toEqual(
        first.map((l) =>
          expect.stringMatching(new RegExp(`^worker ${l.replace(':', ' · pid ')} · started `)),
        ),
      );
      expect(await page.locator('#node').innerText()).toMatch(
        /^node node-a · host \S+ · region 0\/1 · idalloc .+ · 2 workers$/,
      );
      // Polls every 1.5 s reach either worker; the page keeps each worker in its place.
      for (let i = 0; i < 3; i++) {
        const updated = await page.locator('#updated').innerText();
        await expect
          .poll(() => page.locator('#updated').innerText(), { timeout: 10_000, interval: 200 })
          .not.toBe(updated);
        expect(await labels()).toEqual(first);
      }
      await page.screenshot({ path: join(SHOTS, 'status-page-workers.png'), fullPage: true });
      expect(seen).toEqual([]);
      await page.close();
    } finally {
      await node.dispose();
    }
  }, 90_000);

  // Last: it takes the worker lease away from the node.
  it('shows the snowflake worker as not minting, in red, once its lease is taken', async () => {
    const page = await browser.context.newPage();
    const seen = problems(page);
    await page.goto(`${svc.base}/`);
    await card(page, 'worker')
      .getByText(/^ID \d+$/)
      .waitFor({ timeout: 10_000 });
    // Another holder's token on the lease: the node's next renewal (a third of a lease,
    // 1 s) is refused as NOT_HOLDER, and it stops minting.
    const raw = new Redis(redisUrl);
    try {
      // The lease of the worker ID the node holds now (its own key, whatever else the
      // shared test Redis holds).
      const status = (await (await fetch(`${svc.base}/v1/status`)).json()) as {
        snowflake: { workerId: number | null } | null;
      };
      const held = status.snowflake?.workerId ?? undefined;
      expect(held).toBeDefined();
      await raw.set(svc.store.keys.worker(held!), 'another-holder', 'PX', 60_000);
    } finally {
      raw.disconnect();
    }
    // The node gives the worker ID up and claims another, which it may use only past its
    // fence (a lease's margin): not minting until then, and the page says why.
    await card(page, 'worker')
      .getByText(/^ID \d+ · not minting$/)
      .waitFor({ timeout: 10_000 });
    expect(await card(page, 'worker').getAttribute('class')).toContain('bad');
    expect(await card(page, 'fence').innerText()).toMatch(
      /worker \d+ is fenced until .*: an earlier holder may have used timestamps up to then/,
    );
    expect(seen).toEqual([]);
    await page.close();
  }, 60_000);
});
