// "Moje zadania": the person's tasks, overdue first, with the case number
// of the family's programme (never the family's name: a partner sees only
// what the ZZK shares), due dates, and start / done.
import { call } from '../api.js';
import { action } from '../forms.js';
import { h, fill, table } from '../dom.js';
import { t, enumText, dateText } from '../i18n.js';
import { directory, nameOf } from '../names.js';

export function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function isOpen(x) { return x.status === 'planned' || x.status === 'in_progress'; }

export async function show(box, args, ctx) {
  const mine = await call('task.mine');
  if (mine.some((x) => !x.ipw_number)) await directory(true);
  const now = today();
  const open = mine.filter(isOpen).sort((a, b) => {
    const ao = a.due && a.due < now ? 0 : 1;
    const bo = b.due && b.due < now ? 0 : 1;
    return ao - bo || String(a.due || '9999').localeCompare(String(b.due || '9999'));
  });
  const finished = mine.filter((x) => !isOpen(x)).sort((a, b) => String(b.done || b.cancelled || '').localeCompare(String(a.done || a.cancelled || '')));
  const overdue = open.filter((x) => x.due && x.due < now).length;
  const reload = async () => { await show(box, args, ctx); if (ctx) ctx.refreshBadges(); };

  const caseCell = (x) => {
    const n = nameOf(x, 'ipw');
    return h('a', { href: `#/ipw/${encodeURIComponent(x.ipw)}` }, n === '—' ? t('ipw.programme') : n);
  };
  const dueCell = (x) => [dateText(x.due), x.due && x.due < now && isOpen(x) ? [' ', h('span', { class: 'tag bad' }, t('tasks.overdue'))] : null,
    x.due === now ? [' ', h('span', { class: 'tag' }, t('tasks.today'))] : null];
  const actions = (x) => h('div', { class: 'actions' },
    x.status === 'planned' ? action('task.start', { task: x.id }, t('tasks.start'), x.title, reload) : null,
    action('task.done', { task: x.id }, t('tasks.done'), x.title, reload));

  fill(box,
    h('h1', {}, t('tasks.title')),
    h('p', { id: 'tasks-summary' }, t('tasks.summary', open.length, overdue)),
    h('h2', {}, t('tasks.open')),
    open.length ? table(null, [
      { label: t('tasks.col_title'), cell: (x) => x.title },
      { label: t('tasks.col_case'), cell: caseCell },
      { label: t('tasks.col_due'), cell: dueCell },
      { label: t('tasks.col_status'), cell: (x) => enumText('status', x.status, 'task_status') },
      { label: t('tasks.col_actions'), cell: actions },
    ], open, (x) => (x.due && x.due < now ? 'overdue' : null)) : h('p', { class: 'empty' }, t('tasks.empty')),
    h('h2', {}, t('tasks.finished')),
    finished.length ? table(null, [
      { label: t('tasks.col_title'), cell: (x) => x.title },
      { label: t('tasks.col_case'), cell: caseCell },
      { label: t('tasks.col_due'), cell: (x) => dateText(x.due) },
      { label: t('tasks.col_status'), cell: (x) => enumText('status', x.status, 'task_status') },
      { label: t('tasks.col_done'), cell: (x) => dateText(x.done || x.cancelled) },
    ], finished) : h('p', { class: 'empty' }, t('tasks.none_finished')));
  return t('tasks.title');
}
