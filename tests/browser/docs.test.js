// The API reference at /docs works offline: with every request beyond 127.0.0.1 blocked (the
// harness), the vendored Scalar build renders every operation of the server's /openapi.json,
// and everything the page loaded came from this server.
'use strict';

/** `text` without Markdown backticks and with runs of white space as one space. */
const plain = (text) => text.replace(/`/g, '').replace(/\s+/g, ' ').trim();

/** Every operation of an OpenAPI document: `{method, path, summary}` (summary: its first line). */
function operations(spec) {
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => methods.includes(method))
      .map(([method, op]) => ({ method, path, summary: plain((op.summary || '').split('\n')[0]) })),
  );
}

module.exports = {
  '/docs is one page whose every URL is relative to it (works behind a path prefix)': async ({ api, assert }) => {
    const docs = await api('/docs');
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-type'), /^text\/html/);
    const urls = [...docs.text.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.ok(urls.includes('console/vendor/scalar/standalone.js'), `the vendored Scalar is loaded: ${urls}`);
    for (const url of urls) {
      assert.doesNotMatch(url, /^(?:[a-z]+:|\/)/i, `${url} in /docs is absolute`);
    }
    const script = await api('/console/docs.js');
    assert.equal(script.status, 200);
    assert.match(script.text, /url: 'openapi\.json'/, 'the renderer is pointed at openapi.json, relative to /docs');
  },

  '/docs renders every operation of /openapi.json with the internet blocked': async ({ open, api, screenshot, assert }) => {
    const spec = (await api('/openapi.json')).json;
    const expected = operations(spec);
    assert.ok(expected.length >= 12, `${expected.length} operations in /openapi.json`);

    const page = await open('/docs');
    // Scalar renders after fetching the document; wait until every operation's summary and
    // path are on the page (body text: Scalar uses no shadow DOM), then say which are not.
    const missing = (texts) => {
      const shown = document.body.innerText.replace(/`/g, '').replace(/\s+/g, ' ');
      return texts.filter((text) => !shown.includes(text));
    };
    const texts = [...new Set(expected.flatMap((op) => [op.summary, op.path]))];
    await page
      .waitForFunction((want) => {
        const shown = document.body.innerText.replace(/`/g, '').replace(/\s+/g, ' ');
        return want.every((text) => shown.includes(text));
      }, texts, { timeout: 30_000 })
      .catch(() => {});
    assert.deepEqual(await page.evaluate(missing, texts), [], 'operations missing from the rendered /docs');
    assert.equal(await page.title(), 'txlake API reference');
    // Requests tried from the page go to the server that served it (Scalar shows it).
    const origin = new URL(page.url()).origin;
    assert.ok((await page.evaluate(() => document.body.innerText)).includes(origin), `the page names ${origin} as its server`);

    // The sidebar lists every operation (all tags open).
    const sidebar = await page.locator('nav, aside').first().innerText();
    for (const op of expected) {
      assert.ok(plain(sidebar).includes(op.summary), `the sidebar lists ${op.method.toUpperCase()} ${op.path}`);
    }

    // Everything the page loaded (scripts, the document, styles, fonts, images) came from this
    // server; the harness also fails the test on any request it had to block.
    const resources = await page.evaluate(() => performance.getEntriesByType('resource').map((r) => r.name));
    assert.ok(resources.some((url) => url.endsWith('/console/vendor/scalar/standalone.js')), 'Scalar came from /console/vendor');
    assert.ok(resources.some((url) => url.endsWith('/openapi.json')), 'the document came from /openapi.json');
    for (const url of resources) {
      if (!url.startsWith('data:') && !url.startsWith('blob:')) assert.ok(url.startsWith(origin), `${url} is not from this server`);
    }
    // No style sheet points at a font or image elsewhere (Scalar's default fonts are off).
    const external = await page.evaluate(() =>
      [...document.querySelectorAll('style')].flatMap((style) => style.textContent.match(/url\(["']?https?:[^)]*\)/g) || []),
    );
    assert.deepEqual(external, [], 'style sheets reference nothing on the internet');

    await screenshot(page, 'docs');
  },

  "an operation's Test Request sends it to this server from the page, not to Scalar's web client": async ({
    open,
    env,
    assert,
  }) => {
    // Without a key the server answers 401, which the browser logs as a failed load.
    const page = await open('/docs', { allowConsoleErrors: /status of 401/ });
    await page.getByText('The metric catalog').first().waitFor();
    assert.equal(await page.getByText('Open API Client').count(), 0, 'no button opening client.scalar.com');
    await page.getByRole('button', { name: /test request/i }).first().click();
    const sent = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/v1/metrics');
    await page.getByRole('button', { name: /^send/i }).first().click();
    const response = await sent;
    assert.equal(new URL(response.url()).origin, new URL(env.url).origin, 'the request went to this server');
    assert.ok([200, 401].includes(response.status()), `GET /api/v1/metrics answered ${response.status()}`);
  },
};
