// forms.js - a form for any method, built from its row in GET /api/methods:
// each request field's label (common/labels.def, in the user's language),
// type, enum values and whether it is required. Nothing about a method's
// fields is written here; a view only says which fields it fills itself
// (preset), leaves out (omit), or offers as a choice of records (choices).
//
// The server validates. A refusal is shown next to the field its `field`
// names (aria-invalid, aria-describedby, the field focused) and in the
// form's alert; nothing changes. Native validation is off (novalidate), so
// every message a person sees comes from the API's catalogue.
import { call, method, ApiError } from './api.js';
import { h, newId, announce, sr } from './dom.js';
import { t, enumText } from './i18n.js';

const LONG_TEXT = ['description', 'decisions', 'note', 'topic', 'purpose', 'text', 'reason', 'schedule'];

// A control for one field; returns {el: the .field wrapper, read(): value, focus()}.
function control(formId, input, opts, group) {
  const id = `${formId}-${input.name}`;
  const errId = `${id}-err`;
  const hintText = opts.hints && opts.hints[input.name];
  const hintId = hintText || input.type === 'date' || (input.repeated && input.type === 'string' && !opts.choices?.[input.name])
    ? `${id}-hint` : null;
  const described = [hintId, errId].filter(Boolean).join(' ');
  const label = (opts.labels && opts.labels[input.name]) || input.label || input.name;
  const reqMark = input.required ? h('span', { class: 'req' }, ` (${t('form.required')})`) : null;
  const initial = opts.values ? opts.values[input.name] : undefined;
  const common = { id, name: input.name, 'aria-describedby': described, 'aria-required': input.required ? 'true' : null };
  let el;
  let read;
  let focusEl;
  const choices = opts.choices && opts.choices[input.name];
  const hint = hintId ? h('p', { class: 'hint', id: hintId },
    hintText || (input.type === 'date' ? t('form.date_hint') : t('form.list_hint'))) : null;
  const err = h('p', { class: 'field-error', id: errId, 'aria-live': 'polite' });

  if ((input.type === 'enum' && input.repeated && !choices) || (choices && input.repeated && opts.checkboxes)) {
    const values = choices || input.values.map((v) => ({ value: v, label: enumText(input.name, v, group) }));
    const boxes = values.map((v, i) => {
      const box = h('input', { type: 'checkbox', id: `${id}-${i}`, name: input.name, value: v.value,
        checked: Array.isArray(initial) && initial.includes(v.value) });
      return { box, label: h('label', { for: `${id}-${i}` }, box, v.label) };
    });
    el = h('fieldset', { class: 'field', id, 'aria-describedby': described },
      h('legend', {}, label, reqMark), hint, boxes.map((b) => b.label), err);
    read = () => boxes.filter((b) => b.box.checked).map((b) => b.box.value);
    focusEl = boxes.length ? boxes[0].box : el;
    return { el, read, focus: () => focusEl.focus(), invalid: (on) => boxes.forEach((b) => b.box.setAttribute('aria-invalid', on ? 'true' : 'false')), err };
  }
  if (choices || input.type === 'enum') {
    const values = choices || input.values.map((v) => ({ value: v, label: enumText(input.name, v, group) }));
    const sel = h('select', { ...common, multiple: input.repeated || null },
      input.repeated ? null : h('option', { value: '' }, input.required ? t('form.choose') : t('form.none')),
      values.map((v) => h('option', { value: v.value,
        selected: initial !== undefined && (Array.isArray(initial) ? initial.includes(v.value) : initial === v.value) }, v.label)));
    read = () => (input.repeated ? Array.from(sel.selectedOptions).map((o) => o.value) : sel.value);
    focusEl = sel;
  } else if (input.type === 'bool') {
    const box = h('input', { ...common, type: 'checkbox', checked: initial === true });
    const touched = { v: initial !== undefined };
    box.addEventListener('change', () => { touched.v = true; });
    read = () => (touched.v ? box.checked : undefined);
    el = h('div', { class: 'field' }, h('label', { for: id }, box, ' ', label), hint, err);
    return { el, read, focus: () => box.focus(), invalid: (on) => box.setAttribute('aria-invalid', on ? 'true' : 'false'), err };
  } else if (LONG_TEXT.includes(input.name)) {
    const ta = h('textarea', { ...common, rows: 3 });
    ta.value = initial || '';
    read = () => ta.value.trim();
    focusEl = ta;
  } else {
    const attrs = { ...common, type: 'text', autocomplete: 'off' };
    if (input.type === 'number') { attrs.inputmode = 'numeric'; attrs.type = 'number'; }
    if (input.type === 'date') { attrs.inputmode = 'numeric'; attrs.placeholder = t('form.date_placeholder'); }
    if (input.name === 'password') { attrs.type = 'password'; attrs.autocomplete = 'current-password'; }
    if (input.name === 'login') attrs.autocomplete = 'username';
    if (input.name === 'totp') { attrs.autocomplete = 'one-time-code'; attrs.inputmode = 'numeric'; }
    const inp = h('input', attrs);
    inp.value = initial === undefined || initial === null ? '' : (Array.isArray(initial) ? initial.join(', ') : String(initial));
    read = () => {
      const v = inp.value.trim();
      if (input.repeated) return v ? v.split(',').map((x) => x.trim()).filter(Boolean) : [];
      return v;
    };
    focusEl = inp;
  }
  el = h('div', { class: 'field' }, h('label', { for: id }, label, reqMark), hint, focusEl, err);
  return { el, read, focus: () => focusEl.focus(), invalid: (on) => focusEl.setAttribute('aria-invalid', on ? 'true' : 'false'), err };
}

