// names.js - names, never ids, where a person reads. Replies that carry a
// name next to an id (field X_name, X_names, an IPW's X_number: filled by
// the services, common/names.h) are used as they are. Where a reply has
// none yet, the name comes from one list per kind (people, institutions,
// services, IPWs), fetched once per page view - never one call per id.
import { call } from './api.js';

const PERSON = ['owner', 'person', 'coordinator', 'created_by', 'recorded_by', 'actor', 'caller',
  'representative', 'participants'];
const INSTITUTION = ['institution', 'owner_institution', 'provider', 'service_provider', 'parties', 'share_with'];

let lists = null;

// Forget the lists (after a change, or a new page).
export function forget() { lists = null; }

async function get(name, fields) {
  try { return await call(name, fields); } catch (e) { return []; }
}

// Loads the lists (once); returns them: {people, institutions, services, ipws} as Maps.
export async function directory(withIpws) {
  if (!lists) {
    const [people, institutions, services] = await Promise.all([
      get('person.list'), get('institution.list'), get('service.search')]);
    lists = {
      people: new Map(people.map((p) => [p.id, p])),
      institutions: new Map(institutions.map((i) => [i.id, i])),
      services: new Map(services.map((s) => [s.id, s])),
      ipws: null,
    };
  }
  if (withIpws && !lists.ipws) {
    const ipws = await get('ipw.list');
    lists.ipws = new Map(ipws.map((i) => [i.id, i]));
  }
  return lists;
}

function kindOf(field) {
  if (PERSON.includes(field)) return 'people';
  if (INSTITUTION.includes(field)) return 'institutions';
  if (field === 'service') return 'services';
  if (field === 'ipw') return 'ipws';
  return null;
}

function fromList(field, id) {
  const kind = kindOf(field);
  const rec = kind && lists && lists[kind] ? lists[kind].get(id) : null;
  if (!rec) return '';
  return kind === 'ipws' ? rec.number || '' : rec.name || '';
}

// The name to show for obj[field] (an id): obj[field_name], else the lists, else '—'.
export function nameOf(obj, field) {
  if (!obj) return '—';
  const id = obj[field];
  if (!id) return '—';
  const given = field === 'ipw' ? obj.ipw_number : obj[`${field}_name`];
  return given || fromList(field, id) || '—';
}

// The names of a repeated id field.
export function namesOf(obj, field) {
  const ids = (obj && obj[field]) || [];
  const given = (obj && obj[`${field}_names`]) || [];
  return ids.map((id, i) => given[i] || fromList(field, id) || '—');
}

export function personName(id) { return fromList('person', id) || '—'; }
export function institutionName(id) { return fromList('institution', id) || '—'; }
