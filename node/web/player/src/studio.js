// The owner's pages: "My videos" follows processing live, and the edit form saves through
// the REST API (PUT /api/v1/videos/{id}) so the API's validation is the only one.
function setupMyVideos(list) {
  const rows = () => Array.from(list.querySelectorAll('[data-video-uuid]'));
  const busy = () => rows().some((r) => r.dataset.final !== 'true');

  async function refresh() {
    let data;
    try {
      const resp = await fetch(list.dataset.statusUrl, { credentials: 'same-origin' });
      if (!resp.ok) return;
      data = await resp.json();
    } catch {
      return;
    }
    for (const v of data.videos) {
      const row = list.querySelector(`[data-video-uuid="${CSS.escape(v.uuid)}"]`);
      if (!row) continue;
      row.dataset.final = String(v.final);
      row.querySelector('.video-state').textContent = v.stateLabel;
      const bar = row.querySelector('progress');
      if (bar) {
        bar.hidden = v.progress === null;
        bar.value = v.progress ?? 0;
        bar.textContent = `${v.progress ?? 0} %`;
      }
      const pct = row.querySelector('.video-progress-text');
      if (pct) pct.textContent = v.progress === null ? '' : `${v.progress} %`;
      // Transcoding makes the thumbnail: show it once it exists.
      const placeholder = row.querySelector('.thumb-placeholder');
      if (placeholder && v.thumbnail) {
        const img = document.createElement('img');
        img.src = v.thumbnail;
        img.alt = '';
        img.width = 160;
        img.height = 90;
        placeholder.replaceWith(img);
      }
      const err = row.querySelector('.video-error');
      if (err) {
        err.textContent = v.error || '';
        err.hidden = !v.error;
      }
    }
  }

  async function loop() {
    if (busy()) await refresh();
    setTimeout(loop, busy() ? 2000 : 10000);
  }
  setTimeout(loop, 1000);
}

function setupEditForm(form) {
  const message = form.querySelector('.form-message');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const body = {
      name: String(data.get('name') || '').trim(),
      description: String(data.get('description') || ''),
      support: String(data.get('support') || ''),
      tags: String(data.get('tags') || '').split(',').map((t) => t.trim()).filter(Boolean),
      privacy: Number(data.get('privacy')),
      channelId: Number(data.get('channelId')),
      nsfw: data.get('nsfw') === 'on',
      downloadEnabled: data.get('downloadEnabled') === 'on',
    };
    message.classList.remove('error');
    message.textContent = 'Saving…';
    let resp;
    try {
      resp = await fetch(`/api/v1/videos/${encodeURIComponent(form.dataset.videoUuid)}`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${form.dataset.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch {
      message.textContent = 'The node cannot be reached; nothing was saved.';
      message.classList.add('error');
      return;
    }
    if (resp.ok) {
      message.textContent = 'Saved.';
      return;
    }
    let text = `HTTP ${resp.status}`;
    try {
      const problem = await resp.json();
      const params = problem['invalid-params'];
      text = params ? Object.values(params).map((p) => p.msg || String(p)).join(' ') : problem.detail || text;
    } catch {
      // Not a problem document; the status says enough.
    }
    message.textContent = `Not saved: ${text}`;
    message.classList.add('error');
  });
}

const list = document.getElementById('my-videos');
if (list) setupMyVideos(list);
const edit = document.getElementById('edit-video-form');
if (edit) setupEditForm(edit);
