// The updates page (/admin/updates): its buttons call the admin API, which hands the work
// to the root updater; the page polls the status for the progress bar and reloads when the
// update's state changes, so the server-rendered text stays the only wording.
(function () {
  const root = document.getElementById('updates');
  if (!root) return;
  const token = root.dataset.token;
  const statusUrl = root.dataset.statusUrl;
  const message = document.getElementById('ota-message');
  const progressBox = document.getElementById('ota-progress');
  const progressBar = document.getElementById('ota-progress-bar');
  const progressLabel = document.getElementById('ota-progress-label');
  const form = document.getElementById('ota-upload');
  const uploadBar = document.getElementById('ota-upload-bar');
  let uploading = false;
  let seen = null;

  const say = (text, isError) => {
    message.textContent = text;
    message.classList.toggle('error', Boolean(isError));
  };

  // What changes the server-rendered part of the page.
  const key = (s) => JSON.stringify([s.currentVersion, s.pending, s.lastResult && s.lastResult.at]);

  async function problemText(resp) {
    try {
      const body = await resp.json();
      return body.detail || body.error || resp.statusText;
    } catch {
      return resp.statusText;
    }
  }

  async function poll() {
    let s;
    try {
      const resp = await fetch(statusUrl, { headers: { Authorization: `Bearer ${token}` } });
      if (!resp.ok) return false;
      s = await resp.json();
    } catch {
      return false;
    }
    const p = s.progress;
    progressBox.hidden = !p;
    if (p) {
      const pct = p.percent ?? 0;
      progressBar.value = pct;
      progressBar.textContent = `${pct} %`;
      const stage = { verifying: 'Checking', downloading: 'Downloading', writing: 'Writing', done: 'Installed' }[p.stage] || p.stage;
      progressLabel.textContent = `${stage} ${p.version || 'the update'}: ${pct} %`;
    }
    const k = key(s);
    if (seen !== null && k !== seen && !uploading) {
      window.location.reload();
    }
    seen = k;
    return Boolean(p) || (s.requests && s.requests.length > 0);
  }

  async function loop() {
    const busy = await poll();
    setTimeout(loop, busy ? 1500 : 10000);
  }

  async function post(path, done) {
    say('Sending…');
    try {
      const resp = await fetch(`${statusUrl}/${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
      if (resp.ok) {
        say(done);
        poll();
      } else {
        say(await problemText(resp), true);
      }
    } catch (e) {
      say(`The node did not answer: ${e.message}`, true);
    }
  }

  document.getElementById('ota-check').addEventListener('click', () =>
    post('check', 'Asked the updater to look for a newer version and install it.'));
  const reboot = document.getElementById('ota-reboot');
  reboot.addEventListener('click', () =>
    post('reboot', 'Restarting into the update: the node comes back in a few minutes.'));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = document.getElementById('ota-bundle').files[0];
    if (!file) return;
    // The raw file as the body: the node streams it to disk and verifies it.
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${statusUrl}/upload`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    uploadBar.hidden = false;
    uploading = true;
    xhr.upload.addEventListener('progress', (ev) => {
      if (!ev.lengthComputable) return;
      const pct = Math.floor((ev.loaded * 100) / ev.total);
      uploadBar.value = pct;
      uploadBar.textContent = `${pct} %`;
      say(pct < 100 ? `Uploading: ${pct} %` : 'Checking the bundle’s signature…');
    });
    xhr.addEventListener('load', () => {
      uploading = false;
      uploadBar.hidden = true;
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // An empty or non-JSON answer: the status line says enough.
      }
      if (xhr.status === 202) {
        say(`Bundle ${body.version} accepted: the updater installs it now.`);
        form.reset();
        poll();
      } else {
        say(body.detail || body.error || `Upload failed (HTTP ${xhr.status})`, true);
      }
    });
    xhr.addEventListener('error', () => {
      uploading = false;
      uploadBar.hidden = true;
      say('The upload was interrupted.', true);
    });
    say('Uploading…');
    xhr.send(file);
  });

  loop();
})();
