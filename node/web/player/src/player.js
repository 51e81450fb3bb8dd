// The video player of the watch and embed pages: hls.js on a native <video>, with a quality
// menu, captions, keyboard shortcuts, resume position and PeerTube's embed parameters.
// The page gives its settings as JSON in the data-config attribute of .player.
import Hls from 'hls.js';
import { p2pPreferred, setP2PPreferred, withP2P } from './p2p.js';

const RESUME_KEY = 'peerbox:position:';
// PeerTube counts a view once a viewer has watched a few seconds.
const VIEW_AFTER_SECONDS = 10;

function formatTime(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${size.toFixed(1)} ${units[unit]}`;
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function sameOrigin(url) {
  try {
    return new URL(url, location.href).origin === location.origin;
  } catch {
    return false;
  }
}

function readPosition(uuid) {
  try {
    return Number(localStorage.getItem(RESUME_KEY + uuid)) || 0;
  } catch {
    return 0;
  }
}

function savePosition(uuid, seconds) {
  try {
    if (seconds > 0) localStorage.setItem(RESUME_KEY + uuid, String(Math.floor(seconds)));
    else localStorage.removeItem(RESUME_KEY + uuid);
  } catch {
    // Storage may be disabled (private browsing, third-party iframe): resume is best effort.
  }
}

class Player {
  constructor(root, config) {
    this.root = root;
    this.config = config;
    this.video = root.querySelector('video');
    this.status = root.querySelector('.player-status');
    this.hls = null;
    this.p2p = null;
    this.viewSent = false;
    this.watched = 0;
    this.lastTick = null;
  }

  start() {
    const { video, config } = this;
    video.controls = config.controls !== false;
    video.muted = !!config.muted;
    video.loop = !!config.loop && !config.stop;
    for (const c of config.captions || []) {
      video.appendChild(el('track', { kind: 'subtitles', src: c.src, srclang: c.language, label: c.label }));
    }
    this.attachSource(this.startPosition());
    this.buildMenus();
    this.buildP2PIndicator();
    this.bindKeys();
    this.bindTimes();
    if (config.autoplay) {
      video.play().catch(() => this.say('Press play to start.'));
    }
  }

  say(message) {
    if (this.status) this.status.textContent = message;
  }

  attachSource(startPosition) {
    const { video, config } = this;
    if (Hls.isSupported()) {
      const headers = {};
      if (config.token) headers.Authorization = `Bearer ${config.token}`;
      if (config.password) headers['x-peertube-video-password'] = config.password;
      const hlsConfig = {
        // Credentials go to this node only, never to another origin's segments.
        xhrSetup: (xhr, url) => {
          if (!sameOrigin(url)) return;
          for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
        },
        capLevelToPlayerSize: true,
        startPosition,
      };
      const p2p = withP2P(Hls, hlsConfig, {
        // `p2p=0` in the URL, then the viewer's own switch.
        enabled: config.p2p !== false && p2pPreferred(),
        videoUuid: config.uuid,
        swarmId: config.swarmId,
        segmentsSha256Url: config.segmentsSha256Url,
        trackerUrls: config.trackerUrls || [],
        iceServers: config.iceServers || [],
        headers,
      });
      const hls = new p2p.Hls(p2p.config);
      this.hls = hls;
      this.p2p = p2p;
      p2p.attach(hls, video);
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
          this.say('Network problem; retrying…');
          hls.startLoad();
        } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          this.say('This video cannot be played here.');
          hls.destroy();
        }
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => this.fillQualities());
      hls.on(Hls.Events.LEVEL_SWITCHED, () => this.showLevel());
      hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => this.fillCaptions());
      hls.loadSource(config.src);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      // Safari plays HLS natively but cannot send the bearer header, so private videos
      // play there only once the node accepts PeerTube's videoFileToken query parameter.
      video.src = config.src;
      video.addEventListener('loadedmetadata', () => {
        if (startPosition > 0) video.currentTime = startPosition;
      }, { once: true });
    } else {
      this.say('Your browser cannot play HLS video.');
    }
  }

  // `start` from the URL wins; otherwise where this viewer stopped last time.
  startPosition() {
    const { config } = this;
    if (config.start > 0) return config.start;
    if (config.resume === false) return -1;
    const saved = readPosition(config.uuid);
    if (saved >= 3 && (!config.duration || saved < config.duration - 5)) {
      this.say(`Resumed at ${formatTime(saved)}.`);
      return saved;
    }
    return -1;
  }

  buildMenus() {
    const bar = this.root.querySelector('.player-menus');
    // controls=0 (embed parameter): no controls at all.
    if (!bar || this.config.controls === false) return;
    this.qualitySelect = el('select', { 'aria-label': 'Quality', class: 'player-quality' });
    this.qualitySelect.appendChild(el('option', { value: '-1' }, 'Auto'));
    this.qualitySelect.addEventListener('change', () => {
      if (this.hls) this.hls.currentLevel = Number(this.qualitySelect.value);
    });
    const qLabel = el('label', {}, 'Quality ');
    qLabel.appendChild(this.qualitySelect);
    this.captionSelect = el('select', { 'aria-label': 'Captions', class: 'player-captions' });
    this.captionSelect.addEventListener('change', () => this.setCaption(Number(this.captionSelect.value)));
    this.captionLabel = el('label', { hidden: '' }, 'Captions ');
    this.captionLabel.appendChild(this.captionSelect);
    const speed = el('select', { 'aria-label': 'Speed', class: 'player-speed' });
    for (const r of [0.5, 0.75, 1, 1.25, 1.5, 2]) {
      const o = el('option', { value: String(r) }, `${r}×`);
      if (r === (this.config.playbackRate || 1)) o.selected = true;
      speed.appendChild(o);
    }
    this.video.playbackRate = this.config.playbackRate || 1;
    speed.addEventListener('change', () => { this.video.playbackRate = Number(speed.value); });
    const sLabel = el('label', {}, 'Speed ');
    sLabel.appendChild(speed);
    bar.append(qLabel, this.captionLabel, sLabel);
    this.fillCaptions();
  }

  fillQualities() {
    if (!this.hls || !this.qualitySelect) return;
    this.qualitySelect.replaceChildren(this.qualitySelect.querySelector('option[value="-1"]'));
    const levels = this.hls.levels.map((l, i) => ({ i, height: l.height }));
    levels.sort((a, b) => b.height - a.height);
    for (const l of levels) {
      this.qualitySelect.appendChild(el('option', { value: String(l.i) }, l.height ? `${l.height}p` : 'Audio'));
    }
  }

  showLevel() {
    if (!this.hls || !this.qualitySelect || this.hls.autoLevelEnabled === false) return;
    const level = this.hls.levels[this.hls.currentLevel];
    const auto = this.qualitySelect.querySelector('option[value="-1"]');
    if (auto && level) auto.textContent = `Auto (${level.height}p)`;
  }

  // How much came from other viewers and how much from the node, and the viewer's switch
  // (PeerTube's P2P setting). The byte counts change every second, so only the peer count is
  // in a live region.
  buildP2PIndicator() {
    const box = this.root.querySelector('.player-p2p');
    if (!box || !this.hls) return;
    const byUrl = this.config.p2p === false;
    if (!byUrl) {
      const toggle = el('input', { type: 'checkbox', class: 'player-p2p-switch' });
      toggle.checked = p2pPreferred();
      toggle.addEventListener('change', () => {
        setP2PPreferred(toggle.checked);
        this.reload();
      });
      const label = el('label', {}, ' Share with other viewers (peer-to-peer)');
      label.prepend(toggle);
      box.append(label);
    }
    const peers = el('span', { class: 'player-p2p-peers', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
    const bytes = el('span', { class: 'player-p2p-bytes' });
    box.append(peers, bytes);
    let said = null;
    const update = () => {
      const s = this.p2p.stats;
      const peerText = s.active
        ? `${s.peers} ${s.peers === 1 ? 'peer' : 'peers'}`
        : (byUrl ? 'Peer-to-peer is off in this player' : 'Peer-to-peer is off');
      if (peerText !== said) {
        peers.textContent = peerText;
        said = peerText;
      }
      bytes.textContent = s.active
        ? ` · ${formatBytes(s.bytesFromPeers)} from peers · ${formatBytes(s.bytesFromServer)} from the server`
        : ` · ${formatBytes(s.bytesFromServer)} from the server`;
    };
    update();
    setInterval(update, 1000);
  }

  // A new hls.js (and P2P engine, or none) at the same place, e.g. after the P2P switch.
  reload() {
    const { video } = this;
    const at = video.currentTime;
    const playing = !video.paused;
    this.hls.destroy();
    this.attachSource(at > 0 ? at : -1);
    if (playing) video.play().catch(() => this.say('Press play to continue.'));
  }

  // Captions come from the HLS master (hls.js subtitle tracks) or from <track> elements.
  captionList() {
    if (this.hls && this.hls.subtitleTracks.length) {
      return this.hls.subtitleTracks.map((t, i) => ({ i, label: t.name || t.lang }));
    }
    return Array.from(this.video.textTracks).map((t, i) => ({ i, label: t.label || t.language }));
  }

  fillCaptions() {
    if (!this.captionSelect) return;
    const list = this.captionList();
    this.captionSelect.replaceChildren(el('option', { value: '-1' }, 'Off'));
    for (const c of list) this.captionSelect.appendChild(el('option', { value: String(c.i) }, c.label));
    this.captionLabel.hidden = list.length === 0;
    if (this.config.subtitle) {
      const wanted = list.find((c) => c.label === this.config.subtitle);
      if (wanted) {
        this.captionSelect.value = String(wanted.i);
        this.setCaption(wanted.i);
      }
    }
  }

  setCaption(index) {
    if (this.hls && this.hls.subtitleTracks.length) {
      this.hls.subtitleTrack = index;
      this.hls.subtitleDisplay = index >= 0;
      return;
    }
    Array.from(this.video.textTracks).forEach((t, i) => { t.mode = i === index ? 'showing' : 'disabled'; });
  }

  toggleCaptions() {
    if (!this.captionSelect || this.captionList().length === 0) return;
    const next = this.captionSelect.value === '-1' ? 0 : -1;
    this.captionSelect.value = String(next);
    this.setCaption(next);
  }

  bindKeys() {
    const { video } = this;
    // Shortcuts work when the player (or something inside it) has focus, as in PeerTube.
    this.root.addEventListener('keydown', (e) => {
      if (e.target.closest('select, input, textarea, button') || e.ctrlKey || e.metaKey || e.altKey) return;
      const seek = (d) => { video.currentTime = Math.max(0, video.currentTime + d); };
      switch (e.key) {
        case ' ': case 'k': video.paused ? video.play() : video.pause(); break;
        case 'ArrowLeft': seek(-5); break;
        case 'ArrowRight': seek(5); break;
        case 'j': seek(-10); break;
        case 'l': seek(10); break;
        case 'ArrowUp': video.volume = Math.min(1, video.volume + 0.1); break;
        case 'ArrowDown': video.volume = Math.max(0, video.volume - 0.1); break;
        case 'm': video.muted = !video.muted; break;
        case 'c': this.toggleCaptions(); break;
        case 'f':
          if (document.fullscreenElement) document.exitFullscreen();
          else this.root.requestFullscreen?.();
          break;
        default:
          if (/^[0-9]$/.test(e.key) && video.duration) {
            video.currentTime = (video.duration * Number(e.key)) / 10;
            break;
          }
          return;
      }
      e.preventDefault();
    });
  }

  bindTimes() {
    const { video, config } = this;
    let lastSaved = 0;
    video.addEventListener('timeupdate', () => {
      const t = video.currentTime;
      if (config.stop > 0 && t >= config.stop) {
        if (config.loop) video.currentTime = config.start > 0 ? config.start : 0;
        else video.pause();
      }
      if (config.resume !== false && Math.abs(t - lastSaved) >= 5) {
        lastSaved = t;
        savePosition(config.uuid, t);
      }
      this.countView(t);
    });
    video.addEventListener('ended', () => savePosition(config.uuid, 0));
    video.addEventListener('playing', () => this.say(''));
  }

  // PeerTube's view protocol: one POST once the viewer has watched long enough.
  countView(t) {
    if (this.viewSent || this.video.paused) {
      this.lastTick = null;
      return;
    }
    if (this.lastTick !== null && t > this.lastTick && t - this.lastTick < 2) this.watched += t - this.lastTick;
    this.lastTick = t;
    const needed = this.video.duration ? Math.min(VIEW_AFTER_SECONDS, this.video.duration * 0.3) : VIEW_AFTER_SECONDS;
    if (this.watched < needed) return;
    this.viewSent = true;
    const headers = { 'Content-Type': 'application/json' };
    if (this.config.token) headers.Authorization = `Bearer ${this.config.token}`;
    fetch(`/api/v1/videos/${encodeURIComponent(this.config.uuid)}/views`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ currentTime: Math.floor(t), client: 'peerbox-web' }),
    }).catch(() => {});
  }
}

function setup(root) {
  let config;
  try {
    config = JSON.parse(root.dataset.config);
  } catch {
    return;
  }
  const player = new Player(root, config);
  player.start();
  // For the page's own scripts and the browser tests.
  root.player = player;
  const warning = root.querySelector('.player-warning');
  if (warning) player.video.addEventListener('play', () => { warning.hidden = true; }, { once: true });
}

document.querySelectorAll('.player[data-config]').forEach(setup);
