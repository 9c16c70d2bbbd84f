// Trends: any aggregate metric of the catalog by time grain, one line per value of a dimension,
// filtered by the values of every dimension and a date range. The view lives in the hash query,
// so a link reproduces it, and the request behind the chart is shown as a REST URL and an OData
// URL (what a BI developer pastes into Power BI) that return the plotted numbers.

import { h, fmt, fmtPeriod, epochSeconds, dataTable, raw, select } from '../lib/dom.js';
import { lineChart } from '../lib/charts.js';

export const title = 'Trends';

/** Lines drawn at most; with more groups the largest by volume are drawn. */
const TOP_N = 8;
const GRAIN_ORDER = ['day', 'week', 'month', 'quarter', 'year'];
const NUMERIC = /^(U?Int|Float|Decimal)/;
/** Hash keys of the view itself; a filter on a dimension with one of these names is `filter.<dim>`. */
const RESERVED = ['metric', 'measure', 'grain', 'group_by', 'from', 'to'];

/** The hash key of a dimension's filter (touchpoint_scorecard has a dimension named `metric`). */
function filterKey(dim) {
  return RESERVED.includes(dim) ? `filter.${dim}` : dim;
}

/** The metrics Trends can draw: aggregate ones with a time column. */
function trendMetrics(catalog) {
  return catalog.filter((m) => m.kind === 'aggregate' && m.grains.length > 0);
}

/** Measures in the order offered: derived ones (the metric's own first), then base measures. */
function measuresOf(metric) {
  const derived = metric.derived.map((d) => d.name);
  derived.sort((a, b) => (b === metric.name) - (a === metric.name));
  return [...derived, ...metric.measures.map((m) => m.name)];
}

/** The base measure that says how much lies behind a number (answers, customers, …). */
function volumeOf(metric) {
  return metric.measures.find((m) => m.aggregation === 'sum' || m.aggregation === 'count')?.name ?? null;
}

/** The view from the hash query, every value checked against the metric. */
function readState(params, metrics) {
  const metric = metrics.find((m) => m.name === params.get('metric'))
    || metrics.find((m) => m.name === 'nps') || metrics[0];
  const measures = measuresOf(metric);
  const grains = GRAIN_ORDER.filter((g) => metric.grains.includes(g));
  const filters = {};
  for (const dim of metric.dimensions) {
    const values = (params.get(filterKey(dim)) || '').split(',').filter(Boolean);
    if (values.length) filters[dim] = values;
  }
  const date = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v || '') ? v : '');
  return {
    metric,
    measure: measures.includes(params.get('measure')) ? params.get('measure') : measures[0],
    grain: grains.includes(params.get('grain')) ? params.get('grain') : (grains.includes('month') ? 'month' : grains[0]),
    group_by: metric.dimensions.includes(params.get('group_by')) ? params.get('group_by') : '',
    from: date(params.get('from')),
    to: date(params.get('to')),
    filters,
  };
}

/** The hash query of a view (the shell drops empty values). */
function toParams(state) {
  const params = {
    metric: state.metric.name, measure: state.measure, grain: state.grain,
    group_by: state.group_by, from: state.from, to: state.to,
  };
  for (const [dim, values] of Object.entries(state.filters)) params[filterKey(dim)] = values;
  return params;
}

/** The metric request of a view; filter values typed like their column (numbers unquoted in OData). */
function requestOf(state, types) {
  const filters = {};
  for (const [dim, values] of Object.entries(state.filters)) {
    filters[dim] = NUMERIC.test(types[dim] || '') ? values.map(Number) : values;
  }
  return {
    group_by: state.group_by ? [state.group_by] : [],
    grain: state.grain,
    from: state.from || undefined,
    to: state.to || undefined,
    filters,
    measures: [state.measure],
  };
}

/** A group value as a label. */
function label(value) {
  return value === null || value === undefined || value === '' ? '(none)' : String(value);
}

/**
 * The answer as chart series: x = the periods, one series per group value, the largest TOP_N
 * groups by volume. Returns {x, periods, series: [{label, values, volume}], total}.
 */
