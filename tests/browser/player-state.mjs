// What the viewer sees of the player on a page (watch or embed): playback position and buffer,
// the P2P indicator under the video and its switch, and the player's P2P counters. Shared by
// the peer-to-peer browser tests.
export const playerState = (page) => page.evaluate(() => {
  const root = document.querySelector('.player');
  const v = root.querySelector('video');
  const s = root.player.p2p.stats;
  const toggle = root.querySelector('.player-p2p-switch');
  return {
    currentTime: v.currentTime,
    duration: v.duration,
    bufferedEnd: v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0,
    paused: v.paused,
    stats: JSON.parse(JSON.stringify(s)),
    indicator: root.querySelector('.player-p2p').innerText,
    // null when the page has no switch at all.
    switchChecked: toggle ? toggle.checked : null,
    switchVisible: toggle ? toggle.checkVisibility() : false,
    error: v.error && v.error.message,
  };
});
