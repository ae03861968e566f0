// i18n.js - the UI's own words, one JSON catalogue per language
// (i18n/pl.json, i18n/en.json). Field labels come from the server (GET
// /api/methods, common/labels.def) and error messages from the API's JSON
// error (common/errors.def): neither is copied here. Other words of
// labels.def the UI shows (the report groups' titles, the timeline's event
// words, the values of enums) come in i18n/labels-pl.json, labels-en.json,
// made from labels.def by make (tools/i18n/web_labels.c), merged into the
// catalogue; they are lower case, as koopctl prints them (capital() for
// the start of a line).
// The language is the `lang` cookie, which the gateway reads too, else the
// browser's first of pl/en, else Polish.

let catalogue = {};
export let lang = 'pl';

function cookieLang() {
  const m = document.cookie.match(/(?:^|;\s*)lang=(pl|en)(?:;|$)/);
  return m ? m[1] : null;
}

function browserLang() {
  for (const l of navigator.languages || [navigator.language || '']) {
    const p = l.slice(0, 2).toLowerCase();
    if (p === 'pl' || p === 'en') return p;
  }
  return 'pl';
}

// b's members into a, objects member by member.
function merge(a, b) {
  for (const [k, v] of Object.entries(b)) {
    a[k] = v && typeof v === 'object' && a[k] && typeof a[k] === 'object' ? merge(a[k], v) : v;
  }
  return a;
}

export async function loadLang() {
  lang = cookieLang() || browserLang();
  const [own, labels] = await Promise.all([`i18n/${lang}.json`, `i18n/labels-${lang}.json`].map(
    async (path) => (await fetch(path, { credentials: 'same-origin' })).json()));
  catalogue = merge(own, labels);
  document.documentElement.lang = lang;
}

export function setLang(l) {
  document.cookie = `lang=${l}; Path=/; Max-Age=31536000; SameSite=Strict`;
}

function lookup(key) {
  let v = catalogue;
  for (const part of key.split('.')) {
    if (v === null || typeof v !== 'object' || !(part in v)) return undefined;
    v = v[part];
  }
  return typeof v === 'string' ? v : undefined;
}

// t('tasks.title', arg1, ...) -> the text with {1}.. filled; the key when missing.
export function t(key, ...args) {
  const s = lookup(key);
  if (s === undefined) return key;
  return s.replace(/\{(\d)\}/g, (_, n) => (args[n - 1] === undefined ? '' : String(args[n - 1])));
}

// A term of a section whose keys contain dots (timeline.<event type>); '' when none.
export function term(section, key) {
  const sec = catalogue[section];
  return sec && typeof sec[key] === 'string' ? sec[key] : '';
}

// s with its first letter capital, as the UI's language writes it.
export function capital(s) {
  if (!s) return '';
  const first = String.fromCodePoint(s.codePointAt(0));
  return first.toLocaleUpperCase(lang) + s.slice(first.length);
}

export function has(key) {
  return lookup(key) !== undefined;
}

// An enum value for people: enum.<group>.<value>, else enum.<field>.<value>, else the value.
export function enumText(field, value, group) {
  if (value === undefined || value === null || value === '') return '';
  for (const k of [group && `enum.${group}.${value}`, `enum.${field}.${value}`]) {
    if (k && has(k)) return t(k);
  }
  return String(value);
}

// A date YYYY-MM-DD as people read it in the language.
export function dateText(d) {
  if (!d) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(d);
  if (!m) return d;
  return lang === 'pl' ? `${m[3]}.${m[2]}.${m[1]}` : `${m[1]}-${m[2]}-${m[3]}`;
}

export function timeText(ms) {
  if (!ms) return '';
  const d = new Date(Number(ms));
  return d.toLocaleString(lang === 'pl' ? 'pl-PL' : 'en-GB');
}
