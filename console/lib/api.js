// The console's only way to the data: the txlake REST API (and the URLs of the same requests,
// REST and OData, for a BI developer to copy). Paths are relative, so the console works behind
// a reverse proxy that serves txlake under a path prefix.

const KEY_STORAGE = 'txlake.key';

/** An error answer of the API: `{error: {code, message}}` and its status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The key entered in this browser tab (kept for the tab's session only), or null. */
export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  catalogPromise = null;
}

/** The absolute URL of `path` (relative to where the console is served). */
export function absolute(path) {
  return new URL(path, document.baseURI).href;
}

async function request(method, path, { query, body } = {}) {
  const headers = { Accept: 'application/json' };
  const key = storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let url = path;
  const qs = query instanceof URLSearchParams ? query.toString() : query ? new URLSearchParams(query).toString() : '';
  if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'unreachable', `the txlake server did not answer (${e.message}); is it still running?`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below with the status
  }
  if (!response.ok) {
    const error = json && json.error;
    throw new ApiError(response.status, error?.code || `http_${response.status}`,
      error?.message || `${method} ${path} answered ${response.status} ${response.statusText}`);
  }
  return json;
}

/** GET `path` (e.g. `api/v1/metrics`) with query parameters; the parsed JSON. */
export function get(path, query) {
  return request('GET', path, { query });
}

/** POST `body` as JSON to `path`; the parsed JSON answer. */
export function post(path, body) {
  return request('POST', path, { body: body ?? {} });
}

let catalogPromise = null;

/** The metric catalog (`GET api/v1/metrics`), asked once per key. */
export function catalog() {
  if (!catalogPromise) {
    catalogPromise = get('api/v1/metrics').then((c) => c.metrics, (e) => {
      catalogPromise = null;
      throw e;
    });
  }
  return catalogPromise;
}

/** The REST query string of a metric request. opts: group_by, grain, from, to, filters, order_by, limit. */
export function metricQuery(name, opts = {}) {
  const q = new URLSearchParams();
  if (opts.group_by?.length) q.set('group_by', opts.group_by.join(','));
  if (opts.grain) q.set('grain', opts.grain);
  if (opts.from) q.set('from', opts.from);
  if (opts.to) q.set('to', opts.to);
  for (const [dim, values] of Object.entries(opts.filters || {})) {
    if (values?.length) q.set(dim, values.join(','));
  }
  if (opts.order_by?.length) q.set('order_by', opts.order_by.join(','));
  if (opts.limit) q.set('limit', String(opts.limit));
  return q.toString();
}

/** A metric through the semantic layer: `{columns, rows}` with rows as objects. */
export async function metric(name, opts = {}) {
  const answer = await get(`api/v1/metrics/${encodeURIComponent(name)}`, metricQuery(name, opts));
  const names = answer.columns.map((c) => c.name);
  const rows = answer.rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]])));
  return { columns: answer.columns, rows };
}

/** The absolute REST URL of a metric request (no key in it). */
export function restUrl(name, opts = {}) {
  const qs = metricQuery(name, opts);
  return absolute(`api/v1/metrics/${encodeURIComponent(name)}${qs ? `?${qs}` : ''}`);
}

function odataLiteral(value) {
  return `'${String(value).replaceAll("'", "''")}'`;
}

/**
 * The absolute OData URL of the same request: the metric's entity set (`metric_<name>`) with
 * `$apply=groupby(...)` through the semantic layer and `$filter` for the filters and dates.
 * The feed's metric sets are monthly (`period`): a grain other than month groups by month there.
 */
export function odataUrl(name, opts = {}) {
  const q = [];
  const filters = [];
  for (const [dim, values] of Object.entries(opts.filters || {})) {
    if (!values?.length) continue;
    filters.push(values.length === 1 ? `${dim} eq ${odataLiteral(values[0])}`
      : `${dim} in (${values.map(odataLiteral).join(',')})`);
  }
  if (opts.from) filters.push(`period ge ${opts.from.slice(0, 10)}`);
  if (opts.to) filters.push(`period le ${opts.to.slice(0, 10)}`);
  const groups = [...(opts.group_by || [])];
  if (opts.grain) groups.unshift('period');
  if (groups.length) {
    const measures = opts.measures?.length ? `,aggregate(${opts.measures.join(',')})` : '';
    q.push(`$apply=${encodeURIComponent(`groupby((${groups.join(',')})${measures})`)}`);
  }
  if (filters.length) q.push(`$filter=${encodeURIComponent(filters.join(' and '))}`);
  return absolute(`odata/metric_${name}${q.length ? `?${q.join('&')}` : ''}`);
}
