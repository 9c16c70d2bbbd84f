// Scorecard: the TX scorecard (metrics.tx_scorecard) by period — the headline CX and EX numbers
// of the latest period with their 95% intervals, change and sparkline, and every period below.

import { h, fmt, fmtMoney, fmtPeriod, dataTable, raw, select } from '../lib/dom.js';
import { sparkline } from '../lib/charts.js';

export const title = 'Scorecard';

const GRAINS = ['week', 'month', 'quarter', 'year'];

/** The tiles: column, label, formatter, whether up is good, CI columns, what it means. */
const KPIS = [
  { key: 'nps', label: 'NPS', digits: 1, up: true, ci: ['nps_ci_low', 'nps_ci_high'], n: 'nps_responses',
    hint: 'customers: % promoters (9–10) − % detractors (0–6)' },
  { key: 'csat_pct', label: 'CSAT', digits: 1, unit: '%', up: true, ci: ['csat_pct_ci_low', 'csat_pct_ci_high'], n: 'csat_responses',
    hint: 'share of customer CSAT answers 4–5' },
  { key: 'ces_mean', label: 'CES', digits: 2, up: false, ci: ['ces_ci_low', 'ces_ci_high'], n: 'ces_responses',
    hint: 'mean customer effort, 1–7, lower is easier' },
  { key: 'enps', label: 'eNPS', digits: 1, up: true, ci: ['enps_ci_low', 'enps_ci_high'], n: 'enps_responses',
    hint: 'employees; hidden below 5 answers' },
  { key: 'customer_churn_pct', label: 'Customer churn', digits: 2, unit: '%', up: false,
    hint: 'churned / average active customers' },
  { key: 'employee_attrition_pct', label: 'Attrition', digits: 2, unit: '%', up: false,
    hint: 'terminations / average head count' },
  { key: 'avg_customer_ltv', label: 'Customer LTV', money: true, up: true,
    hint: 'revenue to date / paying customers' },
  { key: 'avg_employee_ltv', label: 'Employee LTV', money: true, up: true,
    hint: 'attributed revenue − cost, per employee' },
];

function show(kpi, value) {
  return kpi.money ? fmtMoney(value) : fmt(value, { digits: kpi.digits, unit: kpi.unit || '' });
}

function tile(kpi, rows, grain) {
  // The latest period with a value: eNPS campaigns run quarterly, so the latest month may have none.
  let at = rows.length - 1;
  while (at > 0 && rows[at][kpi.key] === null) at -= 1;
  const last = rows[at];
  const previous = at > 0 ? rows[at - 1] : null;
  const value = last[kpi.key];
  const change = previous && value !== null && previous[kpi.key] !== null ? value - previous[kpi.key] : null;
  const better = change === null || change === 0 ? null : (change > 0) === kpi.up;
  const attrs = { class: 'kpi card', 'data-kpi': kpi.key, 'data-value': raw(value), 'data-period': raw(last.period) };
  let interval = null;
  if (kpi.ci) {
    const [lo, hi] = kpi.ci.map((c) => last[c]);
    attrs['data-ci-low'] = raw(lo);
    attrs['data-ci-high'] = raw(hi);
    interval = h('div', { class: 'ci', title: '95% confidence interval' },
      value === null ? (kpi.key === 'enps' && last[kpi.n] > 0 ? 'suppressed: fewer than 5 answers' : 'no answers yet')
        : `95% CI ${show(kpi, lo)} … ${show(kpi, hi)} · n = ${fmt(last[kpi.n], { digits: 0 })}`);
  }
  return h('section', attrs,
    h('h2', { title: kpi.hint }, kpi.label),
    h('div', { class: 'value' }, show(kpi, value)),
    at === rows.length - 1 ? null : h('div', { class: 'as-of' }, `as of ${fmtPeriod(last.period, grain)}`),
    interval,
    h('div', { class: 'trend' },
      h('span', { class: 'spark', 'aria-hidden': 'true' }, sparkline(rows.map((r) => r[kpi.key]), { label: kpi.label })),
      change === null ? null : h('span', { class: `change ${better === null ? '' : better ? 'good' : 'bad'}`,
        title: `change since ${fmtPeriod(previous.period, grain)}` },
      `${change > 0 ? '▲' : change < 0 ? '▼' : '■'} ${kpi.money ? fmtMoney(Math.abs(change)) : fmt(Math.abs(change), { digits: kpi.digits })}`)),
    h('p', { class: 'hint' }, kpi.hint));
}

