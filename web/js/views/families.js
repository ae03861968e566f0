// Families: search households, register one; a household with its members,
// consents and IPW programmes (open a new one).
import { call } from '../api.js';
import { form, label } from '../forms.js';
import { h, fill, table, record } from '../dom.js';
import { t, enumText, dateText } from '../i18n.js';
import { directory, nameOf, namesOf } from '../names.js';

export function peopleChoices(lists, filter) {
  return Array.from(lists.people.values()).filter((p) => p.active !== false && (!filter || filter(p)))
    .map((p) => ({ value: p.id, label: `${p.name} – ${(lists.institutions.get(p.institution) || {}).name || ''}` }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

export function institutionChoices(lists) {
  return Array.from(lists.institutions.values()).filter((i) => i.active !== false)
    .map((i) => ({ value: i.id, label: i.name })).sort((a, b) => a.label.localeCompare(b.label));
}

function ipwTable(ipws) {
  return table(null, [
    { label: t('families.col_number'), cell: (i) => h('a', { href: `#/ipw/${encodeURIComponent(i.id)}` }, i.number || t('ipw.programme')) },
    { label: t('families.col_status'), cell: (i) => enumText('status', i.status, 'ipw_status') },
    { label: t('families.col_opened'), cell: (i) => dateText(i.opened) },
  ], ipws);
}

export async function list(box) {
  const lists = await directory(true);
  const results = h('div', { id: 'household-results', 'aria-live': 'polite' });
  const showResults = (items) => {
    fill(results, h('h2', {}, t('families.results')), items.length ? table(null, [
      { label: t('families.col_name'), cell: (x) => h('a', { href: `#/gospodarstwo/${encodeURIComponent(x.id)}` }, x.name) },
      { label: t('families.col_size'), cell: (x) => x.size, num: true },
      { label: t('families.col_registered'), cell: (x) => dateText(x.registered) },
      { label: t('families.col_ipws'), cell: (x) => (x.ipws || []).map((id, k) => [k ? ', ' : '',
        h('a', { href: `#/ipw/${encodeURIComponent(id)}` }, (lists.ipws.get(id) || {}).number || t('ipw.programme'))]) },
    ], items) : h('p', { class: 'empty' }, t('families.empty')));
  };
  const search = form('household.list', {
    id: 'household-search', keep: true, submit: t('form.search'), okText: ' ',
    labels: { text: t('families.search_label') }, hints: { text: t('families.search_hint') },
    onDone: (items) => showResults(items),
  });
  const mine = Array.from(lists.ipws.values());
  fill(box, h('h1', {}, t('families.title')), search, results,
    h('h2', {}, t('families.my_ipws')), mine.length ? ipwTable(mine) : h('p', { class: 'empty' }, t('household.no_ipws')),
    h('details', {}, h('summary', {}, t('families.add')),
      form('household.add', { id: 'household-add', onDone: (hh) => { window.location.hash = `#/gospodarstwo/${encodeURIComponent(hh.id)}`; } })));
  return t('families.title');
}

export async function household(box, [id]) {
  const [hh, lists] = await Promise.all([call('household.show', { household: id }), directory(true)]);
  const reload = () => household(box, [id]);
  const ipws = (hh.ipws || []).map((i) => lists.ipws.get(i) || { id: i });
  fill(box,
    h('h1', {}, t('household.title', hh.name)),
    householdRecord(hh),
    h('h2', {}, t('household.members')),
    (hh.members || []).length ? table(null, [
      { label: label(M, 'name'), cell: (m) => m.name },
      { label: label(M, 'pesel'), cell: (m) => m.pesel || '' },
      { label: label(M, 'birth'), cell: (m) => dateText(m.birth) },
      { label: label(M, 'sex'), cell: (m) => enumText('sex', m.sex) },
      { label: label(M, 'relation'), cell: (m) => m.relation || '' },
    ], hh.members) : h('p', { class: 'empty' }, t('household.no_members')),
    h('details', {}, h('summary', {}, t('household.add_member')),
      form('household.member.add', { id: 'member-add', preset: { household: id }, onDone: reload })),
    h('h2', {}, t('household.consents')),
    (hh.consents || []).length ? h('ul', { class: 'cards' }, hh.consents.map((c) => h('li', {},
      h('p', {}, c.purpose), record([[t('ipw.col_date'), dateText(c.date)],
        [t('registry.col_parties'), namesOf(c, 'share_with').join(', ')],
        [t('ipw.col_who'), nameOf(c, 'recorded_by')],
        [t('families.col_status'), c.withdrawn ? t('household.withdrawn', dateText(c.withdrawn)) : t('household.in_force')]]),
      c.withdrawn ? null : form('consent.withdraw', { preset: { consent: c.id }, inline: true, submit: t('household.withdraw'), onDone: reload })))) :
      h('p', { class: 'empty' }, t('household.no_consents')),
    h('details', {}, h('summary', {}, t('household.add_consent')),
      form('consent.record', { id: 'consent-add', preset: { household: id }, choices: { share_with: institutionChoices(lists) }, onDone: reload })),
    h('h2', {}, t('household.ipws')),
    ipws.length ? ipwTable(ipws) : h('p', { class: 'empty' }, t('household.no_ipws')),
    h('details', {}, h('summary', {}, t('household.open_ipw')),
      form('ipw.open', { id: 'ipw-open', preset: { household: id }, choices: { coordinator: peopleChoices(lists) },
        onDone: (ipw) => { window.location.hash = `#/ipw/${encodeURIComponent(ipw.id)}`; } })));
  return t('household.title', hh.name);
}

const A = 'household.add';
const M = 'household.member.add';

function householdRecord(hh) {
  return record([
    [label(A, 'pesel'), hh.pesel], [label(A, 'birth'), dateText(hh.birth)], [label(A, 'sex'), enumText('sex', hh.sex)],
    [label(A, 'address'), hh.address], [label(A, 'phone'), hh.phone], [label(A, 'size'), hh.size],
    [label(A, 'target'), (hh.target || []).map((x) => enumText('target', x)).join(', ')],
    [t('families.col_registered'), dateText(hh.registered)],
    [t('ipw.col_who'), nameOf(hh, 'created_by')],
  ]);
}
