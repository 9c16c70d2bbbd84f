// `txlake bench console`: how fast the console's scorecard shows from a cold server start, and
// how big the console's assets are. Run through run.sh (`run.sh --bench --txlake BIN --config
// FILE [--runs N]`), which installs playwright-core and chromium.
//
// Each run spawns a fresh `txlake serve` and measures from that moment: the server answering
// (/readyz), the scorecard's first contentful paint, and `main[data-page=scorecard]` reaching
// data-state=ready (its numbers shown). The browser is launched once beforehand (a warm
// browser, as a user's is) and each run gets a fresh context: an empty HTTP cache.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { REPO, launch } = require('./harness');

const TARGET_MS = 1000;
const TARGET_COMPRESSED_BYTES = 500 * 1000;

function parseArgs(argv) {
  const args = { runs: 5, txlake: null, config: null, build: '' };
  for (let i = 0; i < argv.length; i += 1) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--runs': args.runs = Number(value); i += 1; break;
      case '--txlake': args.txlake = value; i += 1; break;
      case '--config': args.config = value; i += 1; break;
      case '--build': args.build = value; i += 1; break;
      default: throw new Error(`bench.js: unknown argument ${argv[i]}`);
    }
  }
  if (!args.txlake || !args.config || !(args.runs >= 1)) {
    throw new Error('usage: bench.js --txlake BIN --config FILE [--runs N] (txlake bench console runs it)');
  }
  return args;
}

/** Spawns `txlake serve` on a free loopback port; resolves `{child, base, spawnedAt}` once it printed its address. */
function startServer(args) {
  const spawnedAt = Date.now();
  const child = spawn(args.txlake, ['serve', '--quiet', '--config', args.config, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: '' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (match) resolve({ child, base: match[0], spawnedAt });
    });
    child.on('exit', (code) => reject(new Error(`txlake serve exited (${code}) before listening:\n${stdout}${stderr}`)));
  });
}