// form(name, opts) -> <form> for method name.
//   opts.preset   {field: value} sent as given, not shown
//   opts.omit     [field] not shown, not sent
//   opts.only     [field] show only these (and the preset)
//   opts.choices  {field: [{value, label}]} a choice of records
//   opts.values   {field: value} initial values
//   opts.labels   {field: text} a label the view needs instead (e.g. "Szukaj")
//   opts.hints    {field: text}
//   opts.submit   the button's text;  opts.title  a heading (h3) for the form
//   opts.group    the enum group for values (task_status, ipw_status, ...)
//   opts.onDone(reply, fields)  after success;  opts.keep: do not clear
export function form(name, opts = {}) {
  const m = method(name);
  const formId = opts.id || newId(`f-${name.replace(/\./g, '-')}`);
  if (!m) return h('p', { class: 'notice' }, t('form.unavailable'));
  const preset = opts.preset || {};
  const omit = new Set(opts.omit || []);
  const inputs = m.inputs.filter((i) => !(i.name in preset) && !omit.has(i.name) &&
    (!opts.only || opts.only.includes(i.name)));
  if (opts.only) inputs.sort((a, b) => opts.only.indexOf(a.name) - opts.only.indexOf(b.name));
  const controls = new Map(inputs.map((i) => [i.name, control(formId, i, opts, opts.group)]));
  const alert = h('div', { class: 'form-error', role: 'alert', id: `${formId}-alert` });
  const ok = h('div', { class: 'form-ok', role: 'status', id: `${formId}-ok` });
  const button = h('button', { type: 'submit' }, opts.submit || t('form.save'), opts.srSuffix ? sr(` – ${opts.srSuffix}`) : null);
  const titleId = opts.title ? `${formId}-title` : null;
  const f = h('form', { class: opts.inline ? 'inline' : 'koop-form', id: formId, novalidate: true,
    'aria-labelledby': titleId, dataset: { method: name } },
  opts.title ? h('h3', { id: titleId }, opts.title) : null,
  alert, Array.from(controls.values()).map((c) => c.el), h('div', { class: 'actions' }, button), ok);

  function clearErrors() {
    alert.textContent = '';
    ok.textContent = '';
    for (const c of controls.values()) { c.err.textContent = ''; c.invalid(false); }
  }

  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const fields = { ...preset };
    for (const [k, c] of controls) {
      const v = c.read();
      if (v !== undefined && v !== '' && !(Array.isArray(v) && !v.length)) fields[k] = v;
    }
    button.disabled = true;
    try {
      const reply = await call(name, fields);
      if (!opts.keep) f.reset();
      ok.textContent = opts.okText || t('form.saved');
      announce(opts.okText || t('form.saved'));
      if (opts.onDone) await opts.onDone(reply, fields);
    } catch (e) {
      showError(e);
    } finally {
      button.disabled = false;
    }
  });

  function showError(e) {
    const msg = e instanceof ApiError ? e.message : t('error.network');
    const c = e instanceof ApiError && e.field ? controls.get(e.field) : null;
    if (c) {
      c.err.textContent = msg;
      c.invalid(true);
      alert.textContent = t('form.fix_field', msg);
      c.focus();
    } else {
      alert.textContent = msg;
      alert.setAttribute('tabindex', '-1');
      alert.focus();
    }
  }
  f.showError = showError;
  return f;
}

// A one-button action (task done, referral accepted...): a small form with
// the preset fields only; its refusal shows in its own alert.
export function action(name, preset, label, srLabel, onDone) {
  return form(name, { preset, omit: method(name) ? method(name).inputs.map((i) => i.name).filter((n) => !(n in preset)) : [],
    submit: label, inline: true, keep: true, onDone,
    okText: srLabel ? `${label}: ${srLabel}` : label, srSuffix: srLabel });
}

// The label of a request field of a method (common/labels.def, from the
// server): for column headers and record lists too.
export function label(name, field) {
  const m = method(name);
  const i = m && m.inputs.find((x) => x.name === field);
  return (i && i.label) || field;
}
