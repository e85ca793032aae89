// Pieces shared by posts and comments: the author line, content warnings, media (blurred
// while sensitive), the reaction bar, and inline confirm / edit forms.

import {ApiError, currentUser, send} from './api.js';
import {announce, field, focusOn, h, showErrors, timeEl} from './dom.js';

const REACTIONS = [['👍', 'Like'], ['❤️', 'Love'], ['😂', 'Haha'], ['😢', 'Sad']];

const MEDIA_FIELDS = ['media', 'media_status', 'thumbnail', 'media_info', 'sensitive'];

/** `current` updated with `data`, except that media never goes back to "processing" (a copy
 *  read before processing ended can arrive after the event that said it had). */
export function merged(current, data) {
  const next = {...current, ...data};
  if (data.media_status === 'processing' && current.media_status && current.media_status !== 'processing') {
    for (const key of MEDIA_FIELDS) next[key] = current[key];
  }
  return next;
}

/** Whether the signed-in user wrote `item` (an anonymous item's author still sees their id). */
export function isMine(item) {
  const me = currentUser();
  return Boolean(me && item.user && item.user.id && item.user.id === me.id);
}

export function authorName(item) {
  const user = item.user || {};
  if (!user.id) return 'Anonymous';
  return isMine(item) && item.anonymous ? `${user.display_name} (posted anonymously)` : user.display_name;
}

export function byline(item) {
  const edited = item.updated_at && item.created_at && item.updated_at !== item.created_at;
  return h('p', {class: 'byline'},
    h('span', {class: 'author', text: authorName(item)}), ' · ', timeEl(item.created_at),
    edited ? h('span', {class: 'edited', text: ' · edited'}) : null);
}

/** `body` behind a "Show post" button when the item has a content warning; `state.open`
 *  remembers the reader's choice across redraws. */
export function warned(item, body, noun = 'post', state = {}) {
  const warning = (item.content_warning || '').trim();
  if (!warning) return body;
  const button = h('button', {type: 'button', class: 'secondary'});
  const draw = () => {
    button.setAttribute('aria-expanded', String(Boolean(state.open)));
    button.textContent = state.open ? `Hide ${noun}` : `Show ${noun}`;
    body.hidden = !state.open;
  };
  button.addEventListener('click', () => { state.open = !state.open; draw(); });
  draw();
  return h('div', {class: 'cw'},
    h('p', {class: 'cw-label'}, h('strong', {text: 'Content warning: '}), warning), button, body);
}

const KIND = {image: 'image', video: 'video', audio: 'audio recording'};

/** The item's media: a placeholder while processing; blurred behind a button when sensitive
 *  (`state.revealed` remembers the reveal). */
export function media(item, {thumbnail = false, state = {}} = {}) {
  if (!item.media_type) return null;
  const kind = KIND[item.media_type] || 'file';
  if (item.media_status === 'processing' || (!item.media && item.media_status !== 'failed')) {
    return h('p', {class: 'media-pending', text: `Preparing the ${kind}…`});
  }
  if (item.media_status === 'failed' || !item.media) {
    return h('p', {class: 'media-pending', text: `This ${kind} could not be processed.`});
  }
  const info = item.media_info || {};
  const size = info.width && info.height ? {width: info.width, height: info.height} : {};
  let el;
  if (item.media_type === 'image') {
    // Feed cards let the browser take the thumbnail (480 px) when it is wide enough.
    const srcset = thumbnail && item.thumbnail && info.width > 480 ? `${item.thumbnail} 480w, ${item.media} ${info.width}w` : null;
    el = h('img', {src: item.media, srcset, sizes: srcset ? '(max-width: 44rem) 100vw, 42rem' : null,
      alt: item.title ? `Image shared with “${item.title}”` : 'Image shared in a comment',
      loading: 'lazy', decoding: 'async', ...size});
  } else if (item.media_type === 'video') {
    el = h('video', {src: item.media, controls: true, preload: 'metadata', poster: item.thumbnail || null, ...size});
  } else {
    el = h('audio', {src: item.media, controls: true, preload: 'none'});
  }
  const box = h('div', {class: `media media-${item.media_type}`}, el);
  if (!item.sensitive || state.revealed) return box;
  box.classList.add('blurred');
  box.inert = true;
  const reveal = h('button', {type: 'button', class: 'secondary reveal', text: `Show sensitive ${kind}`});
  reveal.addEventListener('click', () => {
    state.revealed = true;
    box.classList.remove('blurred');
    box.inert = false;
    reveal.remove();
    focusOn(el);
  });
  return h('div', {class: 'sensitive'}, box, reveal);
}