function seriesOf(rows, state, volume) {
  const periods = [...new Set(rows.map((r) => r.period))].sort();
  const index = new Map(periods.map((p, i) => [p, i]));
  const groups = new Map();
  for (const row of rows) {
    const key = state.group_by ? label(row[state.group_by]) : 'All';
    if (!groups.has(key)) groups.set(key, { label: key, values: periods.map(() => null), volume: 0 });
    const group = groups.get(key);
    group.values[index.get(row.period)] = row[state.measure];
    group.volume += volume ? Number(row[volume]) || 0 : 0;
  }
  const all = [...groups.values()].sort((a, b) => b.volume - a.volume || a.label.localeCompare(b.label));
  const shown = all.slice(0, TOP_N).sort((a, b) => a.label.localeCompare(b.label));
  return { x: periods.map(epochSeconds), periods, series: shown, total: all.length };
}

/** Copies `text`; without clipboard access, selects `target`'s text for Ctrl+C instead. */
async function copy(text, target, button) {
  const done = (message) => {
    button.textContent = message;
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  };
  try {
    await navigator.clipboard.writeText(text);
    done('Copied');
  } catch {
    const range = document.createRange();
    range.selectNodeContents(target);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    done('Selected: press Ctrl+C');
  }
}

/** A URL line: label, the URL as text, a copy button. */
function urlLine(kind, labelText, url, help) {
  const text = h('code', { class: 'url', 'data-url': kind }, url);
  const button = h('button', { type: 'button', 'data-copy': kind, 'aria-label': `Copy the ${labelText} URL` }, 'Copy');
  button.addEventListener('click', () => copy(url, text, button));
  return h('div', { class: 'url-line' },
    h('span', { class: 'url-kind' }, labelText),
    text, button,
    help ? h('p', { class: 'hint' }, help) : null);
}

