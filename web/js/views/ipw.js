// An IPW programme: its family, ZZK, goals with the PSR scale over time,
// tasks, meetings, referrals and timeline, each editable through the
// method's own form; and the printable programme with signature lines.
import { call } from '../api.js';
import { form, action, label } from '../forms.js';
import { h, fill, table, record } from '../dom.js';
import { t, term, capital, enumText, dateText } from '../i18n.js';
import { directory, nameOf, namesOf } from '../names.js';
import { psrChart } from '../chart.js';
import { peopleChoices } from './families.js';

async function load(id) {
  const [ipw, lists] = await Promise.all([call('ipw.show', { ipw: id }), directory(false)]);
  let household = null;
  if (!ipw.household_name) {
    try { household = await call('household.show', { household: ipw.household }); } catch (e) { household = null; }
  }
  return { ipw, lists, household };
}

function familyName(d) {
  return d.ipw.household_name || (d.household && d.household.name) || '—';
}

function members(ipw) { return (ipw.members || []).filter((m) => !m.removed); }

function memberChoices(d) {
  return members(d.ipw).map((m) => ({ value: m.person, label: `${nameOf(m, 'person')} – ${nameOf(m, 'institution')}` }));
}

function goalText(g) {
  return [enumText('area', g.area), g.description].filter(Boolean).join(': ');
}

// Today as YYYY-MM-DD, the browser's local date.
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

// An event of the timeline in labels.def's words (set "event", as koopctl
// says it: "<type>.future" for one dated after today, a meeting planned),
// capitalised at the start of its line; an event labels.def does not name
// is "Other event", never its raw type.
function eventText(e) {
  const w = (e.date && e.date.slice(0, 10) > today() && term('timeline', `${e.type}.future`)) || term('timeline', e.type);
  return w ? capital(w) : t('ipw.event_other');
}

function goalChoices(ipw) {
  return (ipw.goals || []).map((g) => ({ value: g.id, label: goalText(g) }));
}

function serviceChoices(lists) {
  return Array.from(lists.services.values()).filter((s) => s.active !== false)
    .map((s) => ({ value: s.id, label: `${s.name} – ${(lists.institutions.get(s.provider) || {}).name || ''}` }));
}

function psrPoints(g) {
  return [{ date: g.added, value: g.baseline, label: dateText(g.added) }]
    .concat((g.scalings || []).map((s) => ({ date: s.date, value: s.value, label: dateText(s.date) })));
}

function goalCard(g, reload, i) {
  const pts = psrPoints(g);
  const latest = pts[pts.length - 1];
  const desc = t('ipw.chart_desc', g.baseline, g.target, (g.scalings || []).map((s) => `${dateText(s.date)}: ${s.value}`).join('; ') || t('ipw.no_ratings'));
  return h('li', {},
    h('h3', {}, goalText(g)),
    record([[t('ipw.baseline'), g.baseline], [t('ipw.target'), g.target], [t('ipw.latest'), `${latest.value} (${latest.label})`]]),
    psrChart(t('ipw.chart_title', goalText(g)), desc, pts, g.target),
    reload ? h('details', {}, h('summary', {}, t('ipw.scale')),
      form('goal.scale', { id: `goal-scale-${i}`, preset: { goal: g.id }, onDone: reload })) : null);
}

function tasksTable(ipw, withActions, reload) {
  const goals = new Map((ipw.goals || []).map((g) => [g.id, g]));
  const cols = [
    { label: t('tasks.col_title'), cell: (x) => x.title },
    { label: t('ipw.col_owner'), cell: (x) => nameOf(x, 'owner') },
    { label: t('ipw.col_institution'), cell: (x) => nameOf(x, 'owner_institution') },
    { label: t('tasks.col_due'), cell: (x) => dateText(x.due) },
    { label: t('ipw.col_goal'), cell: (x) => (goals.get(x.goal) ? goalText(goals.get(x.goal)) : '') },
    { label: t('tasks.col_status'), cell: (x) => [enumText('status', x.status, 'task_status'), x.done ? ` ${dateText(x.done)}` : ''] },
  ];
  if (withActions) {
    cols.push({ label: t('tasks.col_actions'), cell: (x) => (x.status === 'planned' || x.status === 'in_progress' ? h('div', { class: 'actions' },
      x.status === 'planned' ? action('task.start', { task: x.id }, t('tasks.start'), x.title, reload) : null,
      action('task.done', { task: x.id }, t('tasks.done'), x.title, reload)) : '') });
  }
  return table(null, cols, ipw.tasks || []);
}

