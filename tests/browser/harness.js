// The browser harness: Debian's chromium through playwright-core, a fresh context per page,
// nothing but 127.0.0.1/localhost reachable, and every console error, page error and blocked
// request collected so that a test fails on them (see README.md beside this file).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const REPO = path.resolve(__dirname, '..', '..');

/** Flags of every launch: headless, no sandbox (root in CI), nothing phoning home. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Only loopback names resolve: a request the route below misses still goes nowhere.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `{url, viewerKey, adminKey, screenshots}` from TXLAKE_URL, TXLAKE_VIEWER_KEY, … */
function readEnv() {
  const url = (process.env.TXLAKE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
  return {
    url,
    viewerKey: process.env.TXLAKE_VIEWER_KEY || null,
    adminKey: process.env.TXLAKE_ADMIN_KEY || null,
    screenshots: process.env.TXLAKE_SCREENSHOTS || path.join(REPO, 'target', 'browser-screenshots'),
  };
}

/** Launches Debian's chromium (Playwright gives each launch a fresh temporary profile). */
function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

/** Whether `url` may be loaded: loopback hosts and in-page schemes only. */
function isLocal(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (['data:', 'blob:', 'about:'].includes(parsed.protocol)) return true;
  return LOCAL_HOSTS.has(parsed.hostname) || LOCAL_HOSTS.has(`[${parsed.hostname}]`);
}

/**
 * The tools one test gets, and what it left behind. `finish()` closes its contexts and returns
 * the problems (console errors, page errors, blocked requests) the test did not allow.
 */
function session(browser, env) {
  const contexts = [];
  const problems = [];

  /** A page at `env.url + target` in a fresh context; resolves once the document has loaded. */
  async function open(target, { key = null, allowConsoleErrors = false, viewport } = {}) {
    const context = await browser.newContext({ viewport: viewport || { width: 1440, height: 900 } });
    contexts.push(context);
    // A debug-build server beside a parallel `cargo test` can be slow: waits are generous,
    // since no test asserts speed.
    context.setDefaultTimeout(60_000);
    // allowConsoleErrors: true allows every console and page error; a RegExp only the console
    // errors whose text matches (e.g. the 401 a wrong key is answered with).
    const allowed = (kind, text) =>
      kind !== 'blocked request' &&
      (allowConsoleErrors === true || (kind === 'console error' && allowConsoleErrors instanceof RegExp && allowConsoleErrors.test(text)));
    const report = (kind, text) => {
      if (!allowed(kind, text)) problems.push(`${kind}: ${text}`);
    };
    await context.route('**', (route) => {
      const url = route.request().url();
      if (isLocal(url)) return route.continue();
      report('blocked request', url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') {
        const where = message.location();
        const at = where && where.url ? ` (${where.url}:${where.lineNumber})` : '';
        report('console error', `${message.text()}${at}`);
      }
    });
    page.on('pageerror', (error) => report('page error', error.stack || error.message));
    // The key goes in before the first document runs, and only for that one: a reload after
    // a sign-out must not sign the user back in.
    const keyScript =
      key &&
      (await page.addInitScript((value) => {
        try {
          sessionStorage.setItem('txlake.key', value);
        } catch {
          // about:blank has no storage; the real document will.
        }
      }, key));
    await page.goto(env.url + target, { waitUntil: 'load' });
    if (keyScript) await keyScript.dispose();
    return page;
  }

  /** A request straight to the server (Node fetch): `{status, json, text, headers}`. */
  async function api(target, { key = null, method = 'GET', body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (key) init.headers.authorization = `Bearer ${key}`;
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const response = await fetch(env.url + (target.startsWith('/') ? target : `/${target}`), init);
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON (an asset, CSV): `text` has it.
    }
    return { status: response.status, json, text, headers: response.headers };
  }

  /** A full-page PNG `<name>.png` in env.screenshots; returns its path. */
  async function screenshot(page, name) {
    fs.mkdirSync(env.screenshots, { recursive: true });
    const file = path.join(env.screenshots, `${name.replace(/[^A-Za-z0-9_.-]+/g, '_')}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  /**
   * Waits until `main[data-page=route]` leaves the loading state; resolves with its <main> when
   * ready, throws the page's own error text when the page shows an error.
   */
  async function ready(page, route, { timeout = 60_000 } = {}) {
    const selector = `main[data-page="${route}"][data-state="ready"], main[data-page="${route}"][data-state="error"]`;
    const main = await page.waitForSelector(selector, { timeout });
    if ((await main.getAttribute('data-state')) === 'error') {
      const shown = await main.$('.error');
      const text = shown ? await shown.innerText() : await main.innerText();
      throw new Error(`page ${route} shows an error: ${text.trim()}`);
    }
    return main;
  }

  async function finish() {
    await Promise.all(contexts.map((context) => context.close().catch(() => {})));
    return problems;
  }

  return { tools: { open, api, env, screenshot, ready, assert }, finish };
}

/** A REST answer's rows (arrays in column order) as objects keyed by column name. */
function rowsOf(answer) {
  const names = answer.columns.map((c) => c.name);
  return answer.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i]])));
}

/**
 * `GET /api/v1/metrics/<query>` (e.g. `nps?group_by=segment`) through a test's `api` tool:
 * `{columns: [names], rows: [objects]}`; throws unless the answer is 200.
 */
async function getMetric(api, key, query) {
  const { status, json, text } = await api(`/api/v1/metrics/${query}`, { key });
  if (status !== 200) throw new Error(`GET /api/v1/metrics/${query}: ${status} ${text}`);
  return { columns: json.columns.map((c) => c.name), rows: rowsOf(json) };
}

module.exports = { rowsOf, getMetric, CHROMIUM_ARGS, REPO, isLocal, launch, readEnv, session };
