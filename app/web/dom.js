// DOM helpers. Every user string goes in through textContent or an attribute, never as
// markup (the page's CSP also refuses innerHTML: trusted-types 'none').

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'required', 'multiple']);

/** h('button', {class: 'x', onclick: fn, 'aria-pressed': 'true'}, 'text', childNode, ...) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

let uid = 0;
export const newId = (prefix) => `${prefix}-${++uid}`;

/** A labelled form field: {wrap, input, error}; the error text is tied by aria-describedby. */
export function field(label, input, hint) {
  const id = input.id || (input.id = newId('f'));
  const hintEl = hint ? h('p', {class: 'hint', id: `${id}-hint`, text: hint}) : null;
  const error = h('p', {class: 'field-error', id: `${id}-error`, hidden: true});
  input.setAttribute('aria-describedby', [hintEl && hintEl.id, error.id].filter(Boolean).join(' '));
  const labelEl = h('label', {for: id, text: label});
  const wrap = input.type === 'checkbox'
    ? h('div', {class: 'field check'}, input, labelEl, hintEl, error)
    : h('div', {class: 'field'}, labelEl, hintEl, input, error);
  return {wrap, input, error};
}

/** Show a server error body ({field: [msg]} or {detail}) on a form's fields, else in `general`. */
export function showErrors(fields, general, err) {
  const body = (err && err.body) || {};
  let shown = false;
  for (const [name, f] of Object.entries(fields)) {
    const messages = body[name];
    f.error.hidden = !messages;
    f.error.textContent = messages ? [].concat(messages).join(' ') : '';
    f.input.toggleAttribute('aria-invalid', Boolean(messages));
    if (messages && !shown) { f.input.focus(); shown = true; }
  }
  general.textContent = shown ? '' : (err ? err.message : '');
  general.hidden = !general.textContent;
}

const live = () => document.getElementById('announcer');
let lastText = '';
/** Tell screen-reader users something, politely; the same words twice in a row are said once. */
export function announce(text) {
  const region = live();
  if (!region || text === lastText) return;
  lastText = text;
  region.textContent = text;
  setTimeout(() => { if (lastText === text) { lastText = ''; } }, 3000);
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, {numeric: 'auto'});
const ABSOLUTE = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
const STEPS = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year']];

export function timeEl(iso) {
  const date = new Date(iso);
  let amount = (date.getTime() - Date.now()) / 1000;
  let unit = 'second';
  for (const [size, name] of STEPS) {
    unit = name;
    if (Math.abs(amount) < size) break;
    amount /= size;
  }
  const text = Math.abs(amount) < 45 && unit === 'second' ? 'just now' : RELATIVE.format(Math.round(amount), unit);
  return h('time', {datetime: iso, title: ABSOLUTE.format(date), text});
}

/** Move focus to `el` (made focusable for scripts only) without scrolling it away. */
export function focusOn(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && !el.matches('a,button,input,textarea,select')) el.setAttribute('tabindex', '-1');
  el.focus();
}
