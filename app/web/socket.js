// The raw /ws/ connection: joins with resume positions, reconnects with exponential
// backoff and jitter, drops duplicate events (by event_id), and says when a group must
// be refetched over REST because the server could not replay what was missed.
//
// Positions: the server's event ids are ordered ("<ms>-<seq>") once resume exists. For a
// group this connection has joined, the newest event received is a valid position (events
// arrive in id order); a REST read's Last-Event-ID header is one for the data it read.
// A join sent with a position is answered with `recovered: true` (the missed events
// follow) or anything else: then the group is refetched ("resync").

import {accessToken, refresh} from './api.js';

const REPLIES = new Set(['ventroom_joined', 'ventroom_left', 'ventroom_post_joined', 'ventroom_post_left', 'pong', 'error']);
const ORDERED = /^(\d+)-(\d+)$/;
const BASE_DELAY = 500;
const MAX_DELAY = 30_000;
const QUIET_MS = 25_000; // a ping after this long without a frame
const DEAD_MS = 60_000; // and a reconnect after this long
const SEEN_MAX = 2000;

/** Whether id `a` comes after `b` (ids that are not ordered: the newer arrival wins). */
export function isAfter(a, b) {
  const x = ORDERED.exec(a || '');
  const y = ORDERED.exec(b || '');
  if (!x || !y) return true;
  const [ma, sa, mb, sb] = [x[1], x[2], y[1], y[2]].map(BigInt);
  return ma > mb || (ma === mb && sa > sb);
}

class LiveSocket {
  constructor() {
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.heartbeat = null;
    this.lastFrame = 0;
    this.wanted = false;
    this.status = 'offline';
    this.groups = new Map(); // key -> {join, leave, data, position, refs, joined, wasJoined}
    this.user = {position: null, resumed: null, settled: false, connections: 0};
    this.pending = []; // sent messages awaiting their reply, in order
    this.seen = new Set();
    this.listeners = new Map();
    addEventListener('online', () => this.wanted && this.reconnectNow());
  }

  /** fn(data, envelope) for events of `type` (also 'status', 'resync', 'join_failed'); returns off(). */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  emit(type, ...args) {
    for (const fn of this.listeners.get(type) || []) {
      try { fn(...args); } catch (err) { console.error(err); }
    }
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.emit('status', status);
  }

  start() {
    this.wanted = true;
    if (!this.ws && !this.timer) this.open();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.groups.clear();
    this.user = {position: null, resumed: null, settled: false, connections: 0};
    this.seen.clear();
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setStatus('offline');
  }

  /** Join `key` ('feed' or 'post:<id>') while someone watches it; `position` may come from a read. */
  watch(key, position = null) {
    let group = this.groups.get(key);
    if (!group) {
      const postId = key.startsWith('post:') ? Number(key.slice(5)) : null;
      group = {
        join: postId ? 'join_ventroom_post' : 'join_ventroom',
        leave: postId ? 'leave_ventroom_post' : 'leave_ventroom',
        data: postId ? {post_id: postId} : {},
        position: null, refs: 0, joined: false, wasJoined: false,
      };
      this.groups.set(key, group);
    }
    group.refs += 1;
    this.advance(key, position);
    if (group.refs === 1) this.sendJoin(key, group);
  }

  unwatch(key) {
    const group = this.groups.get(key);
    if (!group || --group.refs > 0) return;
    this.groups.delete(key);
    this.send(group.leave, group.data, key);
  }

  /** A read of `key`'s data at server position `eventId` (the Last-Event-ID header). */
  advance(key, eventId) {
    const group = this.groups.get(key);
    if (group && eventId && (!group.position || isAfter(eventId, group.position))) group.position = eventId;
  }

