// Log in or create an account; the tokens go to the session (api.js), never into a URL.

import {send, startSession} from './api.js';
import {field, h, showErrors} from './dom.js';

export function authView(main, onDone, notice) {
  let mode = 'login';
  const heading = h('h1', {tabindex: '-1'});
  const intro = h('p', {class: 'intro', text: 'A quiet place to say what weighs on you, and to be heard.'});
  const fields = {
    display_name: field('Name others see', h('input', {name: 'display_name', autocomplete: 'nickname', maxlength: 100}),
      'It does not have to be your real name.'),
    email: field('Email', h('input', {name: 'email', type: 'email', autocomplete: 'email', required: true})),
    password: field('Password', h('input', {name: 'password', type: 'password', required: true, minlength: 8})),
  };
  const general = h('p', {class: 'form-error', role: 'alert', hidden: !notice, text: notice || ''});
  const submit = h('button', {type: 'submit', class: 'primary'});
  const switcher = h('button', {type: 'button', class: 'link'});
  const form = h('form', {class: 'auth', novalidate: true, 'aria-labelledby': 'auth-heading'},
    fields.display_name.wrap, fields.email.wrap, fields.password.wrap, general, submit);
  heading.id = 'auth-heading';
  main.replaceChildren(h('div', {class: 'auth-view'}, heading, intro, form, h('p', {}, switcher)));

  function draw() {
    const registering = mode === 'register';
    heading.textContent = registering ? 'Create an account' : 'Log in';
    submit.textContent = registering ? 'Create account' : 'Log in';
    switcher.textContent = registering ? 'I already have an account' : 'I’m new here: create an account';
    fields.display_name.wrap.hidden = !registering;
    fields.password.input.autocomplete = registering ? 'new-password' : 'current-password';
    fields.password.input.setAttribute('aria-describedby', fields.password.error.id);
  }
  switcher.addEventListener('click', () => {
    mode = mode === 'login' ? 'register' : 'login';
    draw();
    showErrors(fields, general, null);
    (mode === 'register' ? fields.display_name : fields.email).input.focus();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {email: fields.email.input.value.trim(), password: fields.password.input.value};
    if (mode === 'register') body.display_name = fields.display_name.input.value.trim();
    submit.disabled = true;
    try {
      startSession(await send('POST', mode === 'register' ? '/auth/register' : '/auth/login', body));
      onDone();
    } catch (err) {
      showErrors(fields, general, err);
    } finally {
      submit.disabled = false;
    }
  });
  draw();
  return {heading, destroy() {}};
}