export async function render(main, ctx) {
  const metrics = trendMetrics(await ctx.api.catalog());
  main.append(h('header', { class: 'page-head' }, h('h1', {}, 'Trends')));
  if (metrics.length === 0) {
    main.append(h('p', { class: 'empty card' }, 'The catalog has no aggregate metric with a time column.'));
    return;
  }
  let state = readState(ctx.params, metrics);
  // Values present per dimension and the dimensions' types, per metric (asked once).
  const dimensionInfo = new Map();
  let sequence = 0;
  let left = false;

  const body = h('div', { class: 'trends' });
  main.append(body);

  /** The values of every dimension of `metric`: one grouped request per dimension, by volume. */
  async function dimensions(metric) {
    if (!dimensionInfo.has(metric.name)) {
      const volume = volumeOf(metric);
      const answers = await Promise.all(metric.dimensions.map((dim) =>
        ctx.api.metric(metric.name, { group_by: [dim], order_by: volume ? [`-${volume}`] : [dim] })));
      const info = { values: {}, types: {} };
      metric.dimensions.forEach((dim, i) => {
        const { columns, rows } = answers[i];
        info.types[dim] = columns.find((c) => c.name === dim)?.type || 'Utf8';
        info.values[dim] = rows.map((r) => r[dim]).filter((v) => v !== null && v !== '').map(String)
          .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
      });
      dimensionInfo.set(metric.name, info);
    }
    return dimensionInfo.get(metric.name);
  }

  /** Builds the controls for the current metric, then draws. */
  async function build() {
    const info = await dimensions(state.metric);
    // A filter value the metric does not have (an old link) is dropped.
    for (const [dim, values] of Object.entries(state.filters)) {
      const known = values.filter((v) => info.values[dim].includes(v));
      if (known.length) state.filters[dim] = known;
      else delete state.filters[dim];
    }
    const metric = state.metric;
    const change = (patch) => {
      state = { ...state, ...patch };
      ctx.setParams(toParams(state));
      // The shell shows a failure (and the state 'error'); nothing more to do here.
      return ctx.busy(redraw()).catch(() => {});
    };
    const controls = h('div', { class: 'controls' },
      select('metric', 'Metric', metrics.map((m) => ({ value: m.name, label: m.title })), metric.name, (value) => {
        const next = metrics.find((m) => m.name === value);
        const params = new URLSearchParams({ metric: value, grain: state.grain });
        for (const [dim, values] of Object.entries(state.filters)) {
          if (next.dimensions.includes(dim)) params.set(filterKey(dim), values.join(','));
        }
        if (next.dimensions.includes(state.group_by)) params.set('group_by', state.group_by);
        if (state.from) params.set('from', state.from);
        if (state.to) params.set('to', state.to);
        state = readState(params, metrics);
        ctx.setParams(toParams(state));
        ctx.busy(build()).catch(() => {});
      }),
      select('measure', 'Measure', measuresOf(metric), state.measure, (value) => change({ measure: value })),
      select('grain', 'Grain', GRAIN_ORDER.filter((g) => metric.grains.includes(g)), state.grain, (value) => change({ grain: value })),
      select('group_by', 'Group by', [{ value: '', label: '(none)' }, ...metric.dimensions], state.group_by,
        (value) => change({ group_by: value })),
      dateInput('from', 'From', state.from, (value) => change({ from: value })),
      dateInput('to', 'To', state.to, (value) => change({ to: value })));
    const filters = metric.dimensions.length === 0 ? null : h('fieldset', { class: 'filters' },
      h('legend', {}, 'Filters ', h('span', { class: 'hint' }, '(none selected = all values; Ctrl/⌘-click for several)')),
      metric.dimensions.map((dim) => filterControl(dim, info.values[dim], state.filters[dim] || [], (values) => {
        const filtersNow = { ...state.filters };
        if (values.length) filtersNow[dim] = values;
        else delete filtersNow[dim];
        return change({ filters: filtersNow });
      })));
    body.replaceChildren(
      describe(metric),
      h('section', { class: 'card trend-controls' }, controls, filters),
      h('section', { class: 'card trend-chart' },
        h('h2', { 'data-trend-title': '' }),
        h('div', { class: 'chart', 'data-chart': 'trend' }),
        h('p', { class: 'hint', 'data-trend-note': '' })),
      h('section', { class: 'card trend-urls' }, h('h2', {}, 'The request'), h('div', { 'data-urls': '' })),
      h('details', { class: 'card trend-table' }, h('summary', {}, 'Plotted values (table)'), h('div', { class: 'scroll', 'data-table': '' })));
    await redraw();
  }

  // The newest drawing: an older one that finds itself overtaken resolves with it, so the page
  // is not 'ready' before the last change is drawn.
  let drawing = null;
  function redraw() {
    drawing = draw();
    return drawing;
  }

  /** Fetches the view's numbers and draws the chart, the URLs and the table. */
  async function draw() {
    const mine = ++sequence;
    const info = await dimensions(state.metric);
    const request = requestOf(state, info.types);
    const { rows } = await ctx.api.metric(state.metric.name, request);
    if (left) return;
    if (mine !== sequence) return drawing; // a newer change is drawing (never this one)
    const volume = volumeOf(state.metric);
    const { x, periods, series, total } = seriesOf(rows, state, volume);
    const measureTitle = state.measure === state.metric.name ? state.metric.title : `${state.metric.title}: ${state.measure}`;
    body.querySelector('[data-trend-title]').textContent =
      `${measureTitle} by ${state.grain}${state.group_by ? `, per ${state.group_by}` : ''}`;

    const chart = body.querySelector('[data-chart="trend"]');
    const note = body.querySelector('[data-trend-note]');
    if (x.length === 0) {
      chart.replaceChildren(h('p', { class: 'empty' }, 'No rows for these filters and dates.'));
      chart.dataset.series = '';
      chart.dataset.points = '0';
      note.textContent = '';
    } else {
      chart.setAttribute('role', 'img');
      chart.setAttribute('aria-label', `Line chart: ${measureTitle} by ${state.grain} for ${series.map((s) => s.label).join(', ')}; `
        + 'the values are in the table "Plotted values" below.');
      const grain = state.grain;
      await lineChart(chart, {
        x,
        series: series.map((s) => ({ label: s.label, values: s.values })),
        yLabel: state.measure,
        height: 360,
        // Axis and hover in the grain's words (Q2 2025), where lineChart supports it.
        xFormat: (t) => fmtPeriod(new Date(t * 1000).toISOString(), grain),
      });
      note.textContent = total > series.length
        ? `Showing the ${series.length} largest of ${total} ${state.group_by} values by ${volume}; filter ${state.group_by} to choose others.`
        : '';
    }
    note.hidden = !note.textContent;

    const notes = [];
    const odata = ctx.api.odataUrl(state.metric.name, request, notes);
    body.querySelector('[data-urls]').replaceChildren(
      urlLine('rest', 'REST', ctx.api.restUrl(state.metric.name, request),
        'Send the API key as Authorization: Bearer <key>. Every measure of the metric comes back, not only the plotted one.'),
      urlLine('odata', 'OData', odata,
        'Power BI: Get data → OData feed, paste the URL; sign in with Basic (any user name, the key as password) or the key as a Bearer token.'),
      notes.length === 0
        ? h('p', { class: 'hint', 'data-odata-exact': 'true' }, 'The OData URL returns the same numbers as the REST URL.')
        : h('div', { class: 'odata-notes', 'data-odata-exact': 'false' },
          h('strong', {}, 'Where the OData URL differs: '),
          h('ul', {}, notes.map((n) => h('li', { 'data-odata-note': '' }, n)))));

    const plotted = rows.map((r) => r[state.measure]).filter((v) => v !== null);
    const digits = plotted.every(Number.isInteger) ? 0 : plotted.some((v) => Math.abs(v) >= 10) ? 1 : 2;
    body.querySelector('[data-table]').replaceChildren(dataTable({
      caption: `${measureTitle} by ${state.grain}`,
      columns: [
        { key: 'period', label: 'Period', format: (v) => fmtPeriod(v, state.grain) },
        ...series.map((s) => ({ key: `series:${s.label}`, label: s.label, cls: 'num', format: (v) => fmt(v, { digits }) })),
      ],
      rows: periods.map((period, p) => Object.fromEntries([['period', period], ...series.map((s) => [`series:${s.label}`, s.values[p]])])),
      rowAttrs: (row) => ({ 'data-period': raw(row.period) }),
    }));
  }

  ctx.onLeave(() => { left = true; });
  await build();
}

