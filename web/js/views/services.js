// The list of activities and services: search by target group, category,
// provider and text; coordinators and animators add entries.
import { call } from '../api.js';
import { form, label } from '../forms.js';
import { h, fill, table } from '../dom.js';
import { t, enumText, dateText } from '../i18n.js';
import { directory, nameOf } from '../names.js';
import { institutionChoices } from './families.js';
import { session } from '../app.js';

export const EDITORS = ['coordinator', 'animator', 'model_expert'];

function servicesTable(items) {
  const S = 'service.add';
  return items.length ? table(null, [
    { label: label(S, 'name'), cell: (s) => [s.name, s.description ? h('p', { class: 'hint' }, s.description) : null] },
    { label: label(S, 'provider'), cell: (s) => nameOf(s, 'provider') },
    { label: label(S, 'target'), cell: (s) => (s.target || []).map((x) => enumText('target', x)).join(', ') },
    { label: label(S, 'category'), cell: (s) => s.category || '' },
    { label: label(S, 'area'), cell: (s) => s.area || '' },
    { label: label(S, 'contact'), cell: (s) => [s.contact || '', s.schedule ? h('p', { class: 'hint' }, s.schedule) : null] },
    { label: label(S, 'verified'), cell: (s) => dateText(s.verified) },
  ], items) : h('p', { class: 'empty' }, t('services.empty'));
}

export async function show(box) {
  const lists = await directory(false);
  const first = await call('service.search');
  const results = h('div', { id: 'service-results', 'aria-live': 'polite' }, servicesTable(first));
  const editor = session.me && EDITORS.includes(session.me.role);
  fill(box, h('h1', {}, t('services.title')),
    form('service.search', { id: 'service-search', keep: true, submit: t('form.search'), okText: ' ',
      title: t('services.search'), choices: { provider: institutionChoices(lists) },
      onDone: (items) => fill(results, servicesTable(items)) }),
    results,
    editor ? h('details', {}, h('summary', {}, t('services.add')),
      form('service.add', { id: 'service-add', choices: { provider: institutionChoices(lists) }, onDone: () => show(box) })) : null);
  return t('services.title');
}
