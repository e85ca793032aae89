// A post's comment thread: nested replies, a reply box per comment, edit/delete of your
// own, reactions; changed in place by REST answers and events alike (idempotently).

import {send} from './api.js';
import {authorName, byline, confirmDelete, editForm, isMine, media, merged, reactionBar, warned} from './content.js';
import {announce, field, focusOn, h, showErrors} from './dom.js';
import {safetyMenu} from './safety.js';

/** A small form to write a comment or a reply: onSent(comment); onCancel() when given. */
export function commentForm(postId, parent, label, onSent, onCancel) {
  const fields = {
    text: field(label, h('textarea', {name: 'text', rows: 3, maxlength: 5000, required: true})),
    anonymous: field('Post anonymously', h('input', {type: 'checkbox', name: 'anonymous'})),
  };
  const general = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary', text: parent ? 'Reply' : 'Comment'});
  const actions = h('div', {class: 'actions'}, submit);
  if (onCancel) actions.append(h('button', {type: 'button', class: 'secondary', text: 'Cancel', onclick: onCancel}));
  const form = h('form', {class: 'comment-form', novalidate: true}, fields.text.wrap, fields.anonymous.wrap, general, actions);
  if (onCancel) form.addEventListener('keydown', (e) => { if (e.key === 'Escape') onCancel(); });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = fields.text.input.value.trim();
    if (!text) { showErrors(fields, general, {body: {text: ['Write something first.']}}); return; }
    submit.disabled = true;
    try {
      const comment = await send('POST', `/ventroom/posts/${postId}/comments/`,
        {text, parent, anonymous: fields.anonymous.input.checked});
      form.reset();
      showErrors(fields, general, null);
      onSent(comment);
    } catch (err) {
      showErrors(fields, general, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export class CommentTree {
  /** onCount(delta): comments added (+) or removed (-), replies included. */
  constructor(postId, meId, onCount) {
    this.postId = postId;
    this.meId = meId;
    this.onCount = onCount;
    this.nodes = new Map(); // id -> {comment, li, article, replies, bar, view}
    this.el = h('ol', {class: 'comments'});
  }

  setAll(roots) {
    this.nodes.clear();
    this.el.replaceChildren(...roots.map((c) => this.build(c)));
  }

  build(comment) {
    const node = {comment, view: {}, bar: reactionBar('ventcomment', comment.id, comment.reaction_summary, comment.user_reaction)};
    node.replies = h('ol', {class: 'comments replies'});
    node.article = h('article', {class: 'comment', 'aria-label': `Comment by ${authorName(comment)}`});
    node.li = h('li', {'data-comment-id': comment.id}, node.article, node.replies);
    this.nodes.set(comment.id, node);
    this.draw(node);
    for (const reply of comment.replies || []) node.replies.append(this.build(reply));
    return node.li;
  }

  draw(node) {
    const comment = node.comment;
    const body = h('div', {class: 'body'}, comment.text ? h('p', {class: 'text', text: comment.text}) : null,
      media(comment, {state: node.view}));
    const reply = h('button', {type: 'button', class: 'secondary', text: 'Reply'});
    reply.addEventListener('click', () => this.openReply(node, reply));
    const actions = h('div', {class: 'actions'}, reply);
    if (isMine(comment)) {
      const edit = h('button', {type: 'button', class: 'secondary', text: 'Edit'});
      const remove = h('button', {type: 'button', class: 'secondary', text: 'Delete'});
      edit.addEventListener('click', () => this.edit(node));
      remove.addEventListener('click', () => confirmDelete(actions, 'comment', async () => {
        await send('DELETE', `/ventroom/posts/${this.postId}/comments/${comment.id}/`);
        announce('Comment deleted.');
        this.remove(comment.id);
      }));
      actions.append(edit, remove);
    } else {
      actions.append(safetyMenu(comment, 'ventcomment', 'comment', (userId) => this.hideUser(userId)));
    }
    node.article.replaceChildren(byline(comment), warned(comment, body, 'comment', node.view),
      h('div', {class: 'comment-footer'}, node.bar.el, actions));
  }

  openReply(node, button) {
    const existing = node.li.querySelector(':scope > form');
    if (existing) { existing.querySelector('textarea').focus(); return; }
    const close = () => { form.remove(); focusOn(button); };
    const form = commentForm(this.postId, node.comment.id, `Reply to ${authorName(node.comment)}`, (comment) => {
      this.add(comment);
      announce('Reply posted.');
      close();
    }, close);
    node.article.after(form);
    form.querySelector('textarea').focus();
  }

  edit(node) {
    const form = editForm([['text', 'Edit your comment', h('textarea', {value: node.comment.text, rows: 3, maxlength: 5000})]],
      (values) => send('PATCH', `/ventroom/posts/${this.postId}/comments/${node.comment.id}/`, values),
      (saved) => {
        if (saved) this.update(saved, true);
        else this.draw(node);
        focusOn(node.article.querySelector('.actions button'));
        if (saved) announce('Comment saved.');
      });
    node.article.replaceChildren(form);
    form.querySelector('textarea').focus();
  }

  /** A new comment (REST answer or event); once, under its parent, newest first. */
  add(comment) {
    if (this.nodes.has(comment.id)) return false;
    const parent = comment.parent ? this.nodes.get(comment.parent) : null;
    if (comment.parent && !parent) return false; // its parent is gone or not loaded
    (parent ? parent.replies : this.el).prepend(this.build({...comment, replies: []}));
    this.onCount(1);
    return true;
  }

  update(comment, own = false) {
    const node = this.nodes.get(comment.id);
    if (!node || (!own && node.article.querySelector('form.edit'))) return; // not under the writer's hands
    const mine = isMine(node.comment);
    const next = {...merged(node.comment, comment), replies: undefined};
    if (!own) next.user_reaction = node.comment.user_reaction;
    if (mine && !(comment.user && comment.user.id)) next.user = node.comment.user;
    node.comment = next;
    node.bar.update(next.reaction_summary, next.user_reaction);
    this.draw(node);
  }

  /** After a mute or block: that person's comments (with their replies) leave the page. */
  hideUser(userId) {
    for (const node of [...this.nodes.values()]) {
      if (node.comment.user && node.comment.user.id === userId) this.remove(node.comment.id, false);
    }
  }

  /** Remove a comment and its replies; focus moves to a neighbour if it was inside. */
  remove(id, counted = true) {
    const node = this.nodes.get(id);
    if (!node) return;
    const gone = [...node.li.querySelectorAll('li[data-comment-id]')].map((li) => Number(li.dataset.commentId));
    gone.push(id);
    const hadFocus = node.li.contains(document.activeElement);
    const neighbour = node.li.nextElementSibling || node.li.previousElementSibling || node.li.parentElement.closest('li');
    node.li.remove();
    for (const key of gone) this.nodes.delete(key);
    if (counted) this.onCount(-gone.length);
    if (hadFocus) focusOn(neighbour ? neighbour.querySelector('article') : document.querySelector('main h1'));
  }

  reacted(event) {
    const node = this.nodes.get(event.object_id);
    if (!node) return;
    node.comment.reaction_summary = event.reaction_summary;
    const mine = event.user_id === this.meId;
    if (mine) node.comment.user_reaction = event.user_reaction;
    node.bar.update(event.reaction_summary, mine ? event.user_reaction : undefined);
  }
}
