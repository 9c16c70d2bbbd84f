// Charts: sparklines and scatter plots as plain SVG (small, no library), time series with uPlot
// (vendored, loaded on first use so that pages without a line chart never fetch it).

import { h } from './dom.js';

const PALETTE = ['#1f5fbf', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d', '#495057', '#364fc7'];

/** The i-th colour of the palette (colour-blind friendly enough for ≤ 6 series; cycles). */
export function color(i) {
  return PALETTE[i % PALETTE.length];
}

/** A sparkline of `values` (nulls are gaps). */
export function sparkline(values, { width = 120, height = 28, label = '' } = {}) {
  const numbers = values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  const svg = h('svg:svg', {
    class: 'sparkline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': label ? `${label}: ${numbers.length} points` : `${numbers.length} points`,
  });
  if (numbers.length === 0) return svg;
  const min = Math.min(...numbers);
  const max = Math.max(...numbers);
  const pad = 3;
  const x = (i) => (values.length === 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (values.length - 1));
  const y = (v) => (max === min ? height / 2 : height - pad - ((v - min) * (height - 2 * pad)) / (max - min));
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined || Number.isNaN(v)) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  svg.append(h('svg:path', { d, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5, 'stroke-linejoin': 'round' }));
  const last = values.length - 1;
  if (values[last] !== null && values[last] !== undefined) {
    svg.append(h('svg:circle', { cx: x(last), cy: y(values[last]), r: 2.5, fill: 'currentColor' }));
  }
  return svg;
}

let uplotLoading = null;

/** Loads the vendored uPlot script and style once. */
function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve, reject) => {
      document.head.append(h('link', { rel: 'stylesheet', href: 'console/vendor/uplot/uPlot.min.css' }));
      const script = h('script', { src: 'console/vendor/uplot/uPlot.iife.min.js' });
      script.addEventListener('load', () => resolve(window.uPlot));
      script.addEventListener('error', () => {
        uplotLoading = null;
        reject(new Error('could not load the chart library (console/vendor/uplot)'));
      });
      document.head.append(script);
    });
  }
  return uplotLoading;
}

const charts = new WeakMap();

/**
 * A time-series line chart into `container`: x = epoch seconds, one line per series.
 * `xFormat(seconds)` names a point in time on the axis and in the legend (e.g. "Q2 2025");
 * uPlot's own date labels otherwise. Replaces a chart drawn there before. Returns {destroy()}.
 */
export async function lineChart(container, { x, series, yLabel = '', height = 320, xFormat = null }) {
  const uPlot = await loadUplot();
  charts.get(container)?.destroy();
  container.replaceChildren();
  container.dataset.series = series.map((s) => s.label).join('|');
  container.dataset.points = String(x.length);
  const width = Math.max(320, container.clientWidth || 800);
  const chart = new uPlot({
    width,
    height,
    scales: { x: { time: true } },
    // With xFormat the ticks are the data's own periods (thinned to fit), so no label repeats.
    axes: [xFormat ? {
      splits: (u) => {
        const every = Math.max(1, Math.ceil(u.data[0].length / Math.max(2, Math.floor(u.width / 90))));
        return u.data[0].filter((_, i) => i % every === 0);
      },
      values: (u, splits) => splits.map((v) => xFormat(v)),
    } : {}, { label: yLabel, size: 60 }],
    series: [xFormat ? { value: (u, v) => (v === null ? '—' : xFormat(v)) } : {}, ...series.map((s, i) => ({
      label: s.label,
      stroke: color(i),
      width: 2,
      spanGaps: false,
      points: { show: x.length < 60 },
    }))],
    legend: { live: true },
  }, [x, ...series.map((s) => s.values.map((v) => (v === undefined ? null : v)))], container);
  const resize = new ResizeObserver(() => {
    const w = Math.max(320, container.clientWidth);
    if (Math.abs(w - chart.width) > 4) chart.setSize({ width: w, height });
  });
  resize.observe(container);
  const handle = {
    destroy() {
      resize.disconnect();
      chart.destroy();
      charts.delete(container);
    },
  };
  charts.set(container, handle);
  return handle;
}

function niceTicks(min, max, count = 5) {
  if (min === max) return [min];
  const step0 = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= step0) || step0;
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toFixed(10)));
  return ticks;
}

/**
 * A scatter plot into `container` (SVG): points [{x, y, label, group?}], one colour per group,
 * a <title> on each point (its label and values). Replaces what was drawn there.
 */
export function scatter(container, { points, xLabel = '', yLabel = '', width = 640, height = 400 }) {
  const margin = { top: 16, right: 20, bottom: 48, left: 60 };
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const pad = (lo, hi) => (lo === hi ? [lo - 1, hi + 1] : [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05]);
  const [x0, x1] = points.length ? pad(Math.min(...xs), Math.max(...xs)) : [0, 1];
  const [y0, y1] = points.length ? pad(Math.min(...ys), Math.max(...ys)) : [0, 1];
  const sx = (v) => margin.left + ((v - x0) / (x1 - x0)) * (width - margin.left - margin.right);
  const sy = (v) => height - margin.bottom - ((v - y0) / (y1 - y0)) * (height - margin.top - margin.bottom);
  const groups = [...new Set(points.map((p) => p.group ?? ''))];
  const svg = h('svg:svg', {
    class: 'scatter', viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${yLabel} against ${xLabel}: ${points.length} points`,
  });
  for (const t of niceTicks(x0, x1)) {
    svg.append(h('svg:line', { x1: sx(t), x2: sx(t), y1: margin.top, y2: height - margin.bottom, class: 'grid' }),
      h('svg:text', { x: sx(t), y: height - margin.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, formatTick(t)));
  }
  for (const t of niceTicks(y0, y1)) {
    svg.append(h('svg:line', { x1: margin.left, x2: width - margin.right, y1: sy(t), y2: sy(t), class: 'grid' }),
      h('svg:text', { x: margin.left - 6, y: sy(t) + 4, 'text-anchor': 'end', class: 'tick' }, formatTick(t)));
  }
  svg.append(
    h('svg:text', { x: (margin.left + width - margin.right) / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis-label' }, xLabel),
    h('svg:text', { x: 14, y: (margin.top + height - margin.bottom) / 2, 'text-anchor': 'middle', class: 'axis-label',
      transform: `rotate(-90 14 ${(margin.top + height - margin.bottom) / 2})` }, yLabel),
  );
  for (const p of points) {
    const i = groups.indexOf(p.group ?? '');
    svg.append(h('svg:circle', { cx: sx(p.x), cy: sy(p.y), r: 5, fill: color(i), 'fill-opacity': 0.75, class: 'point', 'data-label': p.label },
      h('svg:title', {}, `${p.label}: ${xLabel} ${formatTick(p.x)}, ${yLabel} ${formatTick(p.y)}`)));
  }
  container.replaceChildren(svg);
  if (groups.length > 1) {
    container.append(h('div', { class: 'legend' }, groups.map((g, i) =>
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch', style: `background:${color(i)}` }), g || '—'))));
  }
  container.dataset.points = String(points.length);
  return svg;
}

function formatTick(v) {
  return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(Math.abs(v) < 1 ? 2 : 1);
}
