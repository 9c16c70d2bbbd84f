// The vendored third-party files (console/vendor/) are exactly those of the npm packages that
// console/package.json and its lockfile pin: run.sh installs console/package-lock.json with
// `npm ci` into TXLAKE_CONSOLE_NODE_MODULES, and every file listed in console/vendor/README.md
// is compared byte for byte, in the repository and as the server serves it.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { REPO } = require('./harness');

const CONSOLE = path.join(REPO, 'console');
const VENDOR = path.join(CONSOLE, 'vendor');

/** The README's table rows: `{files, package, version, from}`, files and from paired by index. */
function vendoredFiles() {
  const readme = fs.readFileSync(path.join(VENDOR, 'README.md'), 'utf8');
  const rows = [];
  for (const line of readme.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    if (cells.length < 5 || !cells[0].includes('`')) continue;
    const ticks = (cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const files = ticks(cells[0]);
    const from = ticks(cells[4]);
    const pkg = cells[1].replace(/^\[([^\]]+)\].*$/, '$1').replace(/`/g, '');
    if (files.length !== from.length) {
      throw new Error(`console/vendor/README.md: ${files.length} files but ${from.length} sources in: ${line}`);
    }
    files.forEach((file, i) => rows.push({ file, pkg, version: cells[2], from: from[i] }));
  }
  return { readme, rows };
}

/** Every file under console/vendor/ but the README and update.sh (which copies them), relative to it. */
function filesUnder(dir, prefix = '') {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return filesUnder(path.join(dir, entry.name), rel);
    return rel === 'README.md' || rel === 'update.sh' ? [] : [rel];
  });
}

function nodeModules() {
  const dir = process.env.TXLAKE_CONSOLE_NODE_MODULES;
  if (!dir || !fs.existsSync(dir)) {
    throw new Error('TXLAKE_CONSOLE_NODE_MODULES is not set: run these tests through tests/browser/run.sh');
  }
  return dir;
}

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

module.exports = {
  'every vendored file is listed in console/vendor/README.md at the version console/package.json and its lockfile pin': async ({
    assert,
  }) => {
    const { readme, rows } = vendoredFiles();
    const pins = JSON.parse(fs.readFileSync(path.join(CONSOLE, 'package.json'), 'utf8')).dependencies;
    assert.deepEqual(
      filesUnder(VENDOR).sort(),
      rows.map((row) => row.file).sort(),
      'the files under console/vendor/ and those the README lists',
    );
    assert.ok(rows.some((row) => row.pkg === 'uplot'), 'uPlot is vendored');
    for (const row of rows) {
      // A direct dependency is pinned in package.json; one it depends on, by the lockfile only.
      if (row.pkg in pins) {
        assert.equal(pins[row.pkg], row.version, `console/package.json pins ${row.pkg} at the README's version`);
      }
      const installed = JSON.parse(fs.readFileSync(path.join(nodeModules(), row.pkg, 'package.json'), 'utf8'));
      assert.equal(installed.version, row.version, `npm ci installed ${row.pkg} ${row.version}`);
      // The README's sha256 list, when it has one, names this file with its hash.
      const listed = readme.match(new RegExp(`([0-9a-f]{64})\\s+${row.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm'));
      if (listed) assert.equal(listed[1], sha256(fs.readFileSync(path.join(VENDOR, row.file))), `sha256 of ${row.file}`);
    }
  },

  'the vendored files are byte-identical to the pinned npm packages, committed and served': async ({ env, assert }) => {
    const { rows } = vendoredFiles();
    for (const row of rows) {
      const expected = fs.readFileSync(path.join(nodeModules(), row.pkg, row.from));
      const committed = fs.readFileSync(path.join(VENDOR, row.file));
      assert.ok(committed.equals(expected), `console/vendor/${row.file} differs from ${row.pkg}@${row.version}/${row.from}`);
      // What the binary embedded and serves (fetch undoes the gzip transfer encoding).
      const response = await fetch(`${env.url}/console/vendor/${row.file}`);
      assert.equal(response.status, 200, `GET /console/vendor/${row.file}`);
      const served = Buffer.from(await response.arrayBuffer());
      assert.ok(served.equals(expected), `the served /console/vendor/${row.file} differs from ${row.pkg}@${row.version}/${row.from}`);
    }
  },
};
