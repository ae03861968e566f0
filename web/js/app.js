// app.js - the shell of the web UI: language, session, menu, and the
// pages behind the address's #/... part (one page at a time, the heading
// focused after each change so screen readers hear where they are).
import { call, loadMethods, setCsrf, whenLoggedOut, ApiError } from './api.js';
import { h, fill, sr } from './dom.js';
import { t, loadLang, setLang, lang, enumText } from './i18n.js';
import { forget } from './names.js';
import * as login from './views/login.js';
import * as tasks from './views/tasks.js';
import * as families from './views/families.js';
import * as ipw from './views/ipw.js';
import * as catalogue from './views/services.js';
import * as registry from './views/registry.js';
import * as inbox from './views/inbox.js';
import * as reports from './views/reports.js';

export const session = { me: null };

const MENU = [
  { path: 'zadania', key: 'nav.tasks', view: tasks.show, badge: 'tasks' },
  { path: 'rodziny', key: 'nav.families', view: families.list },
  { path: 'uslugi', key: 'nav.services', view: catalogue.show },
  { path: 'rejestr', key: 'nav.registry', view: registry.show },
  { path: 'powiadomienia', key: 'nav.inbox', view: inbox.show, badge: 'inbox' },
  { path: 'raporty', key: 'nav.reports', view: reports.show },
];
const PAGES = {
  gospodarstwo: families.household,
  ipw: ipw.show,
  druk: ipw.print,
};
const badges = { tasks: null, inbox: null };

function route() {
  const parts = (window.location.hash.replace(/^#\/?/, '') || 'zadania').split('/').map(decodeURIComponent);
  return { page: parts[0], args: parts.slice(1) };
}

// Renders the page of the address. view(main, args) fills main and returns its title.
// Renders can overlap (a language switch re-renders while the address changes):
// only the latest one may fill the page, so a slow earlier page never covers it.
let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  if (!session.me) {
    fill(main);
    document.title = `${t('login.title')} – koop`;
    await login.show(main, onLoggedIn);
    return;
  }
  const { page, args } = route();
  const item = MENU.find((m) => m.path === page);
  const view = item ? item.view : PAGES[page];
  forget();
  markMenu(item ? item.path : null);
  fill(main, h('p', {}, t('app.loading')));
  let title;
  try {
    if (!view) {
      fill(main, h('h1', {}, t('app.not_found')), h('p', {}, h('a', { href: '#/zadania' }, t('app.back_home'))));
      title = t('app.not_found');
    } else {
      const box = h('div', {});
      title = await view(box, args, { refreshBadges });
      if (seq !== renderSeq) return; /* a later render owns the page */
      fill(main, box);
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    if (seq !== renderSeq) return;
    fill(main, h('h1', {}, t('error.load', '')), h('p', { role: 'alert' }, e.message || String(e)));
    title = t('error.load', '');
  }
  document.title = `${title || ''} – koop`;
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    if (!render.first) h1.focus();
  }
  render.first = false;
}
render.first = true;

function markMenu(path) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.path === path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function buildShell() {
  document.getElementById('skip-link').textContent = t('app.skip');
  document.getElementById('brand-sub').textContent = t('app.sub');
  document.getElementById('footer-text').textContent = t('app.footer');
  const nav = document.getElementById('nav');
  nav.setAttribute('aria-label', t('app.nav_label'));
  const langBox = document.getElementById('lang-switch');
  langBox.setAttribute('aria-label', t('app.lang_label'));
  fill(langBox, ['pl', 'en'].map((l) => h('button', {
    type: 'button', lang: l, 'aria-pressed': l === lang ? 'true' : 'false',
    onclick: async () => { setLang(l); await loadLang(); await loadMethods(); buildShell(); await render(); },
  }, t(`lang.${l}`))));
  const out = document.getElementById('logout');
  out.textContent = t('app.logout');
  const who = document.getElementById('who');
  if (session.me) {
    fill(nav, h('ul', {}, MENU.map((m) => h('li', {}, h('a', { href: `#/${m.path}`, dataset: { path: m.path }, id: `nav-${m.path}` },
      t(m.key), m.badge ? h('span', { class: 'badge', id: `badge-${m.badge}`, hidden: true }) : null)))));
    nav.hidden = false;
    out.hidden = false;
    who.textContent = t('app.who', session.me.name || session.me.login,
      [enumText('role', session.me.role), session.me.institution_name].filter(Boolean).join(', '));
    showBadges();
  } else {
    fill(nav);
    nav.hidden = true;
    out.hidden = true;
    who.textContent = '';
  }
}

function showBadges() {
  for (const [k, n] of Object.entries(badges)) {
    const b = document.getElementById(`badge-${k}`);
    if (!b) continue;
    if (n === null || n === undefined) { b.hidden = true; continue; }
    fill(b, h('span', { 'aria-hidden': 'true' }, String(n)), sr(`(${t(k === 'tasks' ? 'nav.tasks_badge' : 'nav.inbox_badge', n)})`));
    b.hidden = false;
  }
}

// Counts for the menu: open tasks, unread notifications.
export async function refreshBadges() {
  if (!session.me) return;
  try {
    const mine = await call('task.mine');
    badges.tasks = mine.filter((x) => x.status === 'planned' || x.status === 'in_progress').length;
  } catch (e) { badges.tasks = null; }
  try {
    const unread = await call('inbox.list', { unread: true, limit: 200 });
    badges.inbox = unread.length;
  } catch (e) { badges.inbox = null; }
  showBadges();
}

async function onLoggedIn(info) {
  setCsrf(info.csrf);
  session.me = await call('session.me');
  setCsrf(session.me.csrf);
  buildShell();
  if (!window.location.hash || window.location.hash === '#/' || window.location.hash === '#/login') window.location.hash = '#/zadania';
  else await render();
  refreshBadges();
}

async function start() {
  await loadLang();
  await loadMethods();
  whenLoggedOut(() => {
    if (!session.me) return;
    session.me = null;
    setCsrf('');
    buildShell();
    render().then(() => login.notice(t('login.expired')));
  });
  try {
    session.me = await call('session.me');
    setCsrf(session.me.csrf);
  } catch (e) {
    session.me = null;
  }
  buildShell();
  document.getElementById('logout').addEventListener('click', async () => {
    try { await call('session.logout'); } catch (e) { /* ended anyway */ }
    session.me = null;
    setCsrf('');
    buildShell();
    await render();
    login.notice(t('app.logged_out'));
  });
  // the skip link moves the focus; it is not a page of the router
  document.getElementById('skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    const main = document.getElementById('main');
    main.focus();
    main.scrollIntoView();
  });
  window.addEventListener('hashchange', () => {
    if (window.location.hash && !window.location.hash.startsWith('#/')) return;
    render();
    if (session.me) refreshBadges();
  });
  await render();
  if (session.me) refreshBadges();
}

start();