export async function render(main, ctx) {
  const grain = GRAINS.includes(ctx.params.get('grain')) ? ctx.params.get('grain') : 'month';
  const { rows } = await ctx.api.metric('tx_scorecard', { grain, order_by: ['period'] });

  main.append(h('header', { class: 'page-head' },
    h('h1', {}, 'Total Experience scorecard'),
    h('div', { class: 'controls' },
      select('grain', 'Period', GRAINS.map((g) => ({ value: g, label: g[0].toUpperCase() + g.slice(1) })), grain, (value) => {
        // A new hash re-renders the page through the shell, like a link would.
        location.hash = `#/scorecard?grain=${value}`;
      }))));

  if (rows.length === 0) {
    main.append(h('p', { class: 'empty card' }, 'The lake has no survey answers, customers or revenue yet: run ',
      h('code', {}, 'txlake sync'), ' and reload.'));
    return;
  }
  const last = rows[rows.length - 1];
  main.append(
    h('p', { class: 'lede' }, `Latest ${grain}: `, h('strong', { 'data-latest-period': last.period }, fmtPeriod(last.period, grain)),
      ` — each tile shows the latest ${grain} with a value, its change against the ${grain} before, and a sparkline over all ${rows.length} ${grain}s.`),
    h('div', { class: 'kpis' }, KPIS.map((kpi) => tile(kpi, rows, grain))));

  const ciCell = (lo, hi, digits) => (v, row) => (v === null ? '—'
    : h('span', {}, fmt(v, { digits }), h('span', { class: 'ci-inline' }, ` ±${fmt((row[hi] - row[lo]) / 2, { digits })}`)));
  main.append(h('section', { class: 'card table-card' },
    h('h2', {}, `By ${grain}`),
    h('div', { class: 'scroll' }, dataTable({
      columns: [
        { key: 'period', label: 'Period', format: (v) => fmtPeriod(v, grain) },
        { key: 'nps', label: 'NPS', cls: 'num', format: ciCell('nps_ci_low', 'nps_ci_high', 1) },
        { key: 'csat_pct', label: 'CSAT %', cls: 'num', format: ciCell('csat_pct_ci_low', 'csat_pct_ci_high', 1) },
        { key: 'ces_mean', label: 'CES', cls: 'num', format: ciCell('ces_ci_low', 'ces_ci_high', 2) },
        { key: 'enps', label: 'eNPS', cls: 'num', format: (v, row) => (v === null && row.enps_responses > 0 ? h('span', { class: 'muted', title: 'fewer than 5 answers' }, 'suppressed') : fmt(v)) },
        { key: 'customer_churn_pct', label: 'Churn %', cls: 'num', format: (v) => fmt(v, { digits: 2 }) },
        { key: 'employee_attrition_pct', label: 'Attrition %', cls: 'num', format: (v) => fmt(v, { digits: 2 }) },
        { key: 'avg_customer_ltv', label: 'Customer LTV', cls: 'num', format: fmtMoney },
        { key: 'avg_employee_ltv', label: 'Employee LTV', cls: 'num', format: fmtMoney },
        { key: 'revenue', label: 'Revenue', cls: 'num', format: fmtMoney },
        { key: 'nps_responses', label: 'NPS n', cls: 'num', format: (v) => fmt(v, { digits: 0 }) },
      ],
      rows: [...rows].reverse(),
      rowAttrs: (row) => ({ 'data-period': raw(row.period) }),
    }))),
    h('p', { class: 'source' }, 'From ', h('a', { href: ctx.api.restUrl('tx_scorecard', { grain }), target: '_blank', rel: 'noopener' },
      `GET /api/v1/metrics/tx_scorecard?grain=${grain}`), ' — the same numbers any dashboard gets.'));
}
