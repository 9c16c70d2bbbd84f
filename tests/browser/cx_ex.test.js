// CX × EX: one point per agent with a CSAT answer, the correlations exactly as cx_ex_link returns
// them, one point per team with a shown eNPS and customers' NPS, and every team whose eNPS the API
// withholds (fewer than 5 people answered) shown as suppressed, with no number. The sample lake
// of tests/e2e/console.rs has such teams: the eNPS of each non-Support team (one to four people
// answered) is left out of enps?group_by=team.
'use strict';

const { getMetric: metric } = require('./harness');

module.exports = {
  'cx × ex: agent and team points, correlations equal the API, suppressed eNPS shows no number': async ({
    open,
    ready,
    api,
    env,
    screenshot,
    assert,
  }) => {
    const key = env.viewerKey;
    const link = await metric(api, key, 'cx_ex_link');
    const enps = await metric(api, key, 'enps?group_by=team');
    const staff = await metric(api, key, 'tenure?group_by=department,team&status=active');

    const page = await open('/#/cx-ex', { key });
    await ready(page, 'cx-ex');

    // Agents: one point per agent with a CSAT mean.
    const agents = link.rows.filter((r) => r.csat_mean !== null);
    assert.ok(agents.length > 1, 'the sample lake has agents with CSAT answers');
    const chart = await page.waitForSelector('[data-chart="cx-ex"][data-view="agents"]');
    assert.equal(await chart.getAttribute('data-points'), String(agents.length), 'agent points');

    // Every correlation the metric has, with the API's value.
    const corrs = link.columns.filter((c) => c.startsWith('corr_'));
    assert.ok(corrs.includes('corr_training_csat') && corrs.includes('corr_enps_nps'));
    for (const name of corrs) {
      const shown = await page.getAttribute(`[data-corr="${name}"]`, 'data-value');
      const value = link.rows[0][name];
      assert.equal(shown, value === null ? '' : String(value), `${name}`);
      if (value !== null)
        assert.match(
          await page.innerText(`[data-corr="${name}"]`),
          new RegExp(`r = ${value < 0 ? '−|-' : ''}${Math.abs(value).toFixed(2)}`),
        );
    }
    await screenshot(page, 'cx-ex');

    // Teams: which eNPS the API withholds. A team serving customers carries cx_ex_link's
    // team_enps (NULL when withheld); any other team is withheld when enps leaves it out.
    const linkEnps = new Map(link.rows.map((r) => [r.team, r.team_enps]));
    const enpsByTeam = new Map(enps.rows.map((r) => [r.team, r.enps]));
    const teams = new Set([...linkEnps.keys(), ...enpsByTeam.keys(), ...staff.rows.map((r) => r.team)].filter((t) => t !== null));
    const expected = new Map();
    for (const team of teams) expected.set(team, linkEnps.has(team) ? linkEnps.get(team) : (enpsByTeam.get(team) ?? null));
    const withheld = [...expected]
      .filter(([, v]) => v === null)
      .map(([t]) => t)
      .sort();
    // The small world of tests/e2e/console.rs has such teams (the quickstart world has none).
    assert.ok(withheld.length > 0, 'the sample lake has a team under the eNPS privacy threshold');

    const rows = await page.$$eval('tr[data-team]', (trs) =>
      trs.map((tr) => {
        const cell = tr.querySelector('[data-field="team_enps"]');
        return {
          team: tr.dataset.team,
          suppressed: cell.hasAttribute('data-suppressed'),
          value: cell.getAttribute('data-value'),
          text: cell.textContent.trim(),
        };
      }),
    );
    assert.deepEqual(rows.map((r) => r.team).sort(), [...teams].sort(), 'one row per team');
    assert.deepEqual(
      rows
        .filter((r) => r.suppressed)
        .map((r) => r.team)
        .sort(),
      withheld,
      'the withheld teams are marked suppressed',
    );
    for (const r of rows) {
      if (r.suppressed) {
        assert.equal(r.text, 'suppressed (< 5 answers)', `${r.team} shows no eNPS number`);
        assert.equal(r.value, null, `${r.team} carries no eNPS value`);
      } else {
        assert.equal(r.value, String(expected.get(r.team)), `${r.team} eNPS`);
      }
    }

    // Team view: one point per team with a shown eNPS and a customers' NPS; withheld ones are not plotted.
    const plotted = new Set(link.rows.filter((r) => r.team_enps !== null && r.team_customer_nps !== null).map((r) => r.team));
    await page.click('button[data-view="teams"]');
    const teamChart = await page.waitForSelector('[data-chart="cx-ex"][data-view="teams"]');
    assert.equal(await teamChart.getAttribute('data-points'), String(plotted.size), 'team points');
    assert.match(await page.evaluate(() => location.hash), /view=teams/);
    const titles = await page.$$eval('[data-chart="cx-ex"] title', (ts) => ts.map((t) => t.textContent).join('\n'));
    for (const team of withheld) assert.ok(!titles.includes(`${team}:`), `${team} is not plotted`);
    await screenshot(page, 'cx-ex-teams');
  },
};