/** The metric's description: its first sentence, the rest (formula, dimensions) on request. */
function describe(metric) {
  const text = metric.description.trim();
  const cut = text.search(/\.\s/);
  if (cut < 0 || cut > 240 || cut >= text.length - 2) return h('p', { class: 'lede' }, text);
  return h('details', { class: 'lede metric-about' },
    h('summary', {}, text.slice(0, cut + 1), ' ', h('span', { class: 'more' }, 'More')),
    h('p', {}, text.slice(cut + 1).trim()));
}

/** A labelled date input; `onchange` gets 'YYYY-MM-DD' or ''. */
function dateInput(name, labelText, value, onchange) {
  const input = h('input', { type: 'date', name, id: `control-${name}`, value: value || null });
  input.addEventListener('change', () => onchange(input.value));
  return h('label', { class: 'control', for: `control-${name}` }, h('span', {}, labelText), input);
}

/** One dimension's filter: a multi-select of the values present (none selected = all). */
function filterControl(dim, values, selected, onchange) {
  const id = `filter-${dim}`;
  const el = h('select', { multiple: true, id, name: `filter-${dim}`, 'data-filter': dim, size: Math.min(5, Math.max(2, values.length)) },
    values.map((v) => h('option', { value: v, selected: selected.includes(v) }, v)));
  el.addEventListener('change', () => onchange([...el.selectedOptions].map((o) => o.value)));
  const clear = h('button', { type: 'button', class: 'link', 'data-clear': dim, hidden: selected.length === 0 }, 'all');
  clear.addEventListener('click', () => {
    for (const option of el.options) option.selected = false;
    clear.hidden = true;
    onchange([]);
  });
  el.addEventListener('change', () => { clear.hidden = el.selectedOptions.length === 0; });
  return h('label', { class: 'control filter', for: id },
    h('span', {}, dim, ' ', clear), el);
}
