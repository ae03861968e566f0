// dom.js - building the page without innerHTML: every text from the API
// goes in as a text node, so nothing a person typed can become markup.
// No inline style either (the CSP forbids it): classes of koop.css only.

// h('p', {class: 'x', onclick: fn}, 'text', child, [more]) -> element.
export function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Replaces the children of el.
export function fill(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

// Text for screen readers only.
export function sr(text) {
  return h('span', { class: 'visually-hidden' }, text);
}

let uid = 0;
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// Says text through the page's polite live region.
export function announce(text) {
  const s = document.getElementById('status');
  s.textContent = '';
  window.setTimeout(() => { s.textContent = text; }, 50);
}

// A table: columns [{label, cell(row) -> node|text, num}], rows; stacked on
// phones. rowClass(row) a class, rowKey(row) its data-key.
export function table(caption, columns, rows, rowClass, rowKey) {
  return h('table', { class: 'stack' },
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', { class: rowClass ? rowClass(r) : null, 'data-key': rowKey ? rowKey(r) : null },
      columns.map((c) => h('td', { 'data-label': c.label, class: c.num ? 'num' : null }, c.cell(r)))))));
}

// A definition list of [label, value] pairs (values that are empty are left out).
export function record(pairs) {
  return h('dl', { class: 'record' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}
