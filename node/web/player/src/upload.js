// The upload page: PeerTube's resumable upload protocol against /api/v1/videos/upload-resumable,
// with a progress bar fed by the bytes actually sent, and automatic resumption after a
// dropped connection (the node tells how much it has; we go on from there).
const form = document.getElementById('upload-form');

const MIN_CHUNK = 1024 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;
// A chunk that took less than this grows the next one (as PeerTube's web client adapts).
const FAST_CHUNK_MS = 3000;
const RETRY_DELAYS_MS = [1000, 2000, 5000, 10000, 15000];

function problemText(xhr) {
  try {
    const body = JSON.parse(xhr.responseText);
    const params = body['invalid-params'];
    if (params) return Object.values(params).map((p) => p.msg || p.message || String(p)).join(' ');
    return body.detail || body.error || `HTTP ${xhr.status}`;
  } catch {
    return `HTTP ${xhr.status}`;
  }
}

// `Range: bytes=0-N` means the node has N + 1 bytes; no Range means none.
function receivedBytes(xhr) {
  const range = xhr.getResponseHeader('Range');
  const m = range && /bytes=0-(\d+)/.exec(range);
  return m ? Number(m[1]) + 1 : 0;
}

function request(method, url, { headers = {}, body = null, onProgress } = {}) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
    xhr.onload = () => resolve(xhr);
    // status 0: the connection dropped or the node is unreachable.
    xhr.onerror = () => resolve(xhr);
    xhr.ontimeout = () => resolve(xhr);
    xhr.send(body);
  });
}

class Upload {
  constructor(file, metadata, ui) {
    this.file = file;
    this.metadata = metadata;
    this.ui = ui;
    this.token = form.dataset.token;
    this.url = null;
    this.offset = 0;
    this.chunk = MIN_CHUNK;
    this.cancelled = false;
  }

  auth(extra = {}) {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  async run() {
    const created = await this.create();
    if (!created) return null;
    for (let attempt = 0; !this.cancelled;) {
      const xhr = await this.sendChunk();
      if (this.cancelled) return null;
      if (xhr.status === 200) {
        this.ui.progress(this.file.size, this.file.size);
        return JSON.parse(xhr.responseText).video;
      }
      if (xhr.status === 308) {
        this.offset = receivedBytes(xhr);
        attempt = 0;
        this.ui.progress(this.offset, this.file.size);
        continue;
      }
      if (xhr.status !== 0 && xhr.status < 500 && xhr.status !== 429) {
        this.ui.fail(problemText(xhr));
        return null;
      }
      // Dropped connection or a node in trouble: wait, ask what arrived, go on from there.
      const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)];
      attempt += 1;
      this.ui.note(`Connection lost; resuming in ${Math.round(delay / 1000)} s…`);
      await new Promise((r) => setTimeout(r, delay));
      if (await this.askOffset()) this.ui.note(`Resumed at ${Math.floor((100 * this.offset) / this.file.size)} %.`);
    }
    return null;
  }

  async create() {
    const xhr = await request('POST', '/api/v1/videos/upload-resumable', {
      headers: this.auth({
        'Content-Type': 'application/json',
        'X-Upload-Content-Length': String(this.file.size),
        'X-Upload-Content-Type': this.file.type || 'application/octet-stream',
      }),
      body: JSON.stringify(this.metadata),
    });
    if (xhr.status !== 200 && xhr.status !== 201) {
      this.ui.fail(xhr.status === 0 ? 'The node cannot be reached.' : problemText(xhr));
      return false;
    }
    // The node answers with a protocol-relative URL (`//host/...`), as PeerTube does.
    this.url = new URL(xhr.getResponseHeader('Location'), location.href).toString();
    if (xhr.status === 200) {
      // The same file was started before (maybe in another tab or before a reload).
      await this.askOffset();
      if (this.offset > 0) this.ui.note(`Resuming an earlier upload at ${Math.floor((100 * this.offset) / this.file.size)} %.`);
    }
    return true;
  }

  async askOffset() {
    const xhr = await request('PUT', this.url, {
      headers: this.auth({ 'Content-Range': `bytes */${this.file.size}` }),
    });
    if (xhr.status !== 308) return false;
    this.offset = receivedBytes(xhr);
    this.ui.progress(this.offset, this.file.size);
    return true;
  }

  async sendChunk() {
    const start = this.offset;
    const end = Math.min(start + this.chunk, this.file.size);
    const began = performance.now();
    const xhr = await request('PUT', this.url, {
      headers: this.auth({
        'Content-Type': 'application/octet-stream',
        'Content-Range': `bytes ${start}-${end - 1}/${this.file.size}`,
      }),
      body: this.file.slice(start, end),
      onProgress: (loaded) => this.ui.progress(start + loaded, this.file.size),
    });
    if (xhr.status === 308 && performance.now() - began < FAST_CHUNK_MS) {
      this.chunk = Math.min(this.chunk * 2, MAX_CHUNK);
    }
    return xhr;
  }

  async cancel() {
    this.cancelled = true;
    if (this.url) await request('DELETE', this.url, { headers: this.auth() });
  }
}

