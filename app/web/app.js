// The client's entry: the header, the hash router (#/, #/post/<id>, #/notifications) and
// the socket's lifetime, which follows the session's.

import {currentUser, endSession, onSessionEnd} from './api.js';
import {authView} from './auth.js';
import {announce, focusOn, h} from './dom.js';
import {feedView} from './feed.js';
import {notificationBadge, notificationsView} from './notifications.js';
import {socket} from './socket.js';
import {threadView} from './thread.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const connection = document.getElementById('connection');
let view = null;
let badge = null;
let notice = null;
let firstRender = true;

const STATUS = {live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', offline: 'Offline'};
let lostAt = 0;
socket.on('status', (status) => {
  connection.textContent = STATUS[status] || status;
  connection.dataset.status = status;
  // Said only for a real drop, and once each way.
  if (status === 'reconnecting' && !lostAt) {
    lostAt = Date.now();
    setTimeout(() => { if (lostAt && socket.status !== 'live') announce('Connection lost. Reconnecting…'); }, 3000);
  } else if (status === 'live' && lostAt) {
    if (Date.now() - lostAt > 3000) announce('Connected again.');
    lostAt = 0;
  }
});

function drawNav(user) {
  if (badge) badge.destroy();
  badge = null;
  if (!user) { nav.replaceChildren(); return; }
  badge = notificationBadge();
  const logout = h('button', {type: 'button', class: 'link', text: 'Log out'});
  logout.addEventListener('click', () => endSession('You are logged out.'));
  nav.replaceChildren(h('a', {href: '#/', class: 'nav-link', text: 'Feed'}), badge.el,
    h('span', {class: 'me', text: user.display_name}), logout);
}

function route() {
  if (view) view.destroy();
  const user = currentUser();
  const hash = location.hash || '#/';
  if (!user) {
    view = authView(main, () => { drawNav(currentUser()); socket.start(); route(); }, notice);
    notice = null;
  } else {
    const post = /^#\/post\/(\d+)$/.exec(hash);
    if (post) view = threadView(main, Number(post[1]), user);
    else if (hash === '#/notifications') view = notificationsView(main, badge);
    else view = feedView(main, user);
  }
  document.title = `${view.heading.textContent} · Vent Room`;
  if (firstRender) {
    firstRender = false;
    performance.mark('interactive');
    document.documentElement.dataset.ready = 'true';
  } else {
    focusOn(view.heading);
  }
}

onSessionEnd((reason) => {
  socket.stop();
  drawNav(null);
  notice = reason;
  route();
});

addEventListener('hashchange', route);
// The skip link must not change the hash (the router owns it).
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  focusOn(view ? view.heading : main);
});
drawNav(currentUser());
if (currentUser()) socket.start();
route();
