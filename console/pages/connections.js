// Connections: every configured connection with its streams and latest run, the recent sync
// runs with their records and errors, and (admin key) a button that starts a sync and follows
// it live: records so far, elapsed time and records per second, until it finishes.

import { h, fmt, fmtInt, fmtDate, dataTable } from '../lib/dom.js';

export const title = 'Connections';

/** How often a running sync is asked about. */
const POLL_MS = 1000;
/** Runs listed at most. */
const RUNS_SHOWN = 50;

/** Seconds between two RFC 3339 times (or until now), never negative. */
function seconds(from, to) {
  const end = to ? new Date(to).getTime() : Date.now();
  return Math.max(0, (end - new Date(from).getTime()) / 1000);
}

/** A duration in words: 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min. */
function fmtDuration(s) {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${fmt(s, { digits: 1 })} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** A run's status as a badge. */
function badge(status) {
  return h('span', { class: `run-status run-status-${status}`, 'data-status': status }, status);
}

/** The streams of a run: name, status, records, and an error in full. */
function streamList(streams, live) {
  if (!streams.length) return '';
  return h('ul', { class: 'stream-runs' }, streams.map((s) => h('li', { 'data-stream': s.stream, 'data-status': s.status },
    h('code', {}, s.stream), ' ',
    live && s.status === 'running' ? h('span', { class: 'muted' }, 'reading') : badge(s.status), ' ',
    h('span', { class: 'num' }, `${fmtInt(s.records)} records`),
    s.error ? h('pre', { class: 'run-error' }, s.error) : null)));
}

/** Records, elapsed and rate of a run, in one line. */
function progressText(run) {
  const elapsed = seconds(run.started_at, run.finished_at);
  const rate = elapsed > 0 ? run.records / elapsed : null;
  return `${fmtInt(run.records)} records · ${fmtDuration(elapsed)}${rate === null ? '' : ` · ${fmtInt(rate)} records/s`}`;
}

export async function render(main, ctx) {
  const admin = ctx.session.role === 'admin';
  // Runs followed live, by connection: {runId, timer}.
  const following = new Map();
  let left = false;
  ctx.onLeave(() => {
    left = true;
    for (const { timer } of following.values()) clearTimeout(timer);
    following.clear();
  });

  const list = h('div', { class: 'connections' });
  const runsBox = h('section', { class: 'card runs' });
  main.append(
    h('header', { class: 'page-head' }, h('h1', {}, 'Connections')),
    h('p', { class: 'lede' }, 'The sources txlake syncs into the lake, and the runs that did it.',
      admin ? null : h('span', { class: 'hint', 'data-admin-note': '' },
        ' Starting a sync needs an admin API key; this key is a ', h('strong', {}, ctx.session.role), ' key.')),
    list, runsBox);

  // The runs listed, kept so that a followed run's row can be updated as it goes.
  let runsShown = [];

  /** Loads connections and runs and shows them; follows any run still going. */
  async function refresh() {
    const [{ connections }, { runs }] = await Promise.all([
      ctx.api.get('api/v1/connections'), ctx.api.get('api/v1/syncs')]);
    if (left) return;
    runsShown = runs;
    list.replaceChildren(...(connections.length ? connections.map((c) => card(c))
      : [h('p', { class: 'empty card' }, 'No connections are configured: add one under [connections.<name>] in txlake.toml.')]));
    showRuns(runs);
    for (const connection of connections) {
      const running = runs.find((r) => r.connection === connection.name && r.status === 'running');
      if (running) follow(connection.name, running.run_id);
    }
  }

  function card(connection) {
    const last = connection.last_run;
    // Without a selection the connection syncs every stream; the last run names them.
    const ran = last?.stream_runs?.map((s) => s.stream) || [];
    const streams = connection.streams?.length
      ? h('ul', { class: 'streams' }, connection.streams.map((s) => h('li', {}, h('code', {}, s))))
      : h('span', {}, h('span', { class: 'muted' }, "all of the connector's streams"), ran.length ? ': ' : '',
        ran.length ? h('ul', { class: 'streams inline' }, ran.map((s) => h('li', {}, h('code', {}, s)))) : null);
    const errorShown = last?.stream_runs?.some((s) => s.error === last.error);
    const button = admin
      ? h('button', { type: 'button', class: 'primary', 'data-action': 'sync', 'data-connection': connection.name,
        disabled: connection.running || following.has(connection.name) }, 'Sync now')
      : null;
    const message = h('div', { class: 'sync-message', 'data-sync-message': '', role: 'status', 'aria-live': 'polite' });
    const progress = h('div', { class: 'progress', 'data-progress': '', hidden: true, 'aria-live': 'polite' });
    if (button) button.addEventListener('click', () => start(connection.name, button, message));
    return h('section', { class: 'card connection', 'data-connection': connection.name, 'data-running': String(connection.running) },
      h('div', { class: 'connection-head' },
        h('h2', {}, connection.name),
        connection.running ? badge('running') : null,
        button),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Connector'), h('dd', {}, h('code', {}, connection.connector)),
        h('dt', {}, 'Streams'), h('dd', {}, streams),
        h('dt', {}, 'Last run'), h('dd', { 'data-last-run': last ? last.run_id : '' }, last ? lastRun(last) : h('span', { class: 'muted' }, 'never synced'))),
      progress, message,
      last?.error && !errorShown ? h('div', { class: 'run-error' }, h('strong', {}, 'Error of the last run'), h('pre', {}, last.error)) : null);
  }

  function lastRun(run) {
    const streams = run.stream_runs || [];
    const failed = streams.filter((s) => s.status !== 'succeeded');
    return h('div', {},
      h('span', {}, badge(run.status), ' ',
        `${fmtInt(run.records)} records in ${run.streams} stream${run.streams === 1 ? '' : 's'} · `,
        `started ${fmtDate(run.started_at)}, finished ${fmtDate(run.finished_at)} (${fmtDuration(seconds(run.started_at, run.finished_at))})`),
      streams.length ? h('details', { class: 'stream-details', open: failed.length > 0 },
        h('summary', {}, failed.length ? `Streams (${failed.length} not succeeded)` : 'Streams'),
        streamList(streams, false)) : null);
  }

  function showRuns(runs) {
    const shown = runs.slice(0, RUNS_SHOWN);
    runsBox.replaceChildren(
      h('h2', {}, 'Recent runs'),
      runs.length === 0 ? h('p', { class: 'empty' }, 'No runs yet.') : h('div', { class: 'scroll' }, dataTable({
        columns: [
          { key: 'started_at', label: 'Started', format: fmtDate },
          { key: 'connection', label: 'Connection' },
          { key: 'status', label: 'Status', format: badge },
          { key: 'records', label: 'Records', cls: 'num', format: fmtInt },
          { key: 'streams', label: 'Streams', cls: 'num' },
          { key: 'finished_at', label: 'Took', cls: 'num', format: (v, row) => fmtDuration(seconds(row.started_at, v)) },
          { key: 'error', label: 'Error', cls: 'error-cell', format: (v) => (v ? h('pre', {}, v) : '') },
        ],
        rows: shown,
        rowAttrs: (run) => ({ 'data-run-id': run.run_id, 'data-status': run.status }),
      })),
      runs.length > shown.length ? h('p', { class: 'hint' }, `The ${shown.length} newest of ${runs.length} runs.`) : '');
  }

  /** Starts a sync; a 409 (one is running) is said plainly and that run followed. */
  async function start(name, button, message) {
    button.disabled = true;
    message.className = 'sync-message';
    message.textContent = 'Starting…';
    try {
      const started = await ctx.api.post(`api/v1/connections/${encodeURIComponent(name)}/sync`);
      message.textContent = `Sync started (run ${started.run_id}).`;
      follow(name, started.run_id);
    } catch (e) {
      message.className = 'sync-message error';
      message.dataset.status = String(e.status ?? '');
      if (e.status === 409) {
        message.replaceChildren(h('strong', {}, 'Already running. '),
          `A sync of ${name} started elsewhere is still going; its progress is shown above.`,
          h('span', { class: 'hint' }, ` (409: ${e.message})`));
        const running = /\(run ([^)\s]+)\)/.exec(e.message);
        if (running) follow(name, running[1]);
      } else {
        message.textContent = `Could not start the sync: ${e.message}`;
        button.disabled = false;
      }
    }
  }

  /** Polls a run every POLL_MS until it is no longer running, then reloads the page's data. */
  function follow(name, runId) {
    if (following.get(name)?.runId === runId) return;
    const entry = { runId, timer: null };
    following.set(name, entry);
    const poll = async () => {
      if (left || following.get(name) !== entry) return;
      let run;
      try {
        run = await ctx.api.get(`api/v1/syncs/${encodeURIComponent(runId)}`);
      } catch (e) {
        // A passing failure (the server is busy reloading): say so and keep asking.
        showProgress(name, null, e.message);
        entry.timer = setTimeout(poll, POLL_MS);
        return;
      }
      if (left || following.get(name) !== entry) return;
      showProgress(name, run);
      // The run's row in the list shows the same figures while it goes.
      runsShown = [run, ...runsShown.filter((r) => r.run_id !== run.run_id)];
      showRuns(runsShown);
      if (run.status === 'running') {
        entry.timer = setTimeout(poll, POLL_MS);
        return;
      }
      following.delete(name);
      await ctx.busy(refresh()).catch(() => {});
      // The finished run's outcome stays in the card after the reload.
      showProgress(name, run);
    };
    poll();
  }

  function showProgress(name, run, failure) {
    const box = list.querySelector(`[data-connection="${CSS.escape(name)}"] [data-progress]`);
    if (!box) return;
    box.hidden = false;
    if (!run) {
      box.replaceChildren(h('span', { class: 'muted' }, `Could not ask about the run: ${failure}; retrying.`));
      return;
    }
    box.dataset.runId = run.run_id;
    box.dataset.status = run.status;
    box.dataset.records = String(run.records);
    const streams = run.stream_runs || [];
    const streamsDone = streams.length > 0 && streams.every((s) => s.status !== 'running');
    const read = run.status === 'running' ? run.read_progress : null;
    box.replaceChildren(
      h('div', {},
        badge(run.status), ' ',
        h('span', { class: 'progress-figures' }, progressText(run)),
        run.status === 'running' ? h('span', { class: 'muted' }, ` · run ${run.run_id}`) : null),
      read && read.total ? h('div', { class: 'read-progress' },
        h('progress', { max: read.total, value: read.done, 'aria-label': 'Read progress' }),
        ` ${fmt((100 * read.done) / read.total, { digits: 0 })}% read (${fmtInt(read.done)} of ${fmtInt(read.total)})`) : '',
      run.status === 'running' && streamsDone
        ? h('div', { class: 'muted' }, 'Every stream is committed; the views are being brought up to date.') : '',
      // Once finished, the card's last run lists the streams.
      run.status === 'running' ? streamList(streams, true) : '',
      run.error ? h('pre', { class: 'run-error' }, run.error) : '');
  }

  await refresh();
}
