// Building the page: an element builder, number and date formats, and a data table whose cells
// carry their raw values (data-field, data-value) so tests and screen readers see the numbers.

/** Creates an element. `attrs`: class, data-*, on<event> handlers, other attributes. */
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.setAttribute('class', value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const numberFormats = new Map();
function numberFormat(digits) {
  if (!numberFormats.has(digits)) {
    numberFormats.set(digits, new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  }
  return numberFormats.get(digits);
}

/** A number with `digits` decimals and an optional unit; null, NaN → '—'. */
export function fmt(value, { digits = 1, unit = '', sign = false } = {}) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  const text = numberFormat(digits).format(value);
  return (sign && value > 0 ? '+' : '') + text + unit;
}

/** A whole number with thousands separators. */
export function fmtInt(value) {
  return fmt(value, { digits: 0 });
}

/** An amount in the sources' currency, compact above 10,000 (12.3k, 4.5M). */
export function fmtMoney(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1e6) return fmt(value / 1e6, { digits: 2 }) + 'M';
  if (abs >= 1e4) return fmt(value / 1e3, { digits: 1 }) + 'k';
  return fmt(value, { digits: 0 });
}

/** An RFC 3339 timestamp as a short local date and time. */
export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A period start (as the API returns it) in the words of its grain: 2025-04, Q2 2025, 2025. */
export function fmtPeriod(iso, grain) {
  if (!iso) return 'all';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (grain) {
    case 'year': return String(y);
    case 'quarter': return `Q${Math.floor(m / 3) + 1} ${y}`;
    case 'month': return `${MONTHS[m]} ${y}`;
    default: return d.toISOString().slice(0, 10);
  }
}

/** Seconds since the epoch of an RFC 3339 timestamp or a date. */
export function epochSeconds(iso) {
  return new Date(iso).getTime() / 1000;
}

/**
 * A table. columns: [{key, label, format?(value, row), cls?}]; each cell has data-field and
 * data-value (the raw value, '' for null). rowAttrs(row) adds attributes to a row.
 */
export function dataTable({ columns, rows, rowAttrs, caption }) {
  return h('table', { class: 'data' },
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))),
    h('tbody', {}, rows.map((row) => h('tr', rowAttrs ? rowAttrs(row) : {},
      columns.map((c) => {
        const value = row[c.key];
        return h('td', { class: c.cls, 'data-field': c.key, 'data-value': raw(value) },
          c.format ? c.format(value, row) : value ?? '—');
      })))));
}

/** A value as a data attribute: numbers and strings as themselves, null as ''. */
export function raw(value) {
  return value === null || value === undefined ? '' : String(value);
}

/** A labelled <select>. options: [{value, label}] or strings. */
export function select(name, label, options, selected, onchange) {
  const el = h('select', { name, id: `control-${name}`, onchange: (e) => onchange(e.target.value) },
    options.map((o) => {
      const { value, label: text } = typeof o === 'string' ? { value: o, label: o } : o;
      return h('option', { value, selected: value === selected }, text);
    }));
  return h('label', { class: 'control', for: `control-${name}` }, h('span', {}, label), el);
}
