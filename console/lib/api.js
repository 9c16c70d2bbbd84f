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
  // Commas separate a parameter's values for the server; left unescaped, a copied URL reads well.
  return q.toString().replaceAll('%2C', ',');
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

/** A filter value as an OData literal: numbers and booleans as they are, text quoted ('' inside). */
function odataLiteral(value) {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `'${String(value).replaceAll("'", "''")}'`;
}

/** `YYYY-MM-DD` of a date or RFC 3339 time, and whether the time part (if any) is midnight UTC. */
function dayOf(text) {
  const day = String(text).slice(0, 10);
  const time = String(text).slice(10);
  return { day, midnight: time === '' || /^T00:00(:00(\.0+)?)?(Z|\+00:00)?$/.test(time) };
}

/** The first day of the month of `YYYY-MM-DD`. */
function monthStart(day) {
  return `${day.slice(0, 7)}-01`;
}

/** Whether `YYYY-MM-DD` is the last day of its month. */
function isMonthEnd(day) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).getUTCDate() === 1;
}

/** An OData query option value: percent-encoded, but commas and parentheses kept readable. */
function odataEncode(text) {
  return encodeURIComponent(text).replaceAll('%2C', ',');
}

/**
 * The absolute OData URL of the same request, what a BI developer pastes into Power BI's OData
 * feed: the metric's entity set (`metric_<name>`), `$apply=groupby((period,dims…),aggregate(…))`
 * (grouped by the semantic layer, so ratios are computed from summed base measures, as in REST),
 * `$filter` on the grouped rows and `$orderby` as REST orders them (`$top` for `limit`).
 * opts: as restUrl's, plus `measures` (the names to aggregate: REST returns every measure, OData
 * lists them). Filter values that are numbers or booleans are written unquoted, text quoted.
 *
 * The feed groups `period` by month only and applies `$filter` after `$apply` (no `filter(…)/`
 * step), so some requests have no exact OData form. When `notes` is an array, one sentence per
 * difference from the REST answer is pushed onto it; nothing is pushed when the OData URL returns
 * the same numbers. A filter with one value is exact: its dimension joins the grouping (one value
 * per group) and `$filter` keeps that value.
 */
export function odataUrl(name, opts = {}, notes = null) {
  const note = (text) => Array.isArray(notes) && notes.push(text);
  const groupBy = [...(opts.group_by || [])];
  const groups = [...groupBy];
  const filters = [];
  for (const [dim, values] of Object.entries(opts.filters || {})) {
    if (!values?.length) continue;
    if (!groups.includes(dim)) {
      groups.push(dim);
      if (values.length > 1) {
        note(`OData applies $filter after grouping, so the ${values.length} values of ${dim} come back as one row each `
          + `(grouped by ${dim} too), not combined into one as in REST. For the same numbers, group by ${dim} or keep one value.`);
      }
    }
    filters.push(values.length === 1 ? `${dim} eq ${odataLiteral(values[0])}`
      : `${dim} in (${values.map(odataLiteral).join(',')})`);
  }
  const byPeriod = Boolean(opts.grain || opts.from || opts.to);
  if (opts.grain && opts.grain !== 'month') {
    note(`The OData feed groups period by month only (its $apply has no ${opts.grain} grouping), so this URL returns `
      + `months, not ${opts.grain}s. Choose the month grain for the same numbers.`);
  } else if (!opts.grain && byPeriod) {
    note('OData can restrict time only through period, by month: this URL returns one row per month, '
      + 'where REST returns the whole range as one.');
  }
  if (opts.from) {
    const { day, midnight } = dayOf(opts.from);
    filters.push(`period ge ${monthStart(day)}`);
    if (opts.grain === 'month' && (!midnight || !day.endsWith('-01'))) {
      note(`REST counts ${day.slice(0, 7)} from ${opts.from} on; OData filters whole months, so its first month `
        + `counts all of ${day.slice(0, 7)}. Start on the 1st of a month for the same numbers.`);
    }
  }
  if (opts.to) {
    const { day, midnight } = dayOf(opts.to);
    const exclusive = String(opts.to).length > 10;
    filters.push(exclusive ? `period lt ${day}` : `period le ${day}`);
    const exact = exclusive ? midnight && day.endsWith('-01') : isMonthEnd(day);
    if (opts.grain === 'month' && !exact) {
      note(`REST counts ${day.slice(0, 7)} up to ${opts.to}; OData filters whole months, so its last month `
        + `counts all of ${day.slice(0, 7)}. End on the last day of a month for the same numbers.`);
    }
  }
  if (byPeriod) groups.unshift('period');
  const q = [];
  if (groups.length) {
    const measures = opts.measures?.length ? `,aggregate(${opts.measures.join(',')})` : '';
    q.push(`$apply=${odataEncode(`groupby((${groups.join(',')})${measures})`)}`);
  } else if (opts.measures?.length) {
    q.push(`$apply=${odataEncode(`aggregate(${opts.measures.join(',')})`)}`);
  }
  if (filters.length) q.push(`$filter=${odataEncode(filters.join(' and '))}`);
  // REST orders by period, then the grouped dimensions, unless told otherwise.
  const order = opts.order_by?.length
    ? opts.order_by.map((o) => (o.startsWith('-') ? `${o.slice(1)} desc` : o))
    : groups;
  if (order.length) q.push(`$orderby=${odataEncode(order.join(','))}`);
  if (opts.limit) q.push(`$top=${Number(opts.limit)}`);
  // Appended after URL parsing, which would percent-encode the quotes of text literals.
  return absolute(`odata/metric_${encodeURIComponent(name)}`) + (q.length ? `?${q.join('&')}` : '');
}
