// Plays an HLS master playlist with hls.js in headless Chromium and reports, as one JSON
// line, how far playback got, every error hls.js or the media element raised, and apart
// from them the stalls: hls.js reports a pause for lack of buffer as a non-fatal
// bufferStalledError, which a busy machine can cause and playback recovers from.
//   node play-hls.mjs MASTER_URL [SECONDS=5] [TIMEOUT_SECONDS=90]
import { createRequire } from 'node:module';
import { launch } from './chromium.mjs';

const [url, seconds = '5', timeout = '90'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node play-hls.mjs MASTER_URL [SECONDS] [TIMEOUT_SECONDS]');
  process.exit(2);
}
const hlsPath = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');

const browser = await launch();
let result;
try {
  const page = await browser.newPage();
  await page.setContent('<video id="v" muted playsinline></video>');
  await page.addScriptTag({ path: hlsPath });
  result = await page.evaluate(
    ({ url, seconds, timeoutMs }) =>
      new Promise((resolve) => {
        const video = document.getElementById('v');
        const errors = [];
        const stalls = [];
        const levels = [];
        const hls = new Hls({ debug: false });
        const finish = (ok) => {
          resolve({ ok, currentTime: video.currentTime, errors, stalls, levels, version: Hls.version });
        };
        hls.on(Hls.Events.ERROR, (_, data) => {
          if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR && !data.fatal) {
            stalls.push(`at ${video.currentTime.toFixed(2)} s`);
          } else {
            errors.push(`${data.type}: ${data.details}${data.fatal ? ' (fatal)' : ''}`);
          }
        });
        hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
          for (const l of data.levels) levels.push({ width: l.width, height: l.height, bitrate: l.bitrate, codecs: l.codecSet });
          video.play().catch((e) => errors.push(`play: ${e}`));
        });
        video.addEventListener('error', () => errors.push(`media element: ${video.error && video.error.message}`));
        video.addEventListener('timeupdate', () => {
          if (video.currentTime > seconds) finish(true);
        });
        setTimeout(() => finish(false), timeoutMs);
        hls.loadSource(url);
        hls.attachMedia(video);
      }),
    { url, seconds: Number(seconds), timeoutMs: Number(timeout) * 1000 },
  );
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok && result.errors.length === 0 ? 0 : 1);