async function stopServer(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Polls /readyz until it answers 200; resolves with Date.now() then. */
async function untilAnswering(base) {
  for (;;) {
    try {
      const response = await fetch(`${base}/readyz`);
      await response.arrayBuffer();
      if (response.ok) return Date.now();
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** In the page, before anything runs: note when the scorecard first shows ready. */
function watchReady() {
  const seen = () => document.querySelector('main[data-page="scorecard"][data-state="ready"]');
  new MutationObserver((_, observer) => {
    if (window.__txlakeReadyAt === undefined && seen()) {
      window.__txlakeReadyAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
}

/** One cold run: `{answering, fcp, ready, navFcp, navReady}` in ms, and what the page loaded. */
async function coldRun(browser, args) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  try {
    await context.route('**', (route) => {
      const host = new URL(route.request().url()).hostname;
      return host === '127.0.0.1' ? route.continue() : route.abort('blockedbyclient');
    });
    await context.addInitScript(watchReady);
    const page = await context.newPage();
    const loaded = [];
    page.on('response', (response) => loaded.push(response));
    const server = await startServer(args);
    try {
      const answeredAt = await untilAnswering(server.base);
      await page.goto(`${server.base}/#/scorecard`, { waitUntil: 'commit' });
      const shown = await page.waitForSelector('main[data-page="scorecard"][data-state="ready"], form#key-form', { timeout: 60_000 });
      if ((await shown.evaluate((el) => el.tagName)) === 'FORM') {
        throw new Error('the console asks for an API key: benchmark a config without [[auth.keys]] (local mode, as the quickstart writes)');
      }
      const timing = await page.evaluate(() => ({
        origin: performance.timeOrigin,
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
        ready: window.__txlakeReadyAt ?? null,
      }));
      if (timing.fcp === null || timing.ready === null) throw new Error(`the page reported no paint timing: ${JSON.stringify(timing)}`);
      const sinceSpawn = (pageMs) => timing.origin + pageMs - server.spawnedAt;
      const sizes = await transferSizes(loaded);
      return {
        answering: answeredAt - server.spawnedAt,
        fcp: sinceSpawn(timing.fcp),
        ready: sinceSpawn(timing.ready),
        navFcp: timing.fcp,
        navReady: timing.ready,
        sizes,
      };
    } finally {
      await stopServer(server.child);
    }
  } finally {
    await context.close();
  }
}

/** `[{path, raw, compressed}]` of the responses a page received (raw: decoded body bytes). */
async function transferSizes(responses) {
  const out = [];
  for (const response of responses) {
    const url = new URL(response.url());
    const raw = (await response.body().catch(() => Buffer.alloc(0))).length;
    const sizes = await response.request().sizes();
    out.push({ path: url.pathname + url.search, raw, compressed: sizes.responseBodySize });
  }
  return out;
}

/** GETs `path` asking for gzip; `{status, compressed}`: the bytes that came over the wire. */
function fetchCompressed(base, target) {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${target}`, { headers: { 'accept-encoding': 'gzip' } }, (response) => {
        let compressed = 0;
        response.on('data', (chunk) => { compressed += chunk.length; });
        response.on('end', () => resolve({ status: response.statusCode, compressed }));
      })
      .on('error', reject);
  });
}

/** Every file under console/ as a path relative to it. */
function consoleFiles(dir = path.join(REPO, 'console'), prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.name === 'node_modules') return [];
    return entry.isDirectory() ? consoleFiles(path.join(dir, entry.name), rel) : [rel];
  });
}

/**
 * The console's assets as served, less the /docs renderer (the vendored files /docs loads):
 * `{files, raw, compressed, docs: {files, raw, compressed}}`.
 */
async function assetTotals(browser, args) {
  const server = await startServer(args);
  const context = await browser.newContext();
  try {
    await untilAnswering(server.base);
    const page = await context.newPage();
    const docsLoaded = [];
    page.on('response', (response) => docsLoaded.push(response));
    await page.goto(`${server.base}/docs`, { waitUntil: 'networkidle' });
    const docsSizes = await transferSizes(docsLoaded);
    const renderer = new Set(docsSizes.map((s) => s.path).filter((p) => p.startsWith('/console/vendor/')));
    const totals = { files: 0, raw: 0, compressed: 0 };
    for (const rel of consoleFiles()) {
      const target = rel === 'index.html' ? '/' : `/console/${rel}`;
      if (renderer.has(target)) continue;
      const { status, compressed } = await fetchCompressed(server.base, target);
      if (status !== 200) continue; // not served: package.json, notes
      totals.files += 1;
      totals.raw += fs.statSync(path.join(REPO, 'console', rel)).size;
      totals.compressed += compressed;
    }
    const docs = sum(docsSizes);
    return { ...totals, docs: { ...docs, renderer: [...renderer] } };
  } finally {
    await context.close();
    await stopServer(server.child);
  }
}

function sum(sizes) {
  return sizes.reduce((t, s) => ({ files: t.files + 1, raw: t.raw + s.raw, compressed: t.compressed + s.compressed }), {
    files: 0,
    raw: 0,
    compressed: 0,
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const ms = (value) => `${Math.round(value)} ms`.padStart(8);
const kB = (bytes) => (bytes < 1000 ? `${bytes} B` : `${(bytes / 1000).toFixed(1)} kB`);
const verdict = (ok) => (ok ? 'meets the target' : 'MISSES the target');

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const browser = await launch();
  try {
    console.log(`bench console: ${args.runs} cold starts of txlake serve --config ${args.config}${args.build ? ` (${args.build} build)` : ''}`);
    console.log('run   server answering   first contentful paint   scorecard ready   (paint, ready after navigation)');
    const runs = [];
    for (let i = 1; i <= args.runs; i += 1) {
      const run = await coldRun(browser, args);
      runs.push(run);
      console.log(`${String(i).padEnd(4)}  ${ms(run.answering)}           ${ms(run.fcp)}                 ${ms(run.ready)}          (${Math.round(run.navFcp)}, ${Math.round(run.navReady)} ms)`);
    }
    console.log('from the spawn of the server process, median (range), target < 1 s:');
    for (const [label, key] of [['server answering', 'answering'], ['first contentful paint', 'fcp'], ['scorecard ready (numbers shown)', 'ready']]) {
      const values = runs.map((r) => r[key]);
      const m = median(values);
      const note = key === 'answering' ? '' : `   ${verdict(m < TARGET_MS)}`;
      console.log(`  ${label.padEnd(32)} ${ms(m)}  (${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))} ms)${note}`);
    }

    const loaded = runs[runs.length - 1].sizes;
    const isData = (s) => s.path.startsWith('/api/');
    const assets = sum(loaded.filter((s) => !isData(s)));
    const data = sum(loaded.filter(isData));
    console.log(`what the scorecard loads (target < ${kB(TARGET_COMPRESSED_BYTES)} compressed):`);
    console.log(`  assets   ${assets.files} files   ${kB(assets.raw)} raw   ${kB(assets.compressed)} compressed   ${verdict(assets.compressed < TARGET_COMPRESSED_BYTES)}`);
    console.log(`  API data ${data.files} requests   ${kB(data.raw)} raw   ${kB(data.compressed)} compressed`);
    for (const s of loaded) console.log(`    ${s.path.padEnd(60)} ${kB(s.raw).padStart(9)} ${kB(s.compressed).padStart(9)}`);

    const all = await assetTotals(browser, args);
    console.log('every console asset (all pages), without the /docs renderer:');
    console.log(`  ${all.files} files   ${kB(all.raw)} raw   ${kB(all.compressed)} compressed   ${verdict(all.compressed < TARGET_COMPRESSED_BYTES)}`);
    console.log(`the /docs page: ${all.docs.files} responses   ${kB(all.docs.raw)} raw   ${kB(all.docs.compressed)} compressed (renderer: ${all.docs.renderer.join(', ') || 'none under /console/vendor/'})`);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
