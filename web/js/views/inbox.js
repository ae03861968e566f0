// Notifications: the inbox (unread marked in words, not only in bold), mark
// read, and the person's preferences (mail, daily digest, quiet hours).
import { call } from '../api.js';
import { form, action } from '../forms.js';
import { h, fill, table } from '../dom.js';
import { t, timeText } from '../i18n.js';

export async function show(box, args, ctx) {
  const items = await call('inbox.list', { limit: 200 });
  const unread = items.filter((e) => !e.read).length;
  const reload = async () => { await show(box, args, ctx); if (ctx) ctx.refreshBadges(); };
  fill(box,
    h('h1', {}, t('inbox.title')),
    h('p', { id: 'inbox-count' }, t('inbox.count', unread)),
    unread ? h('div', { class: 'actions' }, action('inbox.read', { id: 'all' }, t('inbox.read_all'), null, reload)) : null,
    items.length ? table(null, [
      { label: t('inbox.col_state'), cell: (e) => h('span', { class: e.read ? 'tag' : 'tag unread' }, e.read ? t('inbox.read') : t('inbox.unread')) },
      { label: t('inbox.col_time'), cell: (e) => timeText(e.time_ms) },
      { label: t('inbox.col_text'), cell: (e) => e.text },
      { label: t('inbox.col_case'), cell: (e) => (e.ipw ? h('a', { href: `#/ipw/${encodeURIComponent(e.ipw)}` }, e.number || e.ipw) : '') },
      { label: t('tasks.col_actions'), cell: (e) => (e.read ? '' : action('inbox.read', { id: e.id }, t('inbox.read_one'), e.text, reload)) },
    ], items) : h('p', { class: 'empty' }, t('inbox.empty')),
    h('h2', { id: 'prefs' }, t('inbox.prefs')),
    h('p', {}, t('inbox.prefs_intro')),
    form('notify.prefs', { id: 'prefs-form', keep: true }));
  return t('inbox.title');
}
