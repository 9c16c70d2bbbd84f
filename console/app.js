// The console's shell: hash routes to pages, the API key sign-in, and each page's lifecycle
// (loading → ready | error on <main>, which the browser tests wait on).

import * as api from './lib/api.js';
import { h } from './lib/dom.js';

/** Route → page module, loaded on first visit so the first paint loads only its own page. */
const ROUTES = {
  scorecard: () => import('./pages/scorecard.js'),
  trends: () => import('./pages/trends.js'),
  journey: () => import('./pages/journey.js'),
  'cx-ex': () => import('./pages/cx_ex.js'),
  connections: () => import('./pages/connections.js'),
};
const DEFAULT_ROUTE = 'scorecard';

const main = document.getElementById('page');
const sessionBox = document.querySelector('[data-session]');
let session = null;
let leaveHandlers = [];
let generation = 0;

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [route, query = ''] = hash.split('?');
  return { route: ROUTES[route] ? route : DEFAULT_ROUTE, params: new URLSearchParams(query) };
}

function setParams(route, values) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    params.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const qs = params.toString();
  history.replaceState(null, '', `#/${route}${qs ? `?${qs}` : ''}`);
}

function leave() {
  for (const fn of leaveHandlers) {
    try {
      fn();
    } catch (e) {
      console.warn('leaving the page:', e);
    }
  }
  leaveHandlers = [];
}

function showError(error) {
  main.dataset.state = 'error';
  main.append(h('div', { class: 'error', role: 'alert' },
    h('strong', {}, error.status ? `Error ${error.status}` : 'Error'), ' ', error.message));
}

async function show() {
  const mine = ++generation;
  leave();
  const { route, params } = parseHash();
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.toggleAttribute('aria-current', link.dataset.nav === route);
    if (link.dataset.nav === route) link.setAttribute('aria-current', 'page');
  }
  main.replaceChildren();
  main.dataset.page = route;
  main.dataset.state = 'loading';
  if (!session) {
    renderSignIn();
    return;
  }
  const ctx = {
    api,
    params,
    session,
    setParams: (values) => setParams(route, values),
    onLeave: (fn) => leaveHandlers.push(fn),
    busy: async (promise) => {
      main.dataset.state = 'loading';
      try {
        const result = await promise;
        if (mine === generation) main.dataset.state = 'ready';
        return result;
      } catch (e) {
        if (mine === generation) showFailure(e);
        throw e;
      }
    },
  };
  try {
    const page = await ROUTES[route]();
    if (mine !== generation) return;
    document.title = `${page.title} · txlake`;
    await page.render(main, ctx);
    if (mine === generation) main.dataset.state = 'ready';
  } catch (e) {
    if (mine === generation) showFailure(e);
  }
}

function showFailure(e) {
  if (e instanceof api.ApiError && e.status === 401) {
    // The key was revoked or the server restarted with other keys.
    signOut(e.message);
    return;
  }
  console.warn(e);
  showError(e);
}

function renderSession() {
  sessionBox.hidden = !session;
  if (!session) {
    sessionBox.replaceChildren();
    return;
  }
  sessionBox.dataset.role = session.role;
  sessionBox.replaceChildren(...[
    session.mode === 'local'
      ? h('span', { title: 'No API keys are configured: every caller on this machine is an admin' }, 'local mode')
      : h('span', {}, h('strong', {}, session.key_name), ` · ${session.role}`),
    session.mode === 'local' ? null : h('button', { type: 'button', class: 'link', 'data-action': 'sign-out', onclick: () => signOut() }, 'Sign out'),
  ].filter(Boolean));
}

function signOut(reason) {
  api.storeKey(null);
  session = null;
  renderSession();
  main.replaceChildren();
  main.dataset.state = 'loading';
  renderSignIn(reason);
}

function renderSignIn(message) {
  main.dataset.state = 'sign-in';
  const input = h('input', { name: 'key', type: 'password', autocomplete: 'current-password', required: true, placeholder: 'txk_…', 'aria-label': 'API key' });
  const status = h('p', { class: message ? 'error' : 'hint', role: message ? 'alert' : null },
    message || 'The key is kept in this browser tab only, until you sign out or close the tab.');
  const form = h('form', { id: 'key-form', class: 'card sign-in' },
    h('h1', {}, 'Sign in with an API key'),
    h('p', {}, 'This txlake server checks API keys. An admin creates one with ',
      h('code', {}, 'txlake keys create --name you --role viewer'), '.'),
    h('label', {}, h('span', {}, 'API key'), input),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    api.storeKey(input.value.trim());
    try {
      await start();
    } catch (e) {
      api.storeKey(null);
      status.className = 'error';
      status.setAttribute('role', 'alert');
      status.textContent = e.status === 401 ? `That key was not accepted: ${e.message}` : e.message;
    }
  });
  main.replaceChildren(form);
  input.focus();
}

/** Asks who we are; on success shows the page of the current route. Throws on a refused key. */
async function start() {
  session = await api.get('api/v1/session');
  renderSession();
  await show();
}

window.addEventListener('hashchange', () => show());

start().catch((e) => {
  if (e instanceof api.ApiError && e.status === 401) {
    const hadKey = api.storedKey() !== null;
    api.storeKey(null);
    main.dataset.page = parseHash().route;
    renderSignIn(hadKey ? `The stored key was not accepted: ${e.message}` : undefined);
  } else {
    main.replaceChildren();
    showError(e);
  }
});
