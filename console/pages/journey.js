// Customer journey map: the journey stages as a funnel (customers, conversion from the previous
// stage, median days between stages), the most common paths through them, and per touchpoint the
// experience delivered against the desired one (touchpoint_targets) for each customer segment.
// A segment selector applies to the funnel, the medians and the paths; the touchpoint grid shows
// every segment side by side and marks the chosen one.

import { h, fmt, fmtInt, raw, select } from '../lib/dom.js';

export const title = 'Journey map';

/** How many of the most common paths are listed. */
const TOP_PATHS = 10;

/** The unit and reading of each touchpoint metric (touchpoint_scorecard's `metric` values). */
const METRIC_INFO = {
  csat: { label: 'CSAT', scale: 'mean, 1–5', digits: 2 },
  ces: { label: 'CES', scale: 'mean, 1–7, lower is better', digits: 2 },
  nps: { label: 'NPS', scale: 'points, −100…100', digits: 0 },
};

function metricInfo(metric) {
  return METRIC_INFO[metric] || { label: metric, scale: '', digits: 2 };
}

/** 'awareness' → 'Awareness', 'support_ticket' → 'Support ticket'. */
function pretty(name) {
  const s = words(name);
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** '1 answer', '1,204 answers'. */
function count(n, noun) {
  return `${fmtInt(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/** A segment as the data names it, underscores as spaces ('mid_market' → 'mid market'). */
function words(name) {
  return String(name ?? '').replace(/_/g, ' ');
}

/** The segments that have customers in the funnel, largest first (customers without one are in "all"). */
async function loadSegments(api) {
  const { rows } = await api.metric('journey_funnel', { group_by: ['segment'], order_by: ['-customers'] });
  return rows.map((r) => r.segment).filter((s) => s !== null && s !== '');
}

/** The funnel, the medians and the top paths of one segment ('all' = every customer). */
async function loadJourney(api, segment) {
  const seg = segment === 'all' ? {} : { segment: [segment] };
  const [funnel, times, paths] = await Promise.all([
    api.metric('journey_funnel', {
      group_by: ['stage', 'stage_order', 'previous_stage'],
      filters: seg,
      order_by: ['stage_order'],
    }),
    api.metric('time_to_stage', { filters: { segment: [segment], acquisition_channel: ['all'] } }),
    api.metric('journey_paths', { filters: { segment: [segment] }, order_by: ['path_rank'], limit: TOP_PATHS }),
  ]);
  return { funnel: funnel.rows, times: times.rows, paths: paths.rows };
}

/** The funnel: one row per stage, the bar as wide as its customers relative to the widest stage. */
function funnelView({ funnel, times }) {
  const median = new Map(times.map((t) => [t.stage, t]));
  const widest = Math.max(1, ...funnel.map((r) => r.customers || 0));
  const rows = funnel.map((r) => {
    const t = median.get(r.stage) || {};
    const width = Math.max(0.5, (100 * (r.customers || 0)) / widest);
    const conversion =
      r.previous_stage === null
        ? h('span', { class: 'muted' }, 'entry stage')
        : r.conversion_pct === null
          ? h('span', { class: 'muted' }, `— (no one reached ${words(r.previous_stage)})`)
          : [h('strong', {}, fmt(r.conversion_pct, { digits: 1, unit: ' %' })), ' of ', pretty(r.previous_stage)];
    const days =
      t.median_days_from_previous === null || t.median_days_from_previous === undefined
        ? h('span', { class: 'muted' }, '—')
        : [
            h('strong', {}, fmt(t.median_days_from_previous, { digits: 1 })),
            ' days (median)',
            // Support, renewal and advocacy do not strictly follow each other.
            t.median_days_from_previous < 0
              ? h('div', { class: 'muted jm-since' }, `most met it before ${words(r.previous_stage)}`)
              : null,
          ];
    // Where the stage sits on the customer's clock: median days since the first touchpoint.
    const since =
      t.median_days_from_first_touch === null || t.median_days_from_first_touch === undefined || r.stage_order === 1
        ? null
        : h('div', { class: 'muted jm-since' }, `day ${fmt(t.median_days_from_first_touch, { digits: 0 })} from first touch`);
    return h(
      'div',
      {
        class: 'jm-stage',
        role: 'row',
        'data-stage': r.stage,
        'data-stage-order': raw(r.stage_order),
        'data-customers': raw(r.customers),
        'data-conversion-pct': raw(r.conversion_pct),
        'data-median-days': raw(t.median_days_from_previous),
      },
      h(
        'div',
        { class: 'jm-stage-name', role: 'rowheader' },
        h('span', { class: 'jm-order' }, String(r.stage_order)),
        pretty(r.stage),
      ),
      h('div', { class: 'jm-bar-cell', role: 'cell' }, h('div', { class: 'jm-bar', style: `width: ${width.toFixed(2)}%` })),
      h('div', { class: 'jm-customers num', role: 'cell' }, fmtInt(r.customers)),
      h('div', { class: 'jm-conv', role: 'cell' }, conversion),
      h('div', { class: 'jm-days', role: 'cell' }, days, since),
    );
  });
  return h(
    'div',
    { class: 'jm-funnel', role: 'table', 'aria-label': 'Journey funnel' },
    h(
      'div',
      { class: 'jm-stage jm-head', role: 'row' },
      h('div', { role: 'columnheader' }, 'Stage'),
      h('div', { role: 'columnheader' }, ''),
      h('div', { role: 'columnheader', class: 'num' }, 'Customers'),
      h('div', { role: 'columnheader' }, 'Conversion from previous stage'),
      h('div', { role: 'columnheader' }, 'Median days from previous stage'),
    ),
    rows,
  );
}

/** The most common paths: rank, the stages as a chain, customers and share of the segment. */
function pathsView(paths) {
  if (paths.length === 0) return h('p', { class: 'muted' }, 'No customer journeys in this segment.');
  return h(
    'ol',
    { class: 'jm-paths' },
    paths.map((p) =>
      h(
        'li',
        {
          'data-path': p.path,
          'data-customers': raw(p.customers),
          'data-share-pct': raw(p.share_pct),
          title: p.in_stage_order ? p.path : `${p.path} (stages reached out of the usual order)`,
        },
        h('span', { class: 'jm-rank' }, `${p.path_rank}.`),
        h(
          'span',
          { class: 'jm-chain' },
          String(p.path)
            .split(' > ')
            .flatMap((stage, i) => [
              i ? h('span', { class: 'jm-arrow', 'aria-hidden': 'true' }, '→') : null,
              h('span', { class: 'jm-chip' }, pretty(stage)),
            ]),
          p.in_stage_order ? null : h('span', { class: 'jm-note' }, 'out of order'),
        ),
        h(
          'span',
          { class: 'jm-share' },
          h('strong', {}, fmt(p.share_pct, { digits: 1, unit: ' %' })),
          ` · ${count(p.customers, 'customer')}`,
        ),
      ),
    ),
  );
}

/** One grid cell: actual vs target with ✓/✗ and words, or grey when there is no target or no answer. */
function cellView(segment, touchpoint, metric, row, target, chosen) {
  const info = metricInfo(metric);
  const key = `${segment}|${touchpoint}|${metric}`;
  const cls = chosen ? ' jm-chosen' : '';
  if (!row || row.meets_target === null || row.meets_target === undefined) {
    const text = target === undefined ? 'no target' : `no answers · target ${fmt(target, { digits: info.digits })}`;
    return h('td', { class: `jm-cell jm-none${cls}`, 'data-cell': key, 'data-meets': '' }, h('span', { class: 'muted' }, text));
  }
  const meets = row.meets_target === true;
  const better = row.better_by;
  const margin = fmt(Math.abs(better), { digits: info.digits === 0 ? 1 : info.digits });
  return h(
    'td',
    {
      class: `jm-cell ${meets ? 'jm-meets' : 'jm-misses'}${cls}`,
      'data-cell': key,
      'data-meets': String(meets),
      'data-actual': raw(row.actual),
      'data-target': raw(row.target),
      title: `${pretty(touchpoint)} · ${info.label} · ${segment}: ${count(row.responses, 'answer')}`,
    },
    h(
      'div',
      { class: 'jm-verdict' },
      h('span', { class: 'jm-mark', 'aria-hidden': 'true' }, meets ? '✓' : '✗'),
      meets ? 'meets target' : 'below target',
    ),
    h(
      'div',
      { class: 'jm-values' },
      h('strong', {}, fmt(row.actual, { digits: info.digits })),
      h('span', { class: 'muted' }, ' vs target '),
      fmt(row.target, { digits: info.digits }),
    ),
    h(
      'div',
      { class: 'jm-margin' },
      better >= 0 ? `${margin} better` : `${margin} short`,
      ` · ${count(row.responses, 'answer')}`,
    ),
  );
}

/** The touchpoint grid: (touchpoint, metric) rows × segment columns. */
function gridView(scorecard, targets, segments, chosen) {
  const rows = new Map();
  const key = (s, t, m) => `${s}|${t}|${m}`;
  const actual = new Map(scorecard.map((r) => [key(r.segment, r.touchpoint, r.metric), r]));
  const target = new Map();
  for (const t of targets) {
    const k = key(t.segment, t.touchpoint, t.metric);
    // Several connections may set a target for a cell: the metric uses their mean, so do we.
    const prev = target.get(k);
    target.set(k, prev ? { sum: prev.sum + t.target, n: prev.n + 1 } : { sum: t.target, n: 1 });
  }
  for (const r of [...scorecard, ...targets])
    rows.set(`${r.touchpoint}|${r.metric}`, { touchpoint: r.touchpoint, metric: r.metric });
  const columns = [...segments];
  for (const r of [...scorecard, ...targets]) if (r.segment && !columns.includes(r.segment)) columns.push(r.segment);
  if (rows.size === 0) return h('p', { class: 'muted' }, 'No touchpoint targets are set (tx.touchpoint_targets is empty).');
  const sorted = [...rows.values()].sort((a, b) => a.touchpoint.localeCompare(b.touchpoint) || a.metric.localeCompare(b.metric));
  return h(
    'table',
    { class: 'data jm-grid' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Touchpoint'),
        h('th', { scope: 'col' }, 'Metric'),
        columns.map((s) => h('th', { scope: 'col', class: s === chosen ? 'jm-chosen' : null, 'data-segment': s }, words(s))),
      ),
    ),
    h(
      'tbody',
      {},
      sorted.map(({ touchpoint, metric }) => {
        const info = metricInfo(metric);
        return h(
          'tr',
          { 'data-touchpoint': touchpoint, 'data-metric': metric },
          h('th', { scope: 'row' }, pretty(touchpoint)),
          h(
            'td',
            { class: 'jm-metric' },
            h('strong', {}, info.label),
            info.scale ? h('div', { class: 'muted' }, info.scale) : null,
          ),
          columns.map((s) => {
            const t = target.get(key(s, touchpoint, metric));
            return cellView(
              s,
              touchpoint,
              metric,
              actual.get(key(s, touchpoint, metric)),
              t ? t.sum / t.n : undefined,
              s === chosen,
            );
          }),
        );
      }),
    ),
  );
}

export async function render(main, ctx) {
  const { api } = ctx;
  const [segments, scorecard, targets] = await Promise.all([
    loadSegments(api),
    api.metric('touchpoint_scorecard', { group_by: ['segment', 'touchpoint', 'metric'] }),
    // Targets without answers yet still show (as grey cells with their target); 1,000 rows stay
    // within any sensible [server] query_row_limit.
    api.get('api/v1/tables/tx.touchpoint_targets', { columns: 'segment,touchpoint,metric,target', limit: 1000 }),
  ]);
  const asked = ctx.params.get('segment');
  let segment = asked && segments.includes(asked) ? asked : 'all';
  const targetRows = (targets.rows || []).map((r) =>
    Array.isArray(r) ? Object.fromEntries(targets.columns.map((c, i) => [c.name, r[i]])) : r,
  );

  const segmentControl = select(
    'segment',
    'Segment',
    ['all', ...segments].map((s) => ({ value: s, label: s === 'all' ? 'All customers' : words(s) })),
    segment,
    (value) => {
      segment = value;
      ctx.setParams({ segment: segment === 'all' ? null : segment });
      // busy() shows a failure on the page; nothing more to do with it here.
      ctx.busy(show()).catch(() => {});
    },
  );
  const funnelBox = h('div', { 'data-part': 'funnel' });
  const pathsBox = h('div', { 'data-part': 'paths' });
  const gridBox = h('div', { 'data-part': 'touchpoints' });

  // A later choice wins: answers to an earlier one that arrive late are dropped.
  let asks = 0;
  async function show() {
    const mine = ++asks;
    const data = await loadJourney(api, segment);
    if (mine !== asks) return;
    funnelBox.replaceChildren(funnelView(data));
    pathsBox.replaceChildren(pathsView(data.paths));
    gridBox.replaceChildren(gridView(scorecard.rows, targetRows, segments, segment));
    main.dataset.segment = segment;
  }

  main.append(
    h(
      'div',
      { class: 'journey' },
      h('header', { class: 'page-head' }, h('h1', {}, 'Customer journey map'), h('div', { class: 'controls' }, segmentControl)),
      h(
        'section',
        { class: 'card jm-funnel-card' },
        h('h2', {}, 'Stages'),
        h(
          'p',
          { class: 'lede' },
          'Bar width = customers who reached the stage (first time they met it). Conversion = share of the previous stage’s customers who went on to this one. Days = median days from first reaching the previous stage.',
        ),
        funnelBox,
      ),
      h(
        'section',
        { class: 'card' },
        h('h2', {}, `Most common paths (top ${TOP_PATHS})`),
        h(
          'p',
          { class: 'lede' },
          'The stages each customer has reached, in the order reached; a path that stops early is a drop-off. Share = % of the segment’s customers.',
        ),
        pathsBox,
      ),
      h(
        'section',
        { class: 'card' },
        h('h2', {}, 'Touchpoints: actual vs target'),
        h(
          'p',
          { class: 'lede' },
          'Customer answers at each touchpoint against the segment’s target (tx.touchpoint_targets), all time. ✓ meets or beats the target, ✗ falls short; grey: no target or no answers.',
        ),
        gridBox,
      ),
    ),
  );
  await show();
}
