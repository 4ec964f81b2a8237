/**
 * What the status page shows per tag (TagActivity) and which tag label a metric gets
 * (TagLabels), on injected time.
 */
import { describe, expect, it } from 'vitest';
import { TagActivity, teeObservers } from '../../src/observe/activity.js';
import { OTHER_TAGS, TagLabels } from '../../src/observe/metrics/labels.js';

describe('TagActivity', () => {
  it('counts IDs since start and averages IDs/s over the last 5 whole seconds', () => {
    let now = 1_000_000; // a whole second
    const activity = new TagActivity({ now: () => now });
    expect(activity.view('order')).toBeUndefined();
    activity.observer.idsIssued?.('order', 'segment', 40);
    now += 500;
    activity.observer.idsIssued?.('order', 'segment', 10);
    // The second is still filling: not counted yet.
    expect(activity.view('order')).toEqual({ mode: 'segment', issued: 50, idsPerSecond: 0 });
    now += 600; // next second
    expect(activity.view('order')?.idsPerSecond).toBe(50 / 5);
    activity.observer.idsIssued?.('order', 'segment', 25);
    now += 1000;
    expect(activity.view('order')).toEqual({
      mode: 'segment',
      issued: 75,
      idsPerSecond: (50 + 25) / 5,
    });
    now += 4000; // the first second left the window
    expect(activity.view('order')?.idsPerSecond).toBe(25 / 5);
    now += 10_000; // idle
    expect(activity.view('order')).toEqual({ mode: 'segment', issued: 75, idsPerSecond: 0 });
    expect(activity.tagNames()).toEqual(['order']);
  });

  it('is fed next to other observers by teeObservers', () => {
    const activity = new TagActivity({ now: () => 0 });
    const waits: string[] = [];
    const both = teeObservers({ segmentWait: (t) => waits.push(t) }, activity.observer);
    both.idsIssued?.('events', 'snowflake', 3);
    both.segmentWait?.('order');
    expect(activity.view('events')?.issued).toBe(3);
    expect(waits).toEqual(['order']);
  });
});

describe('TagLabels', () => {
  it('gives the first maxTags tags their own label, for good, and pools the rest', () => {
    const labels = new TagLabels(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((t) => labels.served(t))).toEqual([
      'a',
      'b',
      OTHER_TAGS,
      'a',
      OTHER_TAGS,
      'b',
    ]);
    expect(labels.hasOwn('c')).toBe(false);
  });

  it('pools every tag with maxTags 0, and refuses a bound that is not a count', () => {
    expect(new TagLabels(0).served('a')).toBe(OTHER_TAGS);
    expect(() => new TagLabels(-1)).toThrow(/maxTags -1 is not allowed/);
    expect(() => new TagLabels(1.5)).toThrow(/expected an integer of at least 0/);
  });
});
