// The Trends page: the chart is drawn from the metric API, a filter changes the chart and both
// shown URLs, and the shown REST and OData URLs, fetched with the key, return the plotted
// numbers; a link (the hash) reproduces the view; many groups are cut to the largest.
'use strict';

const { rowsOf } = require('./harness');

/** The page's state once it is ready again after a change. */
async function settled(page, ready) {
  await page.waitForSelector('main[data-page="trends"][data-state="loading"]', { state: 'detached', timeout: 30_000 }).catch(() => {});
  return ready(page, 'trends');
}

/** What the page shows: chart attributes, the two URLs, the plotted values by period and series. */
async function shown(page) {
  return page.evaluate(() => {
    const chart = document.querySelector('[data-chart="trend"]');
    const series = chart.dataset.series ? chart.dataset.series.split('|') : [];
    const values = {};
    for (const row of document.querySelectorAll('.trend-table tr[data-period]')) {
      values[row.dataset.period] = {};
      for (const label of series) {
        const cell = row.querySelector(`td[data-field="series:${CSS.escape(label)}"]`);
        values[row.dataset.period][label] = cell.dataset.value === '' ? null : Number(cell.dataset.value);
      }
    }
    return {
      series,
      points: Number(chart.dataset.points),
      values,
      rest: document.querySelector('[data-url="rest"]').textContent,
      odata: document.querySelector('[data-url="odata"]').textContent,
      exact: document.querySelector('[data-odata-exact]').dataset.odataExact,
      notes: [...document.querySelectorAll('[data-odata-note]')].map((n) => n.textContent),
      hash: location.hash,
    };
  });
}

/** Fetches a shown absolute URL from the server with the key. */
async function fetchShown(api, env, url) {
  const { pathname, search } = new URL(url);
  const answer = await api(pathname + search, { key: env.viewerKey });
  if (answer.status !== 200) throw new Error(`${url} answered ${answer.status}: ${answer.text}`);
  return answer.json;
}

/**
 * Every plotted value equals the row of `rows` for its period and group (`group` null: one
 * series). The rows may hold more groups than are plotted (the largest are drawn).
 */
function samePlotted(assert, view, rows, { group, measure, what }) {
  const periods = Object.keys(view.values);
  assert.ok(periods.length > 1, `${what}: more than one period plotted`);
  assert.equal(periods.length, view.points, `${what}: the table has a row per chart point`);
  const periodsOfRows = [...new Set(rows.map((r) => Date.parse(r.period)))].sort((a, b) => a - b);
  assert.deepEqual(periods.map((p) => Date.parse(p)).sort((a, b) => a - b), periodsOfRows, `${what}: the same periods`);
  let compared = 0;
  for (const period of periods) {
    for (const label of view.series) {
      const row = rows.find((r) => Date.parse(r.period) === Date.parse(period)
        && (group === null || String(r[group] ?? '(none)') === label));
      const plotted = view.values[period][label];
      if (!row) {
        assert.equal(plotted, null, `${what}: ${label} has no row for ${period}, so no point`);
        continue;
      }
      if (row[measure] === null) assert.equal(plotted, null, `${what}: ${label} ${period}`);
      else assert.ok(Math.abs(plotted - row[measure]) < 1e-9, `${what}: ${label} ${period}: plotted ${plotted}, answer ${row[measure]}`);
      compared += 1;
    }
  }
  assert.ok(compared > 3, `${what}: compared ${compared} values`);
}

/** Both shown URLs, fetched, return the plotted numbers. */
async function urlsReturnPlotted({ api, env, assert }, view, { group, measure, what }) {
  const rest = await fetchShown(api, env, view.rest);
  samePlotted(assert, view, rowsOf(rest), { group, measure, what: `${what} (REST)` });
  const odata = await fetchShown(api, env, view.odata);
  assert.ok(!odata['@odata.nextLink'], `${what}: the OData answer fits one page`);
  samePlotted(assert, view, odata.value, { group, measure, what: `${what} (OData)` });
}

