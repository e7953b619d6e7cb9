import { describe, expect, it } from 'vitest';
import {
  exactNeighbours,
  meanRecall,
  median,
  percentile,
  RecallError,
  recallAtK,
} from '../../lib/verify/recall-math.js';
import { renderPlot } from '../../lib/verify/svg-plot.js';

describe('recall@k', () => {
  it('is the overlap of the first k ids with the first k true neighbours, order ignored', () => {
    expect(recallAtK({ retrieved: [3, 2, 1], truth: [1, 2, 3, 4], k: 3 })).toBe(1);
    expect(recallAtK({ retrieved: [1, 9, 8, 2], truth: [1, 2, 3, 4], k: 3 })).toBeCloseTo(1 / 3);
    // Only the first k retrieved ids count, duplicates once, and a short result is a miss.
    expect(recallAtK({ retrieved: [1, 1, 2], truth: [1, 2, 3], k: 3 })).toBeCloseTo(2 / 3);
    expect(recallAtK({ retrieved: [1], truth: [1, 2], k: 2 })).toBe(0.5);
  });

  it('counts a neighbour tied at the k-th distance as a hit when distances are known', () => {
    // Ids 3 and 4 are both at distance 9: the list put 3 at rank 3, the store returned 4.
    const distance: Record<number, number> = { 1: 1, 2: 4, 3: 9, 4: 9, 5: 16 };
    const input = { retrieved: [1, 2, 4], truth: [1, 2, 3, 4, 5], k: 3 };
    expect(recallAtK(input)).toBeCloseTo(2 / 3);
    expect(recallAtK({ ...input, distanceOf: (id) => distance[id]! })).toBe(1);
    // A farther id is still a miss.
    expect(
      recallAtK({ retrieved: [1, 2, 5], truth: [1, 2, 3, 4, 5], k: 3, distanceOf: (id) => distance[id]! }),
    ).toBeCloseTo(2 / 3);
  });

  it('refuses k larger than the ground truth, and k < 1', () => {
    expect(() => recallAtK({ retrieved: [1, 2, 3], truth: [1, 2], k: 3 })).toThrow(RecallError);
    expect(() => recallAtK({ retrieved: [1, 2, 3], truth: [1, 2], k: 3 })).toThrow(
      'k=3 exceeds the ground truth depth (2 neighbours per query)',
    );
    expect(() => recallAtK({ retrieved: [], truth: [1], k: 0 })).toThrow(/positive integer/);
  });

  it('averages over queries', () => {
    const truth = [
      [1, 2],
      [3, 4],
    ];
    expect(
      meanRecall(
        [
          [1, 2],
          [3, 9],
        ],
        (q) => truth[q]!,
        2,
      ),
    ).toBe(0.75);
    expect(() => meanRecall([], (q) => truth[q]!, 2)).toThrow(/no query results/);
  });

  it('exact search orders by L2 distance, ties by id', () => {
    const base = { file: 'mem', count: 4, dimension: 1, values: new Float32Array([5, 1, 3, -1]) };
    expect(exactNeighbours(base, [2], 3).map((n) => [n.id, n.distance])).toEqual([
      [1, 1],
      [2, 1],
      [0, 9],
    ]);
  });

  it('percentiles are nearest-rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile([7], 95)).toBe(7);
  });

  it('the median is the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([40, 10])).toBe(25);
    expect(() => median([])).toThrow('no values to take the median of');
  });
});

describe('SVG plot', () => {
  it('is one well-formed SVG document with a line per series, markers for single measurements and escaped text', () => {
    const svg = renderPlot({
      title: 'recall <&> speed',
      xLabel: 'recall@10',
      yLabel: 'QPS',
      yLog: true,
      series: [
        {
          name: 'pgvector hnsw',
          points: [
            { x: 0.9, y: 100, label: '10' },
            { x: 0.99, y: 50, label: '80' },
          ],
        },
        { name: 'exact', markersOnly: true, points: [{ x: 1, y: 5 }] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('recall &lt;&amp;&gt; speed');
    expect(svg.match(/<path /g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(2);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(() => renderPlot({ title: 't', xLabel: 'x', yLabel: 'y', series: [] })).toThrow(/nothing to plot/);
  });
});
