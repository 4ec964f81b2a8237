/**
 * IDs issued are counted in plain numbers on the hot path and added to
 * `idalloc_ids_issued_total` when it is collected: every scrape shows the running total,
 * never an ID twice or lost.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observe/metrics/index.js';

const series = (text: string, labels: string) =>
  text.split('\n').find((l) => l.startsWith(`idalloc_ids_issued_total{${labels}}`));

describe('idalloc_ids_issued_total', () => {
  it('shows the running total by tag and mode at every scrape', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.observer.idsIssued?.('order', 'segment', 2);
    m.observer.idsIssued?.('order', 'segment', 1);
    m.observer.idsIssued?.('flake', 'snowflake', 4);
    let text = (await m.render()).body;
    expect(series(text, 'tag="order",mode="segment"')).toBe(
      'idalloc_ids_issued_total{tag="order",mode="segment"} 3',
    );
    expect(series(text, 'tag="flake",mode="snowflake"')).toMatch(/ 4$/);
    expect(series(text, 'tag="order",mode="snowflake"')).toBeUndefined(); // no empty series
    m.observer.idsIssued?.('order', 'segment', 1000);
    text = (await m.render()).body;
    expect(series(text, 'tag="order",mode="segment"')).toMatch(/ 1003$/);
    text = (await m.render()).body; // a scrape with nothing new adds nothing
    expect(series(text, 'tag="order",mode="segment"')).toMatch(/ 1003$/);
    expect(series(text, 'tag="flake",mode="snowflake"')).toMatch(/ 4$/);
  });
});