module.exports = {
  'a filter changes the chart and both URLs, which return the plotted numbers': async (tools) => {
    const { open, ready, env, assert, screenshot } = tools;
    const page = await open('/#/trends?metric=nps&grain=month&group_by=segment', { key: env.viewerKey });
    await ready(page, 'trends');
    assert.equal(await page.inputValue('select[name="metric"]'), 'nps');
    assert.equal(await page.inputValue('select[name="measure"]'), 'nps', 'the derived measure named like the metric comes first');
    assert.equal(await page.inputValue('select[name="grain"]'), 'month');
    assert.equal(await page.inputValue('select[name="group_by"]'), 'segment');
    const dims = await page.$$eval('[data-filter]', (els) => els.map((e) => e.dataset.filter));
    const catalog = (await tools.api('/api/v1/metrics', { key: env.viewerKey })).json.metrics;
    assert.deepEqual(dims, catalog.find((m) => m.name === 'nps').dimensions, 'one filter per dimension');

    const before = await shown(page);
    assert.ok(before.series.length >= 2, `one line per segment: ${before.series}`);
    assert.equal(before.exact, 'true', 'month grain without filters: the OData URL is exact');
    await urlsReturnPlotted(tools, before, { group: 'segment', measure: 'nps', what: 'by segment' });

    // Keep two segments: the chart, both URLs and the hash change.
    const kept = before.series.slice(0, 2);
    await page.selectOption('[data-filter="segment"]', kept);
    await settled(page, ready);
    await page.waitForFunction((old) => document.querySelector('[data-url="rest"]').textContent !== old, before.rest);
    const after = await shown(page);
    assert.deepEqual(after.series, kept, 'the chart draws the kept segments only');
    assert.notEqual(after.rest, before.rest);
    assert.notEqual(after.odata, before.odata);
    assert.match(decodeURIComponent(after.rest), new RegExp(`segment=${kept.join(',')}`));
    assert.match(decodeURIComponent(after.odata), new RegExp(`segment in \\('${kept.join("','")}'\\)`));
    assert.equal(after.exact, 'true');
    assert.match(after.hash, /segment=/, 'the filter is in the hash');
    await urlsReturnPlotted(tools, after, { group: 'segment', measure: 'nps', what: 'two segments' });
    await screenshot(page, 'trends');

    // A one-value filter on a dimension not grouped by is still exact in OData.
    const country = await page.$eval('[data-filter="country"] option', (o) => o.value);
    await page.selectOption('[data-filter="country"]', [country]);
    await settled(page, ready);
    await page.waitForFunction((old) => document.querySelector('[data-url="odata"]').textContent !== old, after.odata);
    const oneCountry = await shown(page);
    assert.equal(oneCountry.exact, 'true');
    await urlsReturnPlotted(tools, oneCountry, { group: 'segment', measure: 'nps', what: `segments in ${country}` });

    // The link reproduces the view.
    const again = await open(`/${oneCountry.hash}`, { key: env.viewerKey });
    await ready(again, 'trends');
    const reproduced = await shown(again);
    assert.deepEqual({ ...reproduced, notes: null }, { ...oneCountry, notes: null });
    assert.deepEqual(await again.$eval('[data-filter="segment"]', (s) => [...s.selectedOptions].map((o) => o.value)), kept);

    // A grain OData cannot group by: the page says where the OData URL differs.
    await again.selectOption('select[name="grain"]', 'quarter');
    await settled(again, ready);
    await again.waitForSelector('[data-odata-exact="false"]');
    const quarter = await shown(again);
    assert.ok(quarter.notes.some((n) => n.includes('month only')), `notes: ${quarter.notes}`);
    assert.match(quarter.rest, /grain=quarter/);
    const rest = rowsOf(await fetchShown(tools.api, env, quarter.rest));
    samePlotted(assert, quarter, rest, { group: 'segment', measure: 'nps', what: 'by quarter (REST)' });
    await screenshot(again, 'trends-quarter');
  },

  'dates on month boundaries stay exact in OData; partial months and combined values are explained': async (tools) => {
    const { open, ready, env, assert } = tools;
    const page = await open('/#/trends?metric=csat&grain=month&group_by=segment', { key: env.viewerKey });
    await ready(page, 'trends');
    const periods = Object.keys((await shown(page)).values).sort();
    assert.ok(periods.length >= 4, 'the sample lake spans several months');
    // From the first day of the second month to the last day of the second-to-last month.
    const from = periods[1].slice(0, 10);
    const last = new Date(periods[periods.length - 1]);
    const to = new Date(Date.UTC(last.getUTCFullYear(), last.getUTCMonth(), 0)).toISOString().slice(0, 10);
    await page.fill('input[name="from"]', from);
    await settled(page, ready);
    await page.fill('input[name="to"]', to);
    await settled(page, ready);
    await page.waitForFunction((day) => document.querySelector('[data-url="rest"]').textContent.includes(`to=${day}`), to);
    const whole = await shown(page);
    assert.equal(whole.exact, 'true', `whole months: ${whole.notes}`);
    assert.equal(whole.points, periods.length - 2, 'the first and the last month are left out');
    await urlsReturnPlotted(tools, whole, { group: 'segment', measure: 'csat', what: `${from} to ${to}` });

    // From the 10th: REST counts part of the first month, OData cannot; the page says so.
    await page.fill('input[name="from"]', `${from.slice(0, 8)}10`);
    await settled(page, ready);
    await page.waitForSelector('[data-odata-exact="false"]');
    assert.ok((await shown(page)).notes.some((n) => n.includes('first month')));

    // Two countries while grouping by segment: REST combines them, OData cannot; said so.
    await page.fill('input[name="from"]', from);
    await settled(page, ready);
    await page.waitForSelector('[data-odata-exact="true"]');
    const countries = await page.$$eval('[data-filter="country"] option', (os) => os.slice(0, 2).map((o) => o.value));
    await page.selectOption('[data-filter="country"]', countries);
    await settled(page, ready);
    await page.waitForSelector('[data-odata-exact="false"]');
    assert.ok((await shown(page)).notes.some((n) => n.includes('values of country')));
  },

  'a dimension named like a view setting (touchpoint_scorecard.metric) filters without changing the metric': async (tools) => {
    const { open, ready, env, assert } = tools;
    const page = await open('/#/trends?metric=touchpoint_scorecard&grain=month&group_by=segment', { key: env.viewerKey });
    await ready(page, 'trends');
    const value = await page.$eval('[data-filter="metric"] option', (o) => o.value);
    await page.selectOption('[data-filter="metric"]', [value]);
    await settled(page, ready);
    await page.waitForFunction(() => document.querySelector('[data-url="rest"]').textContent.includes('metric='));
    const view = await shown(page);
    assert.match(view.hash, new RegExp(`metric=touchpoint_scorecard.*filter\\.metric=${value}`));
    assert.match(view.rest, new RegExp(`/metrics/touchpoint_scorecard\\?.*metric=${value}`));
    await urlsReturnPlotted(tools, view, { group: 'segment', measure: await page.inputValue('select[name="measure"]'), what: `touchpoints of ${value}` });
    const again = await open(`/${view.hash}`, { key: env.viewerKey });
    await ready(again, 'trends');
    assert.equal(await again.inputValue('select[name="metric"]'), 'touchpoint_scorecard');
    assert.deepEqual(await again.$eval('[data-filter="metric"]', (s) => [...s.selectedOptions].map((o) => o.value)), [value]);
  },

  'many groups: the largest by volume are drawn, and said so': async ({ open, ready, api, env, assert }) => {
    const page = await open('/#/trends?metric=nps&grain=quarter&group_by=country', { key: env.viewerKey });
    await ready(page, 'trends');
    const answer = rowsOf((await api('/api/v1/metrics/nps?group_by=country', { key: env.viewerKey })).json);
    const series = (await page.getAttribute('[data-chart="trend"]', 'data-series')).split('|');
    if (answer.length > 8) {
      assert.equal(series.length, 8);
      const largest = [...answer].sort((a, b) => b.responses - a.responses).slice(0, 8).map((r) => r.country);
      assert.deepEqual([...series].sort(), [...largest].sort(), 'the 8 countries with the most responses');
      assert.match(await page.textContent('[data-trend-note]'), new RegExp(`largest of ${answer.length} country`));
    } else {
      assert.equal(series.length, answer.length);
    }
  },

  'a copy button copies its URL, or selects it where the clipboard is refused': async ({ open, ready, env, assert }) => {
    const page = await open('/#/trends?metric=csat&grain=month', { key: env.viewerKey });
    await ready(page, 'trends');
    const url = await page.textContent('[data-url="odata"]');
    assert.match(url, /\/odata\/metric_csat\?\$apply=groupby\(\(period\),aggregate\(csat\)\)/);
    // The clipboard is replaced by a recorder, then by one that refuses (as over plain http).
    await page.evaluate(() => {
      window.copied = [];
      navigator.clipboard.writeText = async (text) => { window.copied.push(text); };
    });
    await page.click('button[data-copy="odata"]');
    await page.waitForFunction(() => document.querySelector('button[data-copy="odata"]').textContent === 'Copied');
    assert.deepEqual(await page.evaluate(() => window.copied), [url]);

    const rest = await page.textContent('[data-url="rest"]');
    await page.evaluate(() => {
      navigator.clipboard.writeText = async () => { throw new DOMException('refused', 'NotAllowedError'); };
    });
    await page.click('button[data-copy="rest"]');
    await page.waitForFunction(() => /Selected/.test(document.querySelector('button[data-copy="rest"]').textContent));
    assert.equal(await page.evaluate(() => window.getSelection().toString()), rest);
  },
};
