// Notifications: the unread badge (kept current by the personal group's events) and the
// list, with "mark as read" and "mark all as read".

import {read, send} from './api.js';
import {announce, focusOn, h, timeEl} from './dom.js';
import {socket} from './socket.js';

const PERSONAL = ['new_comment_on_user_post', 'new_reply_on_user_comment', 'new_reaction_on_user_post',
  'new_reaction_on_user_comment'];

/** The header link with its badge; refreshes the count when something happens to the user. */
export function notificationBadge() {
  const count = h('span', {class: 'badge', hidden: true, 'aria-hidden': 'true'});
  const link = h('a', {href: '#/notifications', class: 'nav-link'}, 'Notifications', count);
  let unread = 0;
  let timer = null;
  const draw = (n) => {
    const grew = n > unread;
    unread = n;
    count.hidden = n === 0;
    count.textContent = n > 99 ? '99+' : String(n);
    link.setAttribute('aria-label', n ? `Notifications, ${n} unread` : 'Notifications');
    if (grew && !location.hash.startsWith('#/notifications')) announce(n === 1 ? '1 unread notification.' : `${n} unread notifications.`);
  };
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(() => read('/notifications/', {page_size: 1}).then(({data}) => draw(data.unread_count), () => {}), 400);
  };
  const offs = [...PERSONAL.map((type) => socket.on(type, refresh)),
    socket.on('resync', (key) => key === 'user' && refresh())];
  refresh();
  return {el: link, set: draw, refresh, destroy: () => offs.forEach((off) => off())};
}

export function notificationsView(main, badge) {
  const heading = h('h1', {tabindex: '-1', text: 'Notifications'});
  const list = h('ul', {class: 'notifications'});
  const status = h('p', {role: 'status'});
  const readAll = h('button', {type: 'button', class: 'secondary', text: 'Mark all as read'});
  const more = h('button', {type: 'button', class: 'secondary', text: 'Show older', hidden: true});
  main.replaceChildren(h('div', {class: 'notifications-view'}, heading, readAll, status, list, more));
  let page = 1;
  let unread = 0;

  const setUnread = (n) => {
    unread = Math.max(0, n);
    badge.set(unread);
    readAll.disabled = unread === 0;
  };

  function item(n) {
    const state = h('span', {class: 'visually-hidden', text: n.read ? '' : 'Unread: '});
    const mark = h('button', {type: 'button', class: 'secondary', text: 'Mark as read', hidden: n.read});
    const li = h('li', {class: n.read ? 'notification' : 'notification unread'},
      h('p', {}, state, h('strong', {text: n.title}), ' — ', n.message),
      h('p', {class: 'byline'}, timeEl(n.created_at)),
      h('div', {class: 'actions'},
        n.post_id ? h('a', {href: `#/post/${n.post_id}`, text: 'Open the post', onclick: () => !n.read && markRead()}) : null,
        mark));
    async function markRead() {
      try {
        await send('POST', `/notifications/${n.id}/read`);
      } catch (err) {
        announce(err.message);
        return;
      }
      if (n.read) return;
      n.read = true;
      li.classList.remove('unread');
      state.textContent = '';
      const hadFocus = document.activeElement === mark;
      mark.hidden = true;
      if (hadFocus) focusOn(li.querySelector('a') || heading);
      setUnread(unread - 1);
    }
    mark.addEventListener('click', markRead);
    return li;
  }

  async function load() {
    status.textContent = 'Loading…';
    try {
      const {data} = await read('/notifications/', {page, page_size: 20});
      if (page === 1) list.replaceChildren();
      list.append(...data.results.map(item));
      setUnread(data.unread_count);
      more.hidden = !data.next;
      status.textContent = data.count ? '' : 'No notifications yet.';
    } catch (err) {
      status.textContent = err.message;
    }
  }
  more.addEventListener('click', () => { page += 1; load(); });
  readAll.addEventListener('click', async () => {
    try {
      await send('POST', '/notifications/read-all');
      announce('All notifications marked as read.');
      page = 1;
      await load();
    } catch (err) {
      announce(err.message);
    }
  });
  const offs = PERSONAL.map((type) => socket.on(type, () => { page = 1; setTimeout(load, 400); }));
  load();
  return {heading, destroy: () => offs.forEach((off) => off())};
}
