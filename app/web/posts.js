// One post, as a feed card or as the head of its thread; updated in place by events.

import {send} from './api.js';
import {byline, confirmDelete, editForm, isMine, media, merged, reactionBar, warned} from './content.js';
import {announce, focusOn, h, newId} from './dom.js';
import {safetyMenu} from './safety.js';

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export class PostCard {
  /** `full`: the thread's head (h1, whole media) rather than a feed card; onDeleted(id);
   *  onHidden(userId) after the reader muted or blocked the author. */
  constructor(post, {full = false, onDeleted = () => {}, onHidden = () => {}} = {}) {
    this.post = post;
    this.full = full;
    this.onDeleted = onDeleted;
    this.onHidden = onHidden;
    this.mine = isMine(post);
    this.view = {}; // the reader's choices (content warning opened, sensitive media shown)
    this.el = h('article', {class: full ? 'post full' : 'post', 'data-post-id': post.id});
    this.bar = reactionBar('ventpost', post.id, post.reaction_summary, post.user_reaction);
    this.render();
  }

  get id() { return this.post.id; }

  render() {
    const post = this.post;
    const titleId = newId('title');
    const title = this.full
      ? h('h1', {id: titleId, tabindex: '-1', text: post.title})
      : h('h2', {id: titleId}, h('a', {href: `#/post/${post.id}`, text: post.title}));
    const body = h('div', {class: 'body'}, title,
      post.content ? h('p', {class: this.full ? 'text' : 'text clamp', text: post.content}) : null,
      media(post, {thumbnail: !this.full, state: this.view}));
    const warning = (post.content_warning || '').trim();
    this.el.removeAttribute('aria-labelledby');
    this.el.removeAttribute('aria-label');
    if (warning) this.el.setAttribute('aria-label', `Post with a content warning: ${warning}`);
    else this.el.setAttribute('aria-labelledby', titleId);

    const comments = this.full
      ? h('span', {class: 'meta', text: plural(post.total_comment || 0, 'comment', 'comments')})
      : h('a', {class: 'meta', href: `#/post/${post.id}`,
        text: plural(post.total_comment || 0, 'comment', 'comments')});
    const footer = h('div', {class: 'post-footer'}, this.bar.el, comments,
      this.full ? h('span', {class: 'meta', text: plural(post.views || 0, 'view', 'views')}) : null);
    footer.append(this.mine ? this.actions() : safetyMenu(post, 'ventpost', 'post', this.onHidden));
    this.el.replaceChildren(byline(post), warned(post, body, 'post', this.view), footer);
  }

  actions() {
    const actions = h('div', {class: 'actions'});
    const edit = h('button', {type: 'button', class: 'secondary', text: 'Edit'});
    const remove = h('button', {type: 'button', class: 'secondary', text: 'Delete'});
    edit.addEventListener('click', () => this.edit());
    remove.addEventListener('click', () => confirmDelete(actions, 'post', async () => {
      await send('DELETE', `/ventroom/posts/${this.id}/`);
      announce('Post deleted.');
      this.onDeleted(this.id);
    }));
    actions.append(edit, remove);
    return actions;
  }

  edit() {
    const post = this.post;
    const form = editForm([
      ['title', 'Title', h('input', {value: post.title, required: true, maxlength: 200})],
      ['content', 'What you want to say', h('textarea', {value: post.content || '', rows: 5, maxlength: 10000})],
      ['content_warning', 'Content warning (optional)', h('input', {value: post.content_warning || '', maxlength: 100}),
        'Readers see only this until they choose to open the post.'],
    ], (values) => send('PATCH', `/ventroom/posts/${this.id}/`, values), (saved) => {
      if (saved) this.update(saved, {own: true});
      else this.render();
      focusOn(this.el.querySelector('.actions button'));
      if (saved) announce('Post saved.');
    });
    this.el.replaceChildren(form);
    form.querySelector('input').focus();
  }

  /** A newer copy of the post (REST or event). Broadcasts carry `user_reaction: null` and,
   *  for an anonymous post, no author id: the viewer's own knowledge is kept. */
  update(data, {own = false} = {}) {
    if (!own && this.el.querySelector('form.edit')) { this.post = merged(this.post, data); return; } // for after the edit
    const next = merged(this.post, data);
    if (!own) next.user_reaction = this.post.user_reaction;
    if (this.mine && !(data.user && data.user.id)) next.user = this.post.user;
    this.post = next;
    this.bar.update(next.reaction_summary, next.user_reaction);
    this.render();
  }

  /** A ventroom_reaction_updated for this post. */
  reacted(event, meId) {
    this.post.reaction_summary = event.reaction_summary;
    if (event.user_id === meId) this.post.user_reaction = event.user_reaction;
    this.bar.update(event.reaction_summary, event.user_id === meId ? event.user_reaction : undefined);
  }

  commented(delta) {
    this.post.total_comment = Math.max(0, (this.post.total_comment || 0) + delta);
    const meta = this.el.querySelector('.post-footer .meta');
    if (meta) meta.textContent = plural(this.post.total_comment, 'comment', 'comments');
  }
}