  send(type, data, key = null) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.pending.push({type, key});
    this.ws.send(JSON.stringify(data === undefined ? {type} : {type, data}));
    return true;
  }

  sendJoin(key, group) {
    const data = {...group.data};
    if (group.position) data.last_event_id = group.position;
    group.sentPosition = Boolean(group.position);
    this.send(group.join, data, key);
  }

  async open() {
    this.timer = null;
    if (this.opening) return;
    this.opening = true;
    let token;
    try {
      token = await accessToken();
    } catch {
      token = null;
    } finally {
      this.opening = false;
    }
    if (!this.wanted || this.ws) return;
    if (!token) { this.retry(); return; }
    const url = new URL('/ws/', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', token); // the one place the API wants a token in a URL
    if (this.user.position) url.searchParams.set('last_event_id', this.user.position);
    Object.assign(this.user, {resumed: null, settled: false});
    this.setStatus(this.attempt ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(url);
    this.ws = ws;
    this.pending = [];
    ws.onopen = () => {
      this.lastFrame = Date.now();
      for (const [key, group] of this.groups) this.sendJoin(key, group);
      this.heartbeat = setInterval(() => this.checkAlive(), 5000);
    };
    ws.onmessage = (message) => this.receive(message.data);
    ws.onclose = (event) => this.closed(ws, event);
  }

  checkAlive() {
    const quiet = Date.now() - this.lastFrame;
    if (quiet > DEAD_MS) this.ws && this.ws.close(4000, 'no answer');
    else if (quiet > QUIET_MS && !this.pending.some((p) => p.type === 'ping')) this.send('ping');
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    clearInterval(this.heartbeat);
    this.ws = null;
    this.pending = [];
    for (const group of this.groups.values()) group.joined = false;
    if (!this.wanted) return;
    if (event.code === 4401) {
      // The access token was refused: refresh it (a refused refresh ends the session).
      refresh().then(() => this.retry(), () => this.retry());
    } else {
      this.retry();
    }
  }

  retry() {
    if (!this.wanted || this.timer) return;
    const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * ceiling / 2; // "equal jitter"
    this.attempt += 1;
    this.setStatus('reconnecting');
    this.timer = setTimeout(() => this.open(), delay);
  }

  reconnectNow() {
    if (this.ws) return;
    clearTimeout(this.timer);
    this.open();
  }

  receive(raw) {
    this.lastFrame = Date.now();
    let frame;
    try { frame = JSON.parse(raw); } catch { return; }
    if (!frame || typeof frame.type !== 'string') return;
    if (this.attempt || this.status !== 'live') {
      this.attempt = 0;
      this.setStatus('live');
    }
    if (frame.type === 'ventroom_resumed') {
      this.user.resumed = Boolean(frame.data && frame.data.recovered === true);
      return;
    }
    if (REPLIES.has(frame.type)) {
      this.reply(frame);
      return;
    }
    if (frame.event_id) {
      if (this.seen.has(frame.event_id)) return;
      this.seen.add(frame.event_id);
      if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value);
      this.user.position = frame.event_id;
      for (const group of this.groups.values()) if (group.joined) group.position = frame.event_id;
    }
    this.emit(frame.type, frame.data, frame);
  }

  reply(frame) {
    const request = this.pending.shift();
    this.settleUser();
    if (!request || !request.key) return;
    const group = this.groups.get(request.key);
    if (!group || !request.type.startsWith('join')) return;
    if (frame.type === 'error') {
      this.emit('join_failed', request.key, frame.data);
      return;
    }
    group.joined = true;
    const recovered = frame.data && frame.data.recovered === true;
    // Missed events cannot be known: after a drop, or when the server did not replay.
    if (group.sentPosition ? !recovered : group.wasJoined) this.emit('resync', request.key);
    group.wasJoined = true;
  }

  /** The personal group (joined at connect) is settled at the first reply, which comes
   *  after the server's `ventroom_resumed` answer when there is one. */
  settleUser() {
    const user = this.user;
    if (user.settled) return;
    user.settled = true;
    user.connections += 1;
    if (user.connections > 1 && user.resumed !== true) this.emit('resync', 'user');
  }
}

export const socket = new LiveSocket();
