// The Connections page: every connection and the recent runs as the API lists them; a viewer
// gets no sync button (and the API refuses the viewer's sync); an admin starts a sync, sees its
// progress live, and the finished run appears in the runs list as succeeded.
'use strict';

module.exports = {
  'a viewer sees connections and runs but no sync button, and cannot start a sync': async ({ open, ready, api, env, assert }) => {
    const { connections } = (await api('/api/v1/connections', { key: env.viewerKey })).json;
    const { runs } = (await api('/api/v1/syncs', { key: env.viewerKey })).json;
    assert.ok(connections.length > 0, 'the sample lake has a connection');
    assert.ok(runs.length > 0, 'the sample lake was synced');

    const page = await open('/#/connections', { key: env.viewerKey });
    await ready(page, 'connections');
    for (const connection of connections) {
      const card = page.locator(`section[data-connection="${connection.name}"]`);
      assert.equal(await card.count(), 1, `a card for ${connection.name}`);
      assert.match(await card.innerText(), new RegExp(connection.connector));
      if (connection.last_run) {
        assert.equal(await card.locator('[data-last-run]').getAttribute('data-last-run'), connection.last_run.run_id);
      }
    }
    assert.equal(await page.locator('button[data-action="sync"]').count(), 0, 'no sync button for a viewer');
    assert.match(await page.textContent('[data-admin-note]'), /admin/);
    for (const run of runs.slice(0, 50)) {
      assert.equal(await page.locator(`tr[data-run-id="${run.run_id}"]`).getAttribute('data-status'), run.status);
    }

    const name = connections[0].name;
    const refused = await api(`/api/v1/connections/${name}/sync`, { key: env.viewerKey, method: 'POST' });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, 'forbidden');
  },

  'an admin starts a sync, follows it, and the run appears as succeeded': async ({ open, ready, api, env, assert, screenshot }) => {
    const { connections } = (await api('/api/v1/connections', { key: env.adminKey })).json;
    // A connection that synced fine before (the sample lake's) is expected to again.
    const { name } = connections.find((c) => c.last_run?.status === 'succeeded') || connections[0];
    const page = await open('/#/connections', { key: env.adminKey });
    await ready(page, 'connections');
    const button = page.locator(`button[data-action="sync"][data-connection="${name}"]`);
    assert.equal(await button.count(), 1, 'an admin gets the button');
    await button.click();

    // Live progress: the run's id, status and records appear in the card.
    const progress = page.locator(`section[data-connection="${name}"] [data-progress]`);
    await progress.locator('[data-status]').first().waitFor();
    const runId = await progress.getAttribute('data-run-id');
    assert.ok(runId, 'the progress names the run');
    assert.match(await progress.innerText(), /records/);

    // Finished: the runs list (reloaded) has it as succeeded, as the API does.
    await page.waitForSelector(`tr[data-run-id="${runId}"][data-status="succeeded"]`, { timeout: 90_000 });
    await ready(page, 'connections');
    assert.equal(await progress.getAttribute('data-status'), 'succeeded');
    const run = (await api(`/api/v1/syncs/${runId}`, { key: env.adminKey })).json;
    assert.equal(run.status, 'succeeded');
    assert.equal(await page.locator(`tr[data-run-id="${runId}"] td[data-field="records"]`).getAttribute('data-value'), String(run.records));
    assert.equal(await button.isEnabled(), true, 'the button is back once the run finished');
    // The card's last run is this one, with each stream's outcome as the API has it.
    const card = page.locator(`section[data-connection="${name}"]`);
    assert.equal(await card.locator('[data-last-run]').getAttribute('data-last-run'), runId);
    assert.ok(run.stream_runs.length > 0, 'the API lists the streams of the run');
    const streams = await card.locator('[data-last-run] li[data-stream]').evaluateAll((els) =>
      els.map((e) => [e.dataset.stream, e.dataset.status]));
    assert.deepEqual(streams, run.stream_runs.map((s) => [s.stream, s.status]));
    // shell.test.js writes connections.png (a viewer's view); this is the admin's after a sync.
    await screenshot(page, 'connections-sync');
  },
};
