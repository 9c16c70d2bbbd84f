// Runs the browser tests: every `*.test.js` beside this file (CommonJS, exporting
// `{ 'test name': async (tools) => … }`), or those whose file or test name contains the first
// argument. One chromium for the run, fresh contexts per page; a test fails on a thrown error
// or on any console error, page error or blocked request it left behind. Exits 1 if any failed.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { launch, readEnv, session } = require('./harness');

/** A test that neither passes nor fails in this long is stopped and failed. */
const TEST_TIMEOUT_MS = Number(process.env.TXLAKE_TEST_TIMEOUT_MS || 120_000);

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function collect(filter) {
  const files = fs
    .readdirSync(__dirname)
    .filter((name) => name.endsWith('.test.js'))
    .sort();
  const tests = [];
  for (const file of files) {
    const suite = require(path.join(__dirname, file));
    for (const [name, fn] of Object.entries(suite)) {
      if (typeof fn !== 'function') continue;
      const label = `${file.replace(/\.test\.js$/, '')} › ${name}`;
      if (!filter || label.includes(filter)) tests.push({ label, fn });
    }
  }
  return tests;
}

async function main() {
  const filter = process.argv[2] || '';
  const env = readEnv();
  const tests = collect(filter);
  if (tests.length === 0) {
    console.error(`no browser test matches ${JSON.stringify(filter)}`);
    process.exit(1);
  }
  try {
    await fetch(`${env.url}/readyz`);
  } catch (error) {
    console.error(`the server at TXLAKE_URL=${env.url} does not answer: ${error.cause?.message || error.message}`);
    process.exit(1);
  }
  console.log(`browser tests against ${env.url} (${tests.length} tests)`);
  const browser = await launch();
  let failed = 0;
  for (const { label, fn } of tests) {
    const started = Date.now();
    const { tools, finish } = session(browser, env);
    let error = null;
    try {
      await withTimeout(fn(tools), TEST_TIMEOUT_MS, 'the test');
    } catch (thrown) {
      error = thrown;
    }
    const problems = await finish();
    const ms = Date.now() - started;
    if (!error && problems.length === 0) {
      console.log(`ok    ${label} (${ms} ms)`);
      continue;
    }
    failed += 1;
    console.log(`FAIL  ${label} (${ms} ms)`);
    if (error) console.log(indent(error.stack || String(error)));
    if (problems.length) console.log(indent(`the page reported:\n${problems.join('\n')}`));
  }
  await browser.close();
  console.log(`screenshots: ${env.screenshots}`);
  console.log(`browser: ${tests.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

function indent(text) {
  return text
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
