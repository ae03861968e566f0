// The login page: session.login's form (login, password), then, when the
// account has TOTP on, the one-time code alone.
import { form } from '../forms.js';
import { h, fill } from '../dom.js';
import { t } from '../i18n.js';

let noticeBox = null;

export function notice(text) {
  if (noticeBox) noticeBox.textContent = text;
}

export async function show(main, onLoggedIn) {
  noticeBox = h('p', { class: 'notice', role: 'status', id: 'login-notice' });
  const box = h('div', {});
  const step1 = form('session.login', {
    id: 'login', omit: ['totp'], submit: t('login.submit'), keep: true, okText: ' ',
    onDone: async (reply, fields) => {
      if (reply.totp_required) {
        fill(box, h('h2', {}, t('login.totp_title')), h('p', {}, t('login.totp_intro')),
          form('session.login', { id: 'totp', only: ['totp'], submit: t('login.totp_submit'), okText: ' ', onDone: (r) => onLoggedIn(r) }));
        box.querySelector('input').focus();
        return;
      }
      await onLoggedIn(reply);
    },
  });
  fill(box, step1);
  fill(main, h('h1', {}, t('login.title')), noticeBox, h('p', {}, t('login.intro')), box);
  noticeBox.textContent = '';
  const first = main.querySelector('#login-login');
  if (first) first.focus();
  return t('login.title');
}
