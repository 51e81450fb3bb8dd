// The Node.js `process` that the P2P engine's dependencies (readable streams in simple-peer
// and bittorrent-tracker) expect; esbuild injects it where they refer to it.
export const process = {
  browser: true,
  env: {},
  nextTick: (fn, ...args) => queueMicrotask(() => fn(...args)),
};
