// "Write a post": title, text, an optional image / audio / video file (uploaded with a
// progress bar), a content warning and "Post anonymously".

import {send, upload} from './api.js';
import {announce, field, focusOn, h, newId, showErrors} from './dom.js';

const MAX_BYTES = 10 * 1024 * 1024;

/** The media_type for a chosen file, from the browser's idea of it (the server sniffs anyway). */
function mediaType(file) {
  const kind = (file.type || '').split('/')[0];
  return ['image', 'video', 'audio'].includes(kind) ? kind : null;
}

/** The composer: {el}; onPosted(post) gets the created post. */
export function composer(onPosted) {
  const formId = newId('composer');
  const toggle = h('button', {type: 'button', class: 'primary', 'aria-expanded': 'false', 'aria-controls': formId,
    text: 'Write a post'});
  const fields = {
    title: field('Title', h('input', {name: 'title', required: true, maxlength: 200, autocomplete: 'off'})),
    content: field('What weighs on you?', h('textarea', {name: 'content', rows: 4, maxlength: 10000})),
    media: field('Add an image, audio or video (optional)',
      h('input', {name: 'media', type: 'file', accept: 'image/*,audio/*,video/*'}), 'Up to 10 MB. Location data is removed.'),
    content_warning: field('Content warning (optional)', h('input', {name: 'content_warning', maxlength: 100}),
      'For example “grief” or “self-harm”. Readers see only this until they choose to open the post.'),
    anonymous: field('Post anonymously', h('input', {name: 'anonymous', type: 'checkbox'}),
      'Others see “Anonymous” instead of your name.'),
  };
  const progressLabel = h('span', {text: 'Uploading…'});
  const progress = h('progress', {max: 100, value: 0, 'aria-label': 'Upload progress'});
  const progressBox = h('div', {class: 'progress', hidden: true}, progressLabel, progress);
  const general = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary', text: 'Post'});
  const cancel = h('button', {type: 'button', class: 'secondary', text: 'Cancel'});
  const form = h('form', {id: formId, class: 'composer', hidden: true, novalidate: true, 'aria-label': 'Write a post'},
    ...Object.values(fields).map((f) => f.wrap), progressBox, general, h('div', {class: 'actions'}, submit, cancel));

  const setOpen = (open) => {
    form.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.hidden = open;
    if (open) fields.title.input.focus();
    else focusOn(toggle);
  };
  toggle.addEventListener('click', () => setOpen(true));
  cancel.addEventListener('click', () => setOpen(false));
  form.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !submit.disabled) setOpen(false); });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = fields.media.input.files[0];
    const title = fields.title.input.value.trim();
    const values = {
      title,
      content: fields.content.input.value,
      content_warning: fields.content_warning.input.value.trim(),
      anonymous: fields.anonymous.input.checked,
    };
    const local = {};
    if (!title) local.title = ['Give your post a title.'];
    if (!file && !values.content.trim()) local.content = ['Write something, or add a file.'];
    if (file && !mediaType(file)) local.media = ['Choose an image, audio or video file.'];
    if (file && file.size > MAX_BYTES) local.media = ['This file is larger than 10 MB.'];
    if (Object.keys(local).length) { showErrors(fields, general, {body: local}); return; }

    submit.disabled = true;
    try {
      let post;
      if (file) {
        const body = new FormData();
        for (const [key, value] of Object.entries(values)) body.append(key, String(value));
        body.append('media_type', mediaType(file));
        body.append('media', file);
        progressBox.hidden = false;
        post = await upload('/ventroom/posts/', body, (fraction) => {
          const percent = Math.round(fraction * 100);
          progress.value = percent;
          progressLabel.textContent = percent < 100 ? `Uploading… ${percent}%` : 'Uploaded';
        });
      } else {
        post = await send('POST', '/ventroom/posts/', values);
      }
      form.reset();
      showErrors(fields, general, null);
      setOpen(false);
      announce('Your post is published.');
      onPosted(post);
    } catch (err) {
      showErrors(fields, general, err);
    } finally {
      submit.disabled = false;
      progressBox.hidden = true;
      progress.value = 0;
    }
  });
  return {el: h('section', {class: 'compose', 'aria-label': 'New post'}, toggle, form)};
}
