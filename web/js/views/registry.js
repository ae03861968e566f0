// The registry: institutions, people, agreements and PZK teams (join,
// leave). Everyone reads; coordinators, animators and model experts change
// it (the registry service refuses anyone else: access.denied.registry).
import { call } from '../api.js';
import { form, label } from '../forms.js';
import { h, fill, table } from '../dom.js';
import { t, enumText, dateText } from '../i18n.js';
import { directory, nameOf, namesOf } from '../names.js';
import { institutionChoices, peopleChoices } from './families.js';
import { session } from '../app.js';
import { EDITORS } from './services.js';

export async function show(box) {
  const lists = await directory(false);
  const [agreements, pzks] = await Promise.all([call('agreement.list'), call('pzk.list')]);
  const editor = session.me && EDITORS.includes(session.me.role);
  const reload = () => show(box);
  const I = 'institution.add';
  const P = 'person.add';
  const G = 'agreement.add';
  const add = (key, name, opts) => (editor ? h('details', {}, h('summary', {}, t(key)), form(name, { ...opts, onDone: reload })) : null);
  const institutions = Array.from(lists.institutions.values());
  const people = Array.from(lists.people.values());
  fill(box,
    h('h1', {}, t('registry.title')),
    editor ? null : h('p', { class: 'notice' }, t('registry.only_coord')),
    h('h2', { id: 'institutions' }, t('registry.institutions')),
    institutions.length ? table(null, [
      { label: label(I, 'name'), cell: (i) => [i.name, i.active === false ? [' ', h('span', { class: 'tag' }, t('registry.inactive'))] : null] },
      { label: label(I, 'sector'), cell: (i) => enumText('sector', i.sector) },
      { label: label(I, 'level'), cell: (i) => enumText('level', i.level) },
      { label: t('registry.col_contact'), cell: (i) => [i.address, i.email, i.phone].filter(Boolean).join(', ') },
    ], institutions) : h('p', { class: 'empty' }, t('registry.empty')),
    add('registry.add_institution', I, { id: 'institution-add' }),
    h('h2', { id: 'people' }, t('registry.people')),
    people.length ? table(null, [
      { label: label(P, 'name'), cell: (p) => [p.name, p.active === false ? [' ', h('span', { class: 'tag' }, t('registry.inactive'))] : null] },
      { label: label(P, 'institution'), cell: (p) => nameOf(p, 'institution') },
      { label: label(P, 'role'), cell: (p) => enumText('role', p.role) },
      { label: t('registry.col_contact'), cell: (p) => [p.email, p.phone].filter(Boolean).join(', ') },
    ], people) : h('p', { class: 'empty' }, t('registry.empty')),
    add('registry.add_person', P, { id: 'person-add', choices: { institution: institutionChoices(lists) } }),
    h('h2', { id: 'agreements' }, t('registry.agreements')),
    agreements.length ? table(null, [
      { label: label(G, 'parties'), cell: (a) => namesOf(a, 'parties').join(', ') },
      { label: label(G, 'signed'), cell: (a) => dateText(a.signed) },
      { label: label(G, 'until'), cell: (a) => dateText(a.until) },
      { label: label(G, 'text'), cell: (a) => a.text || '' },
    ], agreements) : h('p', { class: 'empty' }, t('registry.empty')),
    add('registry.add_agreement', G, { id: 'agreement-add', choices: { parties: institutionChoices(lists) } }),
    h('h2', { id: 'pzks' }, t('registry.pzks')),
    pzks.length ? h('ul', { class: 'cards' }, pzks.map((z) => h('li', {},
      h('h3', {}, z.name, ' ', h('span', { class: 'hint' }, t('registry.formed', dateText(z.formed)))),
      (z.members || []).length ? table(null, [
        { label: t('registry.col_member'), cell: (m) => nameOf(m, 'institution') },
        { label: t('registry.col_joined'), cell: (m) => dateText(m.joined) },
        { label: t('registry.col_left'), cell: (m) => dateText(m.left) },
        { label: t('registry.col_rep'), cell: (m) => (m.representative ? nameOf(m, 'representative') : '') },
      ], z.members) : h('p', { class: 'empty' }, t('registry.empty')),
      editor ? h('details', {}, h('summary', {}, t('registry.join')),
        form('pzk.join', { preset: { pzk: z.id }, choices: { institution: institutionChoices(lists), representative: peopleChoices(lists) }, onDone: reload })) : null,
      editor ? h('details', {}, h('summary', {}, t('registry.leave')),
        form('pzk.leave', { preset: { pzk: z.id }, choices: { institution: institutionChoices(lists) }, onDone: reload })) : null))) :
      h('p', { class: 'empty' }, t('registry.empty')),
    add('registry.create_pzk', 'pzk.create', { id: 'pzk-create' }));
  return t('registry.title');
}
