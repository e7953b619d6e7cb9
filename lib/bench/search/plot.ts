// Recall@k against queries per second, one panel per client count stacked top to bottom, sharing both axes: a line per
// store and index (labelled with the swept value), the exact scan as a square.
import { escapeXml } from '../../verify/report.js';
import { PLOT_HEIGHT, PLOT_WIDTH, type PlotSeries, renderPlot } from '../../verify/svg-plot.js';
import { batchOf } from './recommend.js';
import type { SearchPoint } from './types.js';

const PANEL_HEIGHT = PLOT_HEIGHT;
const PANEL_WIDTH = PLOT_WIDTH;

export interface SearchPlotInput {
  points: readonly SearchPoint[];
  k: number;
  /** Dataset words for the title, e.g. `1,000,000 x 128d synthetic`. */
  dataset: string;
}

export function searchPlot({ points, k, dataset }: SearchPlotInput): string {
  const levels = [...new Set(points.map((p) => p.clients))].sort((a, b) => a - b);
  if (levels.length === 0) throw new Error('nothing to plot');
  const recalls = points.map((p) => p.recall);
  const lo = Math.max(0, Math.floor((Math.min(...recalls) - 0.02) * 20) / 20);
  const qps = points.map((p) => p.qps).filter((v) => v > 0);
  const yRange: [number, number] = [Math.min(...qps), Math.max(...qps)];
  const panels = levels.map((clients, i) => {
    const here = points.filter((p) => p.clients === clients);
    const series: PlotSeries[] = [];
    for (const store of new Set(here.map((p) => p.store)))
      for (const batch of [...new Set(here.map(batchOf))].sort((a, b) => a - b))
        for (const index of ['hnsw', 'ivf', 'exact'] as const) {
          const line = here.filter((p) => p.store === store && p.index === index && batchOf(p) === batch);
          if (line.length === 0) continue;
          series.push({
            name: `${store} ${line[0]!.label}${batch > 1 ? ` nq ${batch}` : ''}`,
            markersOnly: index === 'exact',
            points: line.map((p) => ({
              x: p.recall,
              y: p.qps,
              label: p.value === null ? undefined : String(p.value),
            })),
          });
        }
    const svg = renderPlot({
      title: `recall@${k} vs QPS, ${clients} client${clients === 1 ? '' : 's'} (${dataset}, L2)`,
      xLabel: `recall@${k} (labels: ef / probes)`,
      yLabel: `queries per second, ${clients} client${clients === 1 ? '' : 's'}`,
      yLog: true,
      xRange: [lo, 1],
      yRange,
      series,
    });
    // Nest each panel's <svg> at its offset (nested svg elements are valid SVG 1.1).
    return svg.replace('<svg ', `<svg x="0" y="${i * PANEL_HEIGHT}" `);
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${PANEL_WIDTH}" height="${levels.length * PANEL_HEIGHT}" viewBox="0 0 ${PANEL_WIDTH} ${levels.length * PANEL_HEIGHT}">`,
    `<title>${escapeXml(`recall@${k} vs QPS at ${levels.join(', ')} clients (${dataset})`)}</title>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}
