// "More" on someone else's post or comment: report it, mute or block its author. A report
// for self-harm shows the support resources the server sends back.

import {send} from './api.js';
import {announce, focusOn, h, newId} from './dom.js';

const REASONS = [
  ['self_harm', 'Someone may be at risk of harming themselves'],
  ['harassment', 'Harassment or bullying'],
  ['spam', 'Spam'],
  ['other', 'Something else'],
];
const UNAVAILABLE = 'This server does not offer that yet.';

function resources(list) {
  const items = (list || []).map((r) => h('li', {},
    /^https?:\/\//.test(r.url || '') ? h('a', {href: r.url, rel: 'noopener noreferrer', target: '_blank', text: r.name}) : r.name,
    r.phone ? [' · ', h('a', {href: `tel:${String(r.phone).replace(/[^\d+]/g, '')}`, text: r.phone})] : null));
  return items.length ? h('div', {class: 'support'},
    h('p', {text: 'If you or someone else is in danger, these people can help right now:'}), h('ul', {}, items)) : null;
}

function reportForm(contentType, objectId, noun, close) {
  const legendId = newId('reason');
  const name = newId('reason');
  const radios = REASONS.map(([value, label], i) => {
    const input = h('input', {type: 'radio', name, value, id: `${name}-${i}`, required: true});
    return h('div', {class: 'field check'}, input, h('label', {for: input.id, text: label}));
  });
  const details = h('textarea', {id: newId('details'), rows: 2, maxlength: 1000});
  const message = h('p', {role: 'status'});
  const submit = h('button', {type: 'submit', class: 'primary', text: 'Send report'});
  const form = h('form', {class: 'report', novalidate: true},
    h('fieldset', {'aria-labelledby': legendId}, h('legend', {id: legendId, text: `Why are you reporting this ${noun}?`}), radios),
    h('div', {class: 'field'}, h('label', {for: details.id, text: 'Anything to add? (optional)'}), details),
    message, h('div', {class: 'actions'}, submit, h('button', {type: 'button', class: 'secondary', text: 'Close', onclick: close})));
  form.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const reason = form.querySelector('input:checked');
    if (!reason) { message.textContent = 'Choose a reason first.'; focusOn(form.querySelector('input')); return; }
    submit.disabled = true;
    try {
      const report = await send('POST', '/reports/', {content_type: contentType, object_id: objectId,
        reason: reason.value, details: details.value.trim() || null});
      form.replaceChildren(h('p', {tabindex: '-1', text: 'Thank you. The moderators will look at it.'}),
        resources(report && report.support_resources),
        h('button', {type: 'button', class: 'secondary', text: 'Close', onclick: close}));
      focusOn(form.firstChild);
    } catch (err) {
      submit.disabled = false;
      message.textContent = err.status === 404 ? UNAVAILABLE : err.message;
    }
  });
  return form;
}

/** The menu for `item` (someone else's); onHidden(userId) after a mute or block. */
export function safetyMenu(item, contentType, noun, onHidden) {
  const panelId = newId('more');
  const toggle = h('button', {type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': panelId,
    'aria-label': `More actions for this ${noun}`, text: 'More'});
  const panel = h('div', {id: panelId, class: 'more-panel', hidden: true});
  const wrap = h('div', {class: 'more'}, toggle, panel);
  const setOpen = (open) => {
    toggle.setAttribute('aria-expanded', String(open));
    panel.hidden = !open;
    if (!open) { panel.replaceChildren(); focusOn(toggle); return; }
    panel.replaceChildren(...menu());
    focusOn(panel.querySelector('button'));
  };
  toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true'));

  function menu() {
    const report = h('button', {type: 'button', class: 'secondary', text: `Report this ${noun}`});
    report.addEventListener('click', () => {
      const form = reportForm(contentType, item.id, noun, () => setOpen(false));
      panel.replaceChildren(form);
      focusOn(form.querySelector('input'));
    });
    const buttons = [report];
    const user = item.user || {};
    if (user.id) { // an anonymous author cannot be named, so not muted or blocked either
      for (const [verb, done] of [['mute', 'muted'], ['block', 'blocked']]) {
        const button = h('button', {type: 'button', class: 'secondary', text: `${verb === 'mute' ? 'Mute' : 'Block'} ${user.display_name}`});
        button.addEventListener('click', async () => {
          try {
            await send('POST', `/users/${encodeURIComponent(user.id)}/${verb}`);
          } catch (err) {
            announce(err.status === 404 ? UNAVAILABLE : err.message);
            return;
          }
          announce(`${user.display_name} is ${done}. You will not see their posts and comments.`);
          onHidden(user.id);
        });
        buttons.push(button);
      }
    }
    return buttons;
  }
  return wrap;
}
