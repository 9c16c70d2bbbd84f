// The Scorecard page shows what /api/v1/metrics/tx_scorecard answers: every tile's value and
// 95% interval, and every cell of the period table, for more than one grain.
'use strict';

const KPIS = ['nps', 'csat_pct', 'ces_mean', 'enps', 'customer_churn_pct', 'employee_attrition_pct', 'avg_customer_ltv', 'avg_employee_ltv'];
const CI = { nps: 'nps', csat_pct: 'csat_pct', ces_mean: 'ces', enps: 'enps' };

const { rowsOf } = require('./harness');

function same(assert, shown, expected, what) {
  if (expected === null) {
    assert.equal(shown, '', `${what}: the API has no value, the page shows ${shown}`);
  } else {
    assert.ok(shown !== '' && Math.abs(Number(shown) - expected) < 1e-9, `${what}: page ${shown}, API ${expected}`);
  }
}

async function checkGrain({ open, ready, api, env, assert, screenshot }, grain) {
  const answer = await api(`/api/v1/metrics/tx_scorecard?grain=${grain}&order_by=period`, { key: env.viewerKey });
  assert.equal(answer.status, 200);
  const rows = rowsOf(answer.json);
  assert.ok(rows.length >= 1, `the sample lake has a ${grain} with data`);

  const page = await open(`/#/scorecard?grain=${grain}`, { key: env.viewerKey });
  await ready(page, 'scorecard');
  assert.equal(await page.inputValue('select[name="grain"]'), grain);

  for (const kpi of KPIS) {
    const tile = page.locator(`[data-kpi="${kpi}"]`);
    const period = await tile.getAttribute('data-period');
    const row = rows.find((r) => r.period === period);
    assert.ok(row, `${kpi}: the tile's period ${period} is one of the API's`);
    // The tile shows the latest period that has a value.
    const latestWithValue = [...rows].reverse().find((r) => r[kpi] !== null) || rows[rows.length - 1];
    assert.equal(period, latestWithValue.period, `${kpi}: the latest ${grain} with a value`);
    same(assert, await tile.getAttribute('data-value'), row[kpi], `${kpi} tile`);
    if (CI[kpi]) {
      same(assert, await tile.getAttribute('data-ci-low'), row[`${CI[kpi]}_ci_low`], `${kpi} CI low`);
      same(assert, await tile.getAttribute('data-ci-high'), row[`${CI[kpi]}_ci_high`], `${kpi} CI high`);
      if (row[kpi] !== null) {
        const low = row[`${CI[kpi]}_ci_low`];
        const high = row[`${CI[kpi]}_ci_high`];
        assert.ok(low <= row[kpi] && row[kpi] <= high, `${kpi}: ${low} ≤ ${row[kpi]} ≤ ${high}`);
      }
    }
  }
  // The NPS tile's big number is the API's NPS as text, rounded to one decimal.
  const npsPeriod = await page.locator('[data-kpi="nps"]').getAttribute('data-period');
  const npsRow = rows.find((r) => r.period === npsPeriod);
  assert.equal((await page.locator('[data-kpi="nps"] .value').textContent()).trim(), npsRow.nps.toFixed(1));

  // Every period is a row of the table, and every shown cell carries the API's value.
  assert.equal(await page.locator('tr[data-period]').count(), rows.length);
  for (const row of rows) {
    for (const field of ['nps', 'csat_pct', 'ces_mean', 'enps', 'customer_churn_pct', 'avg_customer_ltv', 'revenue']) {
      const cell = page.locator(`tr[data-period="${row.period}"] td[data-field="${field}"]`);
      same(assert, await cell.getAttribute('data-value'), row[field], `${row.period} ${field}`);
    }
  }
  await screenshot(page, grain === 'month' ? 'scorecard' : `scorecard-${grain}`);
  return page;
}

module.exports = {
  'scorecard tiles and table equal /api/v1/metrics/tx_scorecard by month': (t) => checkGrain(t, 'month'),

  'scorecard by quarter, chosen in the page, equals the API by quarter': async (t) => {
    const page = await checkGrain(t, 'month');
    await page.selectOption('select[name="grain"]', 'quarter');
    await page.waitForFunction(() => location.hash === '#/scorecard?grain=quarter');
    await t.ready(page, 'scorecard');
    const answer = await t.api('/api/v1/metrics/tx_scorecard?grain=quarter', { key: t.env.viewerKey });
    t.assert.equal(await page.locator('tr[data-period]').count(), answer.json.row_count);
    await checkGrain(t, 'quarter');
  },
};
