// Reports: the model's evaluation and its indicators for a period (tables
// and SVG charts, CSV from the same presentation module koopctl uses), and
// the sync state: a gmina's link to its powiat, or on a hub every gmina's.
import { call, url } from '../api.js';
import { form } from '../forms.js';
import { h, fill, table } from '../dom.js';
import { t, timeText } from '../i18n.js';
import { barChart } from '../chart.js';

function value(v) {
  if (v === '<3') return t('reports.suppressed');
  if (v === null || v === undefined) return t('reports.no_value');
  return typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : String(v);
}

function groupsOf(figures) {
  const groups = new Map();
  for (const f of figures || []) {
    if (!groups.has(f.group)) groups.set(f.group, []);
    groups.get(f.group).push(f);
  }
  return groups;
}

function indicatorsView(rep) {
  const out = [];
  for (const [, figs] of groupsOf(rep.figures)) {
    const title = t(`reports.group.${figs[0].group}`);
    const rows = figs.map((f) => ({ label: f.dim_label ? `${f.label}: ${f.dim_label}` : f.label, value: f.value, f }));
    out.push(h('section', { class: 'report-group', dataset: { group: figs[0].group } },
      table(title, [
        { label: t('reports.col_figure'), cell: (r) => r.label },
        { label: t('reports.col_value'), cell: (r) => value(r.value), num: true },
      ], rows, null, (r) => (r.f.dim ? `${r.f.key}.${r.f.dim}` : r.f.key)),
      barChart(t('reports.chart', title), rows.filter((r) => !String(r.f.key).match(/_(rate|avg|median)/)))));
  }
  return out;
}

function syncView(st) {
  if (!st) return null;
  if (Array.isArray(st.nodes)) {
    return [h('h2', { id: 'sync' }, t('reports.sync_hub')), table(null, [
      { label: t('reports.col_gmina'), cell: (n) => n.node_name || n.node },
      { label: t('reports.col_state'), cell: (n) => h('span', { class: n.connected ? 'tag good' : 'tag bad' }, n.connected ? t('reports.connected') : t('reports.disconnected')) },
      { label: t('reports.last_contact'), cell: (n) => (n.last_contact_ms ? timeText(n.last_contact_ms) : t('reports.never')) },
      { label: t('reports.col_events'), cell: (n) => Object.entries(n.streams || {}).map(([k, s]) => `${k}: ${s.events ?? s.acked ?? 0}`).join(', '), num: false },
    ], st.nodes)];
  }
  return [h('h2', { id: 'sync' }, t('reports.sync')), table(null, [
    { label: t('reports.col_state'), cell: () => h('span', { class: st.connected ? 'tag good' : 'tag bad' }, st.connected ? t('reports.connected') : t('reports.disconnected')) },
    { label: t('reports.last_contact'), cell: () => (st.last_contact_ms ? timeText(st.last_contact_ms) : t('reports.never')) },
    { label: t('reports.pending'), cell: () => String(st.pending ?? 0), num: true },
  ], [st])];
}

export async function show(box, args) {
  const results = h('div', { id: 'report-results' });
  const render = async (fields, given) => {
    const [rep, ev] = await Promise.all([given || call('report.indicators', fields), call('report.evaluation', fields).catch(() => null)]);
    fill(results,
      h('p', {}, t('reports.unit', [rep.unit_name || rep.unit, rep.from && rep.to ? `${rep.from} – ${rep.to}` : rep.as_of].filter(Boolean).join(', '))),
      h('p', { class: 'actions' },
        h('a', { class: 'button secondary', id: 'csv-indicators', href: url('report.indicators', fields, { format: 'csv' }).query, download: 'wskazniki.csv' }, t('reports.csv_ind')),
        h('a', { class: 'button secondary', id: 'csv-evaluation', href: url('report.evaluation', fields, { format: 'csv' }).query, download: 'ocena.csv' }, t('reports.csv_eval'))),
      ev && ev.summary ? [h('h2', { id: 'evaluation' }, t('reports.evaluation')), h('p', { id: 'evaluation-summary' }, ev.summary)] : null,
      h('h2', { id: 'indicators' }, t('reports.indicators')),
      indicatorsView(rep));
  };
  let st = null;
  try { st = await call('sync.status'); } catch (e) { st = null; }
  fill(box, h('h1', {}, t('reports.title')),
    form('report.indicators', { id: 'report-form', keep: true, submit: t('reports.show'), okText: ' ', title: t('reports.period'),
      onDone: (rep, fields) => render(fields, rep) }),
    results, syncView(st));
  await render({});
  void args;
  return t('reports.title');
}