function zzkTable(ipw, reload) {
  return table(null, [
    { label: t('ipw.col_person'), cell: (m) => [nameOf(m, 'person'), m.coordinator ? [' ', h('span', { class: 'tag' }, t('ipw.coordinator_mark'))] : null] },
    { label: t('ipw.col_institution'), cell: (m) => nameOf(m, 'institution') },
    { label: t('ipw.col_sector'), cell: (m) => enumText('sector', m.sector) },
    { label: t('ipw.col_added'), cell: (m) => [dateText(m.added), m.removed ? ` – ${t('ipw.removed', dateText(m.removed))}` : ''] },
    ...(reload ? [{ label: t('tasks.col_actions'), cell: (m) => (m.removed || m.coordinator ? '' :
      action('ipw.member.remove', { ipw: ipw.id, person: m.person }, t('ipw.remove'), nameOf(m, 'person'), reload)) }] : []),
  ], ipw.members || []);
}

export async function show(box, [id]) {
  const d = await load(id);
  const { ipw, lists } = d;
  const reload = () => show(box, [id]);
  const title = t('ipw.title', ipw.number || '');
  const [timeline] = await Promise.all([call('ipw.timeline', { ipw: id }).catch(() => [])]);
  const step = (name, key) => form(name, { preset: { ipw: id }, title: t(key), onDone: reload });
  fill(box,
    h('h1', {}, title, ' ', h('span', { class: 'tag' }, enumText('status', ipw.status, 'ipw_status'))),
    h('p', { class: 'actions' }, h('a', { class: 'button secondary', href: `#/druk/${encodeURIComponent(id)}`, id: 'print-link' }, t('ipw.print'))),
    record([
      [t('ipw.family'), h('a', { href: `#/gospodarstwo/${encodeURIComponent(ipw.household)}` }, familyName(d))],
      [label('ipw.open', 'coordinator'), nameOf(ipw, 'coordinator')],
      [label('ipw.open', 'opened'), dateText(ipw.opened)],
      [t('ipw.activate'), dateText(ipw.signed)],
      [label('ipw.close', 'outcome'), ipw.closed ? `${enumText('outcome', ipw.outcome)} (${dateText(ipw.closed)})` : ''],
      [t('ipw.review'), (ipw.reviews || []).map(dateText).join(', ')],
    ]),
    h('details', {}, h('summary', {}, t('ipw.steps')),
      step('ipw.activate', 'ipw.activate'), step('ipw.review', 'ipw.review'), step('ipw.suspend', 'ipw.suspend'),
      step('ipw.resume', 'ipw.resume'), step('ipw.close', 'ipw.close')),

    h('h2', { id: 'zzk' }, t('ipw.zzk')),
    zzkTable(ipw, reload),
    h('details', {}, h('summary', {}, t('ipw.add_member')),
      form('ipw.member.add', { id: 'zzk-add', preset: { ipw: id }, choices: { person: peopleChoices(lists) }, onDone: reload })),

    h('h2', { id: 'goals' }, t('ipw.goals')),
    (ipw.goals || []).length ? h('ul', { class: 'cards' }, ipw.goals.map((g, i) => goalCard(g, reload, i))) : h('p', { class: 'empty' }, t('ipw.none')),
    h('details', {}, h('summary', {}, t('ipw.add_goal')),
      form('goal.add', { id: 'goal-add', preset: { ipw: id }, onDone: reload })),

    h('h2', { id: 'tasks' }, t('ipw.tasks')),
    (ipw.tasks || []).length ? tasksTable(ipw, true, reload) : h('p', { class: 'empty' }, t('ipw.none')),
    h('details', {}, h('summary', {}, t('ipw.add_task')),
      form('task.add', { id: 'task-add', preset: { ipw: id },
        choices: { owner: memberChoices(d), goal: goalChoices(ipw), service: serviceChoices(lists) }, onDone: reload })),

    h('h2', { id: 'meetings' }, t('ipw.meetings')),
    (ipw.meetings || []).length ? table(null, [
      { label: t('ipw.col_date'), cell: (m) => dateText(m.date) },
      { label: t('ipw.col_topic'), cell: (m) => [m.topic, m.decisions ? h('p', {}, m.decisions) : null] },
      { label: t('ipw.col_participants'), cell: (m) => namesOf(m, 'participants').join(', ') },
    ], ipw.meetings) : h('p', { class: 'empty' }, t('ipw.none')),
    h('details', {}, h('summary', {}, t('ipw.add_meeting')),
      form('meeting.add', { id: 'meeting-add', preset: { ipw: id }, choices: { participants: memberChoices(d) }, onDone: reload })),

    h('h2', { id: 'referrals' }, t('ipw.referrals')),
    (ipw.referrals || []).length ? table(null, [
      { label: t('ipw.col_service'), cell: (r) => nameOf(r, 'service') },
      { label: t('ipw.col_provider'), cell: (r) => nameOf(r, 'provider') },
      { label: t('ipw.col_date'), cell: (r) => dateText(r.sent) },
      { label: t('tasks.col_status'), cell: (r) => enumText('status', r.status, 'referral_status') },
      { label: t('tasks.col_actions'), cell: (r) => h('div', { class: 'actions' },
        r.status === 'sent' ? [action('referral.accept', { referral: r.id }, t('ipw.accept'), nameOf(r, 'service'), reload),
          action('referral.decline', { referral: r.id }, t('ipw.decline'), nameOf(r, 'service'), reload)] : null,
        r.status === 'accepted' ? action('referral.done', { referral: r.id }, t('ipw.referral_done'), nameOf(r, 'service'), reload) : null) },
    ], ipw.referrals) : h('p', { class: 'empty' }, t('ipw.none')),
    h('details', {}, h('summary', {}, t('ipw.send_referral')),
      form('referral.send', { id: 'referral-send', preset: { ipw: id },
        choices: { service: serviceChoices(lists), goal: goalChoices(ipw) }, onDone: reload })),

    h('h2', { id: 'timeline' }, t('ipw.timeline')),
    timeline.length ? table(null, [
      { label: t('ipw.col_date'), cell: (e) => dateText(e.date) },
      { label: t('ipw.col_what'), cell: (e) => [h('strong', {}, eventText(e)), e.summary ? h('br', {}) : null, e.summary || ''] },
      { label: t('ipw.col_who'), cell: (e) => nameOf(e, 'actor') },
    ], timeline) : h('p', { class: 'empty' }, t('ipw.none')));
  return title;
}

