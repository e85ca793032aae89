// The feed: newest first, infinite scroll over the pages, new posts behind a pill (no
// jump), live edits, deletions, counts; the posts on screen are joined for live counts.

import {read} from './api.js';
import {composer} from './composer.js';
import {merged} from './content.js';
import {announce, focusOn, h} from './dom.js';
import {PostCard} from './posts.js';
import {socket} from './socket.js';

const PAGE_SIZE = 20;
const MAX_WATCHED = 40; // post groups joined for live counts, around the viewport
const UNWATCH_AFTER_MS = 15_000;

export function feedView(main, me) {
  const cards = new Map(); // id -> PostCard, in the order shown
  let pending = []; // new posts behind the pill, newest first
  let nextPage = 1;
  let loading = false;
  let finished = false;
  let ready = false;
  const early = []; // events that came before the first page: applied after it
  const offs = [];

  const heading = h('h1', {tabindex: '-1', text: 'Recent posts'});
  const list = h('div', {class: 'posts'});
  const pill = h('button', {type: 'button', class: 'pill', hidden: true});
  const more = h('button', {type: 'button', class: 'secondary', text: 'Load more posts'});
  const status = h('p', {class: 'feed-status', role: 'status'});
  const footer = h('div', {class: 'feed-more'}, status, more);
  const {el: compose} = composer(posted);
  main.replaceChildren(h('div', {class: 'feed'}, heading, compose, h('div', {class: 'pill-bar'}, pill), list, footer));

  // Live counts for what is on screen: the feed group carries no comment or reaction events.
  const watched = new Map(); // id -> unwatch timer or null
  const visibility = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const id = Number(entry.target.dataset.postId);
      if (entry.isIntersecting) watch(id);
      else if (watched.has(id) && !watched.get(id)) {
        watched.set(id, setTimeout(() => unwatch(id), UNWATCH_AFTER_MS));
      }
    }
  }, {rootMargin: '300px 0px'});

  function watch(id) {
    if (watched.has(id)) { clearTimeout(watched.get(id)); watched.set(id, null); return; }
    if (watched.size >= MAX_WATCHED || !cards.has(id)) return;
    watched.set(id, null);
    socket.watch(`post:${id}`, cards.get(id).position);
  }

  function unwatch(id) {
    if (!watched.has(id)) return;
    clearTimeout(watched.get(id));
    watched.delete(id);
    socket.unwatch(`post:${id}`);
  }

  function addCard(post, position, where = 'end') {
    if (cards.has(post.id)) { cards.get(post.id).update(post, {own: true}); return cards.get(post.id); }
    const card = new PostCard(post, {onDeleted: removeCard, onHidden: hideUser});
    card.position = position;
    cards.set(post.id, card);
    if (where === 'start') list.prepend(card.el);
    else list.append(card.el);
    visibility.observe(card.el);
    drawEmpty();
    return card;
  }

  function removeCard(id) {
    pending = pending.filter((p) => p.id !== id);
    drawPill();
    const card = cards.get(id);
    if (!card) return;
    const hadFocus = card.el.contains(document.activeElement);
    const neighbour = card.el.nextElementSibling || card.el.previousElementSibling;
    visibility.unobserve(card.el);
    unwatch(id);
    card.el.remove();
    cards.delete(id);
    if (hadFocus) focusOn(neighbour || heading);
    drawEmpty();
  }

  /** After a mute or block: that person's posts leave the feed. */
  function hideUser(userId) {
    pending = pending.filter((p) => !(p.user && p.user.id === userId));
    for (const [id, card] of [...cards]) if (card.post.user && card.post.user.id === userId) removeCard(id);
    drawPill();
  }

  function drawEmpty() {
    const text = cards.size ? 'You’re all caught up.' : 'Nothing here yet. You can be the first to share.';
    if (finished && status.textContent !== text) status.textContent = text;
  }

  let announcedAt = 0;
  function drawPill() {
    const n = pending.length;
    pill.hidden = n === 0;
    pill.textContent = n === 1 ? '1 new post' : `${n} new posts`;
    if (n && Date.now() - announcedAt > 15_000) {
      announcedAt = Date.now();
      announce(pill.textContent);
    }
  }

  pill.addEventListener('click', () => {
    const shown = pending;
    pending = [];
    drawPill();
    for (const post of [...shown].reverse()) addCard(post, null, 'start');
    window.scrollTo({top: 0});
    const first = shown.length && cards.get(shown[0].id);
    if (first) focusOn(first.el);
    announce(shown.length === 1 ? 'Showing 1 new post.' : `Showing ${shown.length} new posts.`);
  });

  function posted(post) {
    // Its events may have come first (media processed before the answer arrived): newer.
    const arrived = pending.find((p) => p.id === post.id);
    pending = pending.filter((p) => p.id !== post.id);
    drawPill();
    const card = addCard(arrived ? {...post, ...arrived, user_reaction: post.user_reaction} : post, null, 'start');
    window.scrollTo({top: 0});
    focusOn(card.el);
  }

  async function loadMore() {
    if (loading || finished) return;
    loading = true;
    more.disabled = true;
    status.textContent = 'Loading posts…';
    try {
      const {data, eventId} = await read('/ventroom/posts/', {page: nextPage, page_size: PAGE_SIZE});
      if (nextPage === 1) socket.advance('feed', eventId);
      for (const post of data.results) {
        pending = pending.filter((p) => p.id !== post.id);
        addCard(post, eventId);
      }
      drawPill();
      nextPage += 1;
      finished = !data.next;
      status.textContent = '';
    } catch (err) {
      if (err.status === 404) finished = true; // past the end: posts were deleted meanwhile
      else status.textContent = `${err.message} `;
    } finally {
      loading = false;
      more.disabled = false;
      more.hidden = finished;
      drawEmpty();
    }
    if (!ready) {
      ready = true;
      for (const apply of early.splice(0)) apply();
    }
  }
  more.addEventListener('click', loadMore);
  const bottom = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, {rootMargin: '600px 0px'});
  bottom.observe(footer);

  /** After a drop the server could not replay: read the top again and reconcile. */
  async function resync() {
    if (nextPage === 1) { loadMore(); return; }
    const size = Math.min(100, Math.max(PAGE_SIZE, cards.size + pending.length));
    let answer;
    try {
      answer = await read('/ventroom/posts/', {page: 1, page_size: size});
    } catch {
      return; // the next reconnect tries again
    }
    const {data, eventId} = answer;
    socket.advance('feed', eventId);
    const fresh = new Map(data.results.map((p) => [p.id, p]));
    const oldest = data.results.length ? data.results[data.results.length - 1].id : Infinity;
    const newest = Math.max(0, ...cards.keys());
    for (const [id, card] of [...cards]) {
      if (fresh.has(id)) card.update(fresh.get(id), {own: true});
      else if (!data.next || id >= oldest) removeCard(id); // deleted while we were away
    }
    const arrived = data.results.filter((p) => !cards.has(p.id) && p.id > newest);
    const known = new Set(arrived.map((p) => p.id));
    pending = [...arrived, ...pending.filter((p) => !known.has(p.id) && (fresh.has(p.id) || p.id > oldest))];
    drawPill();
  }

  const live = (fn) => (data) => (ready ? fn(data) : early.push(() => fn(data)));
  offs.push(
    socket.on('new_ventroom_post', live((post) => {
      if (cards.has(post.id)) { cards.get(post.id).update(post); return; }
      if (pending.some((p) => p.id === post.id)) return;
      pending.unshift(post);
      drawPill();
    })),
    socket.on('ventroom_post_updated', live((post) => {
      if (cards.has(post.id)) cards.get(post.id).update(post);
      pending = pending.map((p) => (p.id === post.id ? merged(p, post) : p));
    })),
    socket.on('ventroom_post_deleted', live(({post_id: id}) => removeCard(id))),
    socket.on('ventroom_reaction_updated', live((event) => {
      if (event.content_type === 'ventpost' && cards.has(event.object_id)) cards.get(event.object_id).reacted(event, me.id);
    })),
    socket.on('new_ventroom_comment', live((c) => cards.has(c.post) && cards.get(c.post).commented(1))),
    socket.on('ventroom_comment_deleted', live((c) => cards.has(c.post_id) && cards.get(c.post_id).commented(-1))),
    socket.on('resync', (key) => { if (key === 'feed') resync(); }),
  );

  socket.watch('feed');
  loadMore();
  return {
    heading,
    destroy() {
      offs.forEach((off) => off());
      socket.unwatch('feed');
      visibility.disconnect();
      bottom.disconnect();
      for (const id of [...watched.keys()]) unwatch(id);
    },
  };
}
