// Peer-to-peer delivery with PeerTube's p2p-media-loader fork (1.0.x, which works with
// hls.js 1.5), configured as PeerTube's player configures it so that our viewers and
// PeerTube's share swarms: swarm id = master playlist URL, announce to the node's own
// WebSocket tracker only, and every segment checked against segments-sha256.json before it is
// played or shared. A segment that fails the check is dropped (and its peer with it); the
// loader then fetches it from the node over HTTP.
//
// options: { enabled, videoUuid, swarmId, segmentsSha256Url, trackerUrls, iceServers, headers }
import { Engine, initHlsJsPlayer } from '@peertube/p2p-media-loader-hlsjs';
import { sha256 } from './sha256.js';

// The viewer's choice, kept across videos like PeerTube's own P2P setting.
const PREFERENCE_KEY = 'peerbox:p2p-enabled';

export function p2pPreferred() {
  try {
    return localStorage.getItem(PREFERENCE_KEY) !== 'false';
  } catch {
    return true;
  }
}

export function setP2PPreferred(enabled) {
  try {
    if (enabled) localStorage.removeItem(PREFERENCE_KEY);
    else localStorage.setItem(PREFERENCE_KEY, 'false');
  } catch {
    // Storage may be disabled: the switch then lasts for this page only.
  }
}

function newStats(active) {
  return {
    active,
    peers: 0,
    // Media segment bytes only (not playlists or init sections).
    bytesFromPeers: 0,
    bytesFromServer: 0,
    bytesToPeers: 0,
    // Segments received (and kept after the check), by where they came from.
    segments: { p2p: 0, http: 0 },
    // Segments checked against segments-sha256.json, by where they came from.
    validated: { p2p: 0, http: 0 },
    rejected: { p2p: 0, http: 0 },
  };
}

async function digest(data) {
  return window.crypto?.subtle ? crypto.subtle.digest('SHA-256', data) : sha256(data);
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

// segments-sha256.json as PeerTube writes it for fragmented MP4: per file name, one hash per
// `start-end` (inclusive) byte range; p2p-media-loader names a segment's range `bytes=s-e`.
class SegmentValidator {
  constructor(url, headers, stats) {
    this.url = url;
    this.headers = headers;
    this.stats = stats;
    this.hashes = null;
  }

  load() {
    this.hashes = fetch(this.url, { headers: this.headers, credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))));
    // A failed fetch is tried again for the next segment.
    this.hashes.catch(() => { this.hashes = null; });
    return this.hashes;
  }

  async expected(segment) {
    const name = new URL(segment.url, location.href).pathname.split('/').pop();
    const range = /bytes=(\d+)-(\d+)/.exec(segment.range || '');
    const entry = (await (this.hashes || this.load()))[name];
    if (typeof entry === 'string') return entry;
    return entry && range ? entry[`${range[1]}-${range[2]}`] : undefined;
  }

  async validate(segment, method) {
    let ok = false;
    try {
      const want = await this.expected(segment);
      ok = want !== undefined && segment.data !== undefined
        && hex(await digest(segment.data)) === want;
    } finally {
      (ok ? this.stats.validated : this.stats.rejected)[method === 'p2p' ? 'p2p' : 'http'] += 1;
    }
    if (!ok) throw new Error(`segment ${segment.url} ${segment.range || ''} does not match segments-sha256.json`);
  }
}

// The plain hls.js path: everything from the node, counted for the indicator.
function httpOnly(Hls, hlsConfig, stats) {
  return {
    Hls,
    config: hlsConfig,
    engine: null,
    stats,
    attach(hls) {
      hls.on(Hls.Events.FRAG_LOADED, (_, data) => {
        if (data.frag.sn !== 'initSegment') stats.bytesFromServer += data.payload.byteLength;
      });
    },
  };
}

export function withP2P(Hls, hlsConfig, options) {
  const trackers = (options.trackerUrls || []).filter((u) => /^wss?:\/\//.test(u));
  // Without the hashes, segments from peers could not be checked: no P2P then.
  const usable = options.enabled && options.segmentsSha256Url && trackers.length > 0
    && Engine.isSupported();
  if (!usable) return httpOnly(Hls, hlsConfig, newStats(false));

  const stats = newStats(true);
  const validator = new SegmentValidator(options.segmentsSha256Url, options.headers || {}, stats);
  const engine = new Engine({
    loader: {
      trackerAnnounce: trackers,
      rtcConfig: { iceServers: options.iceServers || [] },
      simultaneousHttpDownloads: 1,
      httpFailedSegmentTimeout: 1000,
      xhrSetup: hlsConfig.xhrSetup,
      segmentValidator: (segment, method) => validator.validate(segment, method),
      useP2P: true,
      consumeOnly: navigator.connection?.type === 'cellular',
      // PeerTube's values for videos on demand.
      requiredSegmentsPriority: 3,
      skipSegmentBuilderPriority: 1,
      cachedSegmentExpiration: 86_400_000,
      cachedSegmentsCount: 100,
      httpDownloadMaxPriority: 9,
      httpDownloadProbability: 0.06,
      httpDownloadProbabilitySkipIfNoPeers: true,
      p2pDownloadMaxPriority: 50,
    },
    segments: { swarmId: options.swarmId, forwardSegmentCount: 50 },
  });
  engine.on('piece_bytes_downloaded', (method, _segment, bytes) => {
    if (method === 'p2p') stats.bytesFromPeers += bytes;
    else stats.bytesFromServer += bytes;
  });
  engine.on('piece_bytes_uploaded', (_method, _segment, bytes) => { stats.bytesToPeers += bytes; });
  engine.on('segment_loaded', (_segment, peerId) => { stats.segments[peerId ? 'p2p' : 'http'] += 1; });
  engine.on('peer_connect', () => { stats.peers += 1; });
  engine.on('peer_close', () => { stats.peers = Math.max(0, stats.peers - 1); });
  return {
    Hls,
    config: { ...hlsConfig, loader: engine.createLoaderClass() },
    engine,
    stats,
    // The library's hls.js wiring (playing segment, seeks, teardown) expects a video.js
    // player; the <video> element is enough for what it uses.
    attach(hls, video) {
      initHlsJsPlayer({
        on: (type, f) => video.addEventListener(type, f),
        off: (type, f) => video.removeEventListener(type, f),
        media: video,
      }, hls);
    },
  };
}