// The printable programme (print.css): family, ZZK, goals, actions with
// owners and deadlines, signature lines for the family and every member.
export async function print(box, [id]) {
  const d = await load(id);
  const { ipw } = d;
  const hh = d.household;
  const title = t('print.title', ipw.number || '');
  const team = members(ipw);
  fill(box,
    h('p', { class: 'actions' },
      h('button', { type: 'button', onclick: () => window.print(), id: 'print-button' }, t('print.button')), ' ',
      h('a', { class: 'button secondary', href: `#/ipw/${encodeURIComponent(id)}` }, t('print.back'))),
    h('h1', {}, title),
    h('h2', {}, t('ipw.family')),
    record([
      [t('ipw.family'), familyName(d)],
      [label('household.add', 'address'), hh && hh.address],
      [label('household.add', 'size'), hh && hh.size],
      [label('ipw.open', 'opened'), dateText(ipw.opened)],
      [label('ipw.open', 'coordinator'), nameOf(ipw, 'coordinator')],
      [t('families.col_status'), enumText('status', ipw.status, 'ipw_status')],
    ]),
    h('h2', {}, t('ipw.zzk')),
    zzkTable({ ...ipw, members: team }, null),
    h('h2', {}, t('print.goals')),
    (ipw.goals || []).length ? h('ul', { class: 'cards' }, ipw.goals.map((g) => goalCard(g, null))) : h('p', { class: 'empty' }, t('ipw.none')),
    h('h2', {}, t('print.actions')),
    (ipw.tasks || []).length ? tasksTable(ipw, false) : h('p', { class: 'empty' }, t('ipw.none')),
    h('section', { class: 'signatures', 'aria-labelledby': 'sign-h' },
      h('h2', { id: 'sign-h' }, t('print.signatures')),
      h('ul', {},
        h('li', {}, h('span', { class: 'line' }), t('print.place_date')),
        h('li', {}, h('span', { class: 'line' }), t('print.family')),
        team.map((m) => h('li', {}, h('span', { class: 'line' }), `${nameOf(m, 'person')} – ${nameOf(m, 'institution')}`)))));
  return title;
}
