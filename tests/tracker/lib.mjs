// Helpers for the tracker scenarios: peers in child processes, waiting for what they report,
// and raw WebSocket / HTTP access for the input that no real client would send.
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';

export const hex = (n = 20) => randomBytes(n).toString('hex');

/** The infohash (hex) of variant `i` of an HLS master playlist's swarm, as PeerTube's player
 * (p2p-media-loader 1.0.x, peer protocol "2") computes it. */
export const hlsInfoHash = (masterUrl, i = 0) => createHash('sha1').update(`2${masterUrl}+V${i}`).digest('hex');

/** A bittorrent-tracker Client in a child process; `events` is everything it reported. */
export class Peer {
  constructor(options) {
    this.peerId = options.peerId ?? hex();
    this.events = [];
    this.waiting = [];
    this.child = fork(new URL('./peer.mjs', import.meta.url), [JSON.stringify({ ...options, peerId: this.peerId })], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m) => {
      this.events.push(m);
      this.waiting = this.waiting.filter((w) => !w(m));
    });
  }

  do(cmd, opts) {
    this.child.send({ cmd, opts });
    return this;
  }

  /** The next report of `event` (not taken by an earlier call) that passes `test`, or null
   * after `ms`. */
  next(event, test = () => true, ms = 5000) {
    const taken = (this.taken ??= new Set());
    const match = (m) => m.event === event && !taken.has(m) && test(m.data);
    const found = this.events.find(match);
    if (found) {
      taken.add(found);
      return Promise.resolve(found.data);
    }
    return new Promise((resolve) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        resolve(null);
      }, ms);
      // A waiter returns true when it is done with: it took `m`, or its time ran out.
      this.waiting.push((m) => {
        if (timedOut) return true;
        if (!match(m)) return false;
        taken.add(m);
        clearTimeout(timer);
        resolve(m.data);
        return true;
      });
    });
  }

  /** Ends the process: its WebSocket closes without a "stopped" announce. */
  kill() {
    this.child.kill('SIGKILL');
    return new Promise((resolve) => this.child.once('exit', resolve));
  }
}

/** Binary string (one char per byte), as the WebTorrent protocol carries ids. */
export const binary = (hexString) => Buffer.from(hexString, 'hex').toString('latin1');

/** A raw WebSocket to the tracker, from `localAddress`; replies queue up in `inbox`. */
export async function rawSocket(url, localAddress = '127.0.0.1') {
  const ws = new WebSocket(url, { localAddress });
  ws.inbox = [];
  ws.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('message', (data) => {
    ws.inbox.push(JSON.parse(data.toString('utf8')));
    ws.wake?.();
  });
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

/** The next message on a raw socket, or null after `ms`. */
export async function reply(ws, ms = 2000) {
  if (ws.inbox.length) return ws.inbox.shift();
  const got = await Promise.race([
    new Promise((resolve) => (ws.wake = resolve)).then(() => true),
    ws.closed.then(() => false),
    new Promise((resolve) => setTimeout(() => resolve(false), ms)),
  ]);
  ws.wake = undefined;
  return got ? ws.inbox.shift() : null;
}

/** The close code of a raw socket, or null if it is still open after `ms`. */
export const closeCode = (ws, ms = 3000) =>
  Promise.race([ws.closed, new Promise((resolve) => setTimeout(() => resolve(null), ms))]);
