// A post and its comment thread, live: join the post's group first, then read, then apply
// the events that came meanwhile (every change is idempotent), so nothing falls between.

import {read} from './api.js';
import {CommentTree, commentForm} from './comments.js';
import {announce, focusOn, h} from './dom.js';
import {PostCard} from './posts.js';
import {isAfter, socket} from './socket.js';

export function threadView(main, postId, me) {
  const key = `post:${postId}`;
  const back = h('a', {href: '#/', class: 'back', text: '← Back to the feed'});
  const heading = h('h1', {tabindex: '-1', text: 'Loading post…'});
  const body = h('div', {class: 'thread'}, heading);
  main.replaceChildren(back, body);
  let card = null;
  let tree = null;
  let countEl = null;
  let ready = false;
  let gone = false;
  const early = [];
  const offs = [];
  let newComments = 0;
  let newCommentsTimer = null;

  socket.watch(key);

  function drawCount() {
    if (countEl) countEl.textContent = `Comments (${card.post.total_comment || 0})`;
  }

  function showGone(text) {
    gone = true;
    const h1 = h('h1', {tabindex: '-1', text});
    body.replaceChildren(h1, h('p', {}, h('a', {href: '#/', text: 'Go back to the feed'})));
    focusOn(h1);
  }

  async function load(first) {
    let post;
    let comments;
    try {
      const [detail, list] = await Promise.all([read(`/ventroom/posts/${postId}/`), read(`/ventroom/posts/${postId}/comments/`)]);
      post = detail.data;
      comments = list.data;
      // The older of the two reads is where nothing can have been missed.
      const older = detail.eventId && list.eventId && isAfter(detail.eventId, list.eventId) ? list.eventId : detail.eventId;
      socket.advance(key, older || list.eventId);
    } catch (err) {
      if (err.status === 404) showGone('This post is no longer here.');
      else if (first) {
        heading.textContent = 'Could not load this post.';
        body.append(h('p', {role: 'alert', text: err.message}));
      }
      return;
    }
    if (first) {
      card = new PostCard(post, {full: true, onDeleted: () => showGone('Your post was deleted.'),
        onHidden: () => showGone('You will not see this person’s posts any more.')});
      tree = new CommentTree(postId, me.id, (delta) => { card.commented(delta); drawCount(); });
      countEl = h('h2', {});
      const form = commentForm(postId, null, 'Write a comment', (comment) => {
        if (tree.add(comment)) announce('Comment posted.');
      });
      body.replaceChildren(card.el, h('section', {class: 'comments-section', 'aria-label': 'Comments'}, countEl, form, tree.el));
      document.title = `${post.title} · Vent Room`;
      if (document.activeElement === heading || document.activeElement === document.body) focusOn(card.el.querySelector('h1'));
    } else {
      card.update(post, {own: true});
    }
    tree.setAll(comments);
    drawCount();
    ready = true;
    for (const apply of early.splice(0)) apply();
  }

  const live = (fn) => (data) => {
    if (gone) return;
    if (ready) fn(data);
    else early.push(() => fn(data));
  };
  const here = (id) => Number(id) === postId;
  offs.push(
    socket.on('ventroom_post_updated', live((post) => here(post.id) && card.update(post))),
    socket.on('ventroom_post_deleted', live(({post_id: id}) => here(id) && showGone('This post was deleted.'))),
    socket.on('new_ventroom_comment', live((comment) => {
      if (!here(comment.post) || !tree.add(comment)) return;
      newComments += 1; // said once for a burst
      clearTimeout(newCommentsTimer);
      newCommentsTimer = setTimeout(() => {
        announce(newComments === 1 ? '1 new comment.' : `${newComments} new comments.`);
        newComments = 0;
      }, 1500);
    })),
    socket.on('ventroom_comment_updated', live((comment) => here(comment.post) && tree.update(comment))),
    socket.on('ventroom_comment_deleted', live((c) => here(c.post_id) && tree.remove(c.comment_id))),
    socket.on('ventroom_reaction_updated', live((event) => {
      if (event.content_type === 'ventpost' && here(event.object_id)) card.reacted(event, me.id);
      else if (event.content_type === 'ventcomment') tree.reacted(event);
    })),
    socket.on('join_failed', (failed) => { if (failed === key && !gone) showGone('This post is no longer here.'); }),
    socket.on('resync', (resynced) => { if (resynced === key && ready && !gone) load(false); }),
  );

  load(true);
  return {
    heading,
    destroy() {
      offs.forEach((off) => off());
      clearTimeout(newCommentsTimer);
      socket.unwatch(key);
    },
  };
}
