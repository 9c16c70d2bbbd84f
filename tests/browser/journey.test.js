// The customer journey map: the funnel's stages in stage order with the API's customers,
// conversion and MEDIAN days between stages (journey_funnel + time_to_stage) for the chosen
// segment, a segment change that changes them, the top paths (journey_paths), and the touchpoint
// grid's cells marked met/missed exactly as touchpoint_scorecard's meets_target says.
'use strict';

const { getMetric } = require('./harness');

/** A metric answer's rows as objects. */
const metric = async (api, key, query) => (await getMetric(api, key, query)).rows;

/** What the API says the funnel of `segment` is: [{stage, customers, conversion, median}] in stage order. */
async function expectedFunnel(api, key, segment) {
  const filter = segment === 'all' ? '' : `&segment=${encodeURIComponent(segment)}`;
  const funnel = await metric(api, key, `journey_funnel?group_by=stage,stage_order,previous_stage&order_by=stage_order${filter}`);
  const times = await metric(api, key, `time_to_stage?segment=${encodeURIComponent(segment)}&acquisition_channel=all`);
  const median = new Map(times.map((t) => [t.stage, t.median_days_from_previous]));
  return funnel
    .sort((a, b) => a.stage_order - b.stage_order)
    .map((r) => ({
      stage: r.stage,
      customers: String(r.customers),
      conversion: r.conversion_pct === null ? '' : String(r.conversion_pct),
      median: median.get(r.stage) === null || median.get(r.stage) === undefined ? '' : String(median.get(r.stage)),
    }));
}

/** The funnel as the page shows it, top to bottom. */
function shownFunnel(page) {
  return page.$$eval('[data-stage]', (rows) =>
    rows.map((r) => ({
      stage: r.dataset.stage,
      customers: r.dataset.customers,
      conversion: r.dataset.conversionPct,
      median: r.dataset.medianDays,
    })),
  );
}

async function expectedPaths(api, key, segment) {
  const rows = await metric(api, key, `journey_paths?segment=${encodeURIComponent(segment)}&order_by=path_rank&limit=10`);
  return rows.map((r) => ({ path: r.path, share: String(r.share_pct) }));
}

function shownPaths(page) {
  return page.$$eval('[data-path]', (items) => items.map((li) => ({ path: li.dataset.path, share: li.dataset.sharePct })));
}

module.exports = {
  'journey map: funnel, medians, paths and touchpoint cells equal the API, per segment': async ({
    open,
    ready,
    api,
    env,
    screenshot,
    assert,
  }) => {
    const key = env.viewerKey;
    const page = await open('/#/journey', { key });
    await ready(page, 'journey');

    const funnel = await expectedFunnel(api, key, 'all');
    assert.ok(funnel.length >= 3, 'the sample lake has a journey');
    assert.deepEqual(
      await shownFunnel(page),
      funnel,
      'stages in stage order with the API customers, conversion_pct, median_days_from_previous',
    );
    const text = await page.innerText('main');
    assert.match(text, /median/i, 'the days between stages are labelled as medians');

    const paths = await expectedPaths(api, key, 'all');
    assert.ok(paths.length > 0, 'the API has paths');
    assert.deepEqual(await shownPaths(page), paths, 'the top 10 paths in rank order with their share');

    // Every scorecard cell the API answers is on the grid, met or missed as the API says.
    const cells = await metric(api, key, 'touchpoint_scorecard?group_by=segment,touchpoint,metric');
    assert.ok(
      cells.some((c) => c.meets_target === true) || cells.some((c) => c.meets_target === false),
      'the API has touchpoint cells',
    );
    for (const c of cells) {
      const cell = await page.$(`[data-cell="${c.segment}|${c.touchpoint}|${c.metric}"]`);
      assert.ok(cell, `a cell for ${c.segment} ${c.touchpoint} ${c.metric}`);
      const meets = c.meets_target === null ? '' : String(c.meets_target);
      assert.equal(await cell.getAttribute('data-meets'), meets, `data-meets of ${c.segment} ${c.touchpoint} ${c.metric}`);
      if (meets) {
        // Not only colour: a mark and words say it too.
        assert.match(await cell.innerText(), meets === 'true' ? /✓\s*meets target/ : /✗\s*below target/);
      }
    }
    const judged = await page.$$eval('[data-cell][data-meets="true"], [data-cell][data-meets="false"]', (els) => els.length);
    assert.equal(judged, cells.filter((c) => c.meets_target !== null).length, 'no judged cell beyond the API answer');
    await screenshot(page, 'journey');

    // Another segment: the largest one by customers.
    const segments = await metric(api, key, 'journey_funnel?group_by=segment&order_by=-customers');
    const segment = segments.map((s) => s.segment).find((s) => s !== null);
    assert.ok(segment, 'the sample lake has segments');
    await page.selectOption('select[name="segment"]', segment);
    await page.waitForSelector(`main[data-page="journey"][data-state="ready"][data-segment="${segment}"]`);
    const segFunnel = await expectedFunnel(api, key, segment);
    assert.notDeepEqual(segFunnel, funnel, 'the segment has its own funnel');
    assert.deepEqual(await shownFunnel(page), segFunnel, `the funnel of ${segment}`);
    assert.deepEqual(await shownPaths(page), await expectedPaths(api, key, segment), `the paths of ${segment}`);
    assert.match(await page.evaluate(() => location.hash), new RegExp(`segment=${segment}`), 'the segment is in the URL');

    // The link with the segment opens it directly.
    const again = await open(`/#/journey?segment=${encodeURIComponent(segment)}`, { key });
    await ready(again, 'journey');
    assert.equal(await again.inputValue('select[name="segment"]'), segment);
    assert.deepEqual(await shownFunnel(again), segFunnel);
  },
};
