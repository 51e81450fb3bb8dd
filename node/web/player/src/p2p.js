// The seam for peer-to-peer delivery. The P2P engine (PeerTube's p2p-media-loader 1.0.x
// fork, which works with hls.js 1.5) plugs in here: it receives the hls.js class and the
// player's hls.js configuration and returns the class and configuration to use, e.g.
// `HlsJsP2PEngine.injectMixin(Hls)` with its `p2p` options. Until it lands, segments come
// from the node over HTTP only.
//
// options: { enabled, videoUuid, segmentsSha256Url, trackerUrls }
export function withP2P(Hls, hlsConfig, options) {
  void options;
  return { Hls, config: hlsConfig, engine: null };
}