function setupUploadPage() {
  const fileInput = document.getElementById('videofile');
  const nameInput = document.getElementById('name');
  const bar = document.getElementById('upload-progress');
  const percent = document.getElementById('upload-percent');
  const message = document.getElementById('upload-message');
  const submit = document.getElementById('upload-submit');
  const cancel = document.getElementById('upload-cancel');
  const done = document.getElementById('upload-done');
  const section = document.getElementById('upload-status');
  let upload = null;

  const ui = {
    progress(sent, total) {
      const p = total ? Math.min(100, Math.floor((100 * sent) / total)) : 0;
      bar.value = p;
      percent.textContent = `${p} %`;
    },
    note(text) {
      message.textContent = text;
    },
    fail(text) {
      message.textContent = `Upload failed: ${text}`;
      message.classList.add('error');
      submit.disabled = false;
      cancel.hidden = true;
    },
  };

  fileInput.addEventListener('change', () => {
    const f = fileInput.files[0];
    if (f && !nameInput.value) nameInput.value = f.name.replace(/\.[^.]+$/, '').slice(0, 120);
  });

  const warnOnLeave = (e) => {
    e.preventDefault();
    e.returnValue = '';
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = fileInput.files[0];
    if (!file) return;
    const data = new FormData(form);
    const tags = String(data.get('tags') || '').split(',').map((t) => t.trim()).filter(Boolean);
    const metadata = {
      filename: file.name,
      lastModified: String(file.lastModified),
      name: String(data.get('name') || '').trim(),
      channelId: Number(data.get('channelId')),
      privacy: Number(data.get('privacy')),
      description: String(data.get('description') || ''),
      tags,
      nsfw: data.get('nsfw') === 'on',
      downloadEnabled: data.get('downloadEnabled') === 'on',
      waitTranscoding: true,
    };
    message.classList.remove('error');
    message.textContent = '';
    done.hidden = true;
    section.hidden = false;
    submit.disabled = true;
    cancel.hidden = false;
    ui.progress(0, file.size);
    window.addEventListener('beforeunload', warnOnLeave);
    upload = new Upload(file, metadata, ui);
    const video = await upload.run();
    window.removeEventListener('beforeunload', warnOnLeave);
    cancel.hidden = true;
    if (!video) return;
    message.textContent = 'Upload complete. The video is being processed; you can follow it in My videos.';
    const watch = done.querySelector('.watch-link');
    watch.href = `/w/${video.shortUUID}`;
    done.querySelector('.edit-link').href = `/videos/manage/${video.uuid}`;
    done.hidden = false;
    submit.disabled = false;
  });

  cancel.addEventListener('click', async () => {
    if (!upload) return;
    await upload.cancel();
    window.removeEventListener('beforeunload', warnOnLeave);
    message.textContent = 'Upload cancelled.';
    cancel.hidden = true;
    submit.disabled = false;
  });
}

if (form) setupUploadPage();