/** 👍 ❤️ 😂 😢 toggle buttons; `update(summary, mine)` redraws the counts. */
export function reactionBar(contentType, objectId, summary, mine) {
  const state = {summary: summary || [], mine: mine || null};
  const buttons = new Map();
  const bar = h('div', {class: 'reactions', role: 'group', 'aria-label': 'Reactions'});
  for (const [emoji, name] of REACTIONS) {
    const count = h('span', {class: 'count'});
    const button = h('button', {type: 'button', class: 'reaction'}, h('span', {'aria-hidden': 'true', text: emoji}), count);
    button.addEventListener('click', () => toggle(emoji));
    buttons.set(emoji, {button, count, name});
    bar.append(button);
  }
  function draw() {
    for (const [emoji, {button, count, name}] of buttons) {
      const entry = state.summary.find((r) => r.reaction_type === emoji);
      const n = entry ? entry.count : 0;
      count.textContent = n ? String(n) : '';
      button.setAttribute('aria-pressed', String(state.mine === emoji));
      button.setAttribute('aria-label', `${name}: ${n} ${n === 1 ? 'reaction' : 'reactions'}`);
    }
  }
  async function toggle(emoji) {
    const removing = state.mine === emoji;
    const before = {...state};
    state.mine = removing ? null : emoji; // shown at once; the answer or the event corrects it
    draw();
    try {
      if (removing) {
        await send('DELETE', '/ventroom/reactions/', undefined, {content_type: contentType, object_id: objectId});
      } else {
        const answer = await send('POST', '/ventroom/reactions/',
          {content_type: contentType, object_id: objectId, reaction_type: emoji});
        state.summary = answer.reaction_summary || state.summary;
      }
      draw();
    } catch (err) {
      Object.assign(state, before);
      draw();
      announce(err instanceof ApiError ? err.message : 'Could not react.');
    }
  }
  draw();
  return {
    el: bar,
    /** From an event: counts always; `user_reaction` only when the reactor is this user. */
    update(summary, mine) {
      state.summary = summary || [];
      if (mine !== undefined) state.mine = mine;
      draw();
    },
  };
}

/** An inline "Delete this …?" confirmation in place of `host`'s actions. */
export function confirmDelete(actions, noun, onConfirm) {
  const message = h('p', {text: `Delete this ${noun}? This cannot be undone.`});
  const yes = h('button', {type: 'button', class: 'danger', text: `Delete ${noun}`});
  const no = h('button', {type: 'button', class: 'secondary', text: 'Cancel'});
  const box = h('div', {class: 'confirm', role: 'group', 'aria-label': `Delete ${noun}`}, message, yes, no);
  const restore = () => { box.replaceWith(actions); actions.hidden = false; focusOn(actions.querySelector('button')); };
  no.addEventListener('click', restore);
  box.addEventListener('keydown', (e) => { if (e.key === 'Escape') restore(); });
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    try {
      await onConfirm();
    } catch (err) {
      yes.disabled = false;
      message.textContent = err.message;
    }
  });
  actions.after(box);
  actions.hidden = true;
  no.focus();
}

/** An inline edit form: `inputs` are [name, label, element, hint?]; save(values) -> item. */
export function editForm(inputs, save, done) {
  const fields = {};
  const general = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const form = h('form', {class: 'edit', novalidate: true});
  for (const [name, label, input, hint] of inputs) {
    fields[name] = field(label, input, hint);
    form.append(fields[name].wrap);
  }
  const saveButton = h('button', {type: 'submit', text: 'Save'});
  const cancel = h('button', {type: 'button', class: 'secondary', text: 'Cancel', onclick: () => done(null)});
  form.append(general, h('div', {class: 'actions'}, saveButton, cancel));
  form.addEventListener('keydown', (e) => { if (e.key === 'Escape') done(null); });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, f.input.value]));
    saveButton.disabled = true;
    try {
      done(await save(values));
    } catch (err) {
      saveButton.disabled = false;
      showErrors(fields, general, err);
    }
  });
  return form;
}
