import { escapeXml } from './report.js';

export interface PlotPoint {
  x: number;
  y: number;
  label?: string;
}

export interface PlotSeries {
  name: string;
  points: PlotPoint[];
  /** Draw markers only (a single measurement such as an exact scan). */
  markersOnly?: boolean;
}

export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  /** Logarithmic y axis (throughput spans orders of magnitude). */
  yLog?: boolean;
  /** Fixed axis ranges (data units), e.g. to share axes between panels. @default from the data */
  xRange?: [number, number];
  yRange?: [number, number];
}

/** Size of one plot; a figure of several stacks them at multiples of the height. */
export const PLOT_WIDTH = 900;
export const PLOT_HEIGHT = 520;
const WIDTH = PLOT_WIDTH;
const HEIGHT = PLOT_HEIGHT;
/** The right margin holds the legend: a 28 px swatch and names up to ~34 characters (`pgvector exact scan (no index)`). */
const MARGIN = { left: 80, right: 260, top: 50, bottom: 60 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function niceTicks(min: number, max: number, count: number): number[] {
  const span = max - min || 1;
  const step = 10 ** Math.floor(Math.log10(span / count));
  const best = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) ?? step * 10;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / best) * best; t <= max + best * 1e-9; t += best)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());

/** A self-contained line chart (no fonts, scripts or external references), readable in any browser. */
export function renderPlot(spec: PlotSpec): string {
  const all = spec.series
    .flatMap((s) => s.points)
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (all.length === 0) throw new Error('nothing to plot');
  const xMin = Math.min(...all.map((p) => p.x));
  const xMax = Math.max(...all.map((p) => p.x));
  const pad = (xMax - xMin || 0.1) * 0.05;
  const xLo = spec.xRange?.[0] ?? Math.max(0, xMin - pad);
  // Recall never exceeds 1: do not draw an axis past it.
  const xHi = spec.xRange?.[1] ?? (xMax <= 1 ? Math.min(1, xMax + pad) : xMax + pad);
  const yValues = [...all.map((p) => p.y), ...(spec.yRange ?? [])].filter((y) => !spec.yLog || y > 0);
  const yTransform = (y: number) => (spec.yLog ? Math.log10(y) : y);
  const yLo = spec.yLog ? Math.floor(Math.log10(Math.min(...yValues))) : (spec.yRange?.[0] ?? 0);
  const yHi = spec.yLog
    ? Math.ceil(Math.log10(Math.max(...yValues)))
    : (spec.yRange?.[1] ?? Math.max(...yValues) * 1.1);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - xLo) / (xHi - xLo || 1)) * plotW;
  const sy = (y: number) => MARGIN.top + plotH - ((yTransform(y) - yLo) / (yHi - yLo || 1)) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(spec.title)}</title>`, // what screen readers and image viewers name the plot by
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16">${escapeXml(spec.title)}</text>`,
  ];
  for (const t of niceTicks(xLo, xHi, 8)) {
    out.push(
      `<line x1="${sx(t).toFixed(1)}" y1="${MARGIN.top}" x2="${sx(t).toFixed(1)}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${sx(t).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  const yTicks = spec.yLog
    ? Array.from({ length: yHi - yLo + 1 }, (_, i) => 10 ** (yLo + i))
    : niceTicks(yLo, yHi, 8);
  for (const t of yTicks) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${sy(t).toFixed(1)}" x2="${MARGIN.left + plotW}" y2="${sy(t).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 16}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(20 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}${spec.yLog ? ' (log scale)' : ''}</text>`,
  );
  spec.series.forEach((series, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const points = series.points.filter(
      (p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!spec.yLog || p.y > 0),
    );
    if (!series.markersOnly && points.length > 1) {
      const d = points.map((p, j) => `${j ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    }
    for (const p of points) {
      out.push(
        series.markersOnly
          ? `<rect x="${(sx(p.x) - 5).toFixed(1)}" y="${(sy(p.y) - 5).toFixed(1)}" width="10" height="10" fill="${colour}"/>`
          : `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="${colour}"/>`,
      );
      if (p.label)
        out.push(
          `<text x="${(sx(p.x) + 6).toFixed(1)}" y="${(sy(p.y) - 6).toFixed(1)}" font-size="10" fill="${colour}">${escapeXml(p.label)}</text>`,
        );
    }
    const ly = MARGIN.top + 10 + i * 20;
    const lx = MARGIN.left + plotW + 16;
    out.push(
      series.markersOnly
        ? `<rect x="${lx + 9}" y="${ly - 5}" width="10" height="10" fill="${colour}"/>`
        : `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${lx + 36}" y="${ly + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
