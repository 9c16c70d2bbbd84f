// The console shell on a server with API keys: the key form, a refused key, signing in with
// the viewer key through the form, every page of the nav reaching its ready state (a
// screenshot of each, `<route>.png`), and signing out.
'use strict';

/** The routes of the contract, in nav order. */
const ROUTES = ['scorecard', 'trends', 'journey', 'cx-ex', 'connections'];

/** The browser logs each 401 the sign-in gets as a failed resource load; those are expected. */
const UNAUTHORIZED = /status of 401/;

async function submitKey(page, key) {
  await page.fill('form#key-form input[name="key"]', key);
  await page.click('form#key-form button[type="submit"]');
}

module.exports = {
  'sign in with the key form, visit every page from the nav, sign out': async ({ open, ready, env, screenshot, assert }) => {
    assert.ok(env.viewerKey, 'TXLAKE_VIEWER_KEY is set');
    const page = await open('/', { allowConsoleErrors: UNAUTHORIZED });
    await page.waitForSelector('form#key-form input[name="key"]');
    assert.equal(await page.isVisible('[data-session]'), false, 'no session is shown before signing in');
    await screenshot(page, 'sign-in');

    await submitKey(page, 'txl_not-a-key-of-this-server');
    const refused = await page.waitForSelector('form#key-form .error');
    assert.match(await refused.innerText(), /\S/, 'the refusal says something');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('txlake.key')), null, 'a refused key is not kept');

    await submitKey(page, env.viewerKey);
    const who = await page.waitForSelector('[data-session]:visible');
    assert.equal(await who.getAttribute('data-role'), 'viewer');
    assert.match(await who.innerText(), /viewer/);
    await ready(page, 'scorecard');

    const nav = await page.$$eval('a[data-nav]', (links) => links.map((a) => a.dataset.nav));
    assert.deepEqual(nav, ROUTES, 'the nav links');
    for (const route of nav) {
      await page.click(`a[data-nav="${route}"]`);
      await ready(page, route);
      assert.equal(await page.getAttribute(`a[data-nav="${route}"]`, 'aria-current'), 'page', `${route} is marked current`);
      await screenshot(page, route);
    }

    await page.click('button[data-action="sign-out"]');
    await page.waitForSelector('form#key-form input[name="key"]');
    assert.equal(await page.isVisible('[data-session]'), false, 'the session is gone');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('txlake.key')), null, 'the key is forgotten');
    // A reload stays signed out.
    await page.reload();
    await page.waitForSelector('form#key-form input[name="key"]');
  },

  'a stored key opens the page of the link directly, with no console errors': async ({ open, ready, env, assert }) => {
    assert.ok(env.adminKey, 'TXLAKE_ADMIN_KEY is set');
    for (const route of ROUTES) {
      const page = await open(`/#/${route}`, { key: env.adminKey });
      await ready(page, route);
      assert.equal(await page.getAttribute('[data-session]', 'data-role'), 'admin');
      assert.match(await page.title(), /txlake/);
    }
  },

  'a stored key the server refuses leads back to the key form, saying so': async ({ open, assert }) => {
    const page = await open('/#/trends', { key: 'txl_revoked-key', allowConsoleErrors: UNAUTHORIZED });
    const message = await page.waitForSelector('form#key-form .error');
    assert.match(await message.innerText(), /not accepted/);
    assert.equal(await page.getAttribute('main', 'data-page'), 'trends', 'the route is kept for after signing in');
  },
};
