// Signalling-only WebRTC for bittorrent-tracker's client in Node (see package.json): offers
// and answers are real SDP-shaped strings that name the peer connection that made them, ICE
// gathering completes at once, and nothing ever connects.

let made = 0;

export class RTCSessionDescription {
  constructor({ type, sdp }) {
    this.type = type;
    this.sdp = sdp;
  }
}

export class RTCIceCandidate {
  constructor(init = {}) {
    Object.assign(this, init);
  }
}

class FakeDataChannel {
  constructor(label) {
    this.label = label;
    this.readyState = 'connecting';
    this.bufferedAmount = 0;
    this.bufferedAmountLowThreshold = 0;
    this.binaryType = 'arraybuffer';
  }

  send() {
    throw new Error('a signalling-only data channel never opens');
  }

  close() {
    this.readyState = 'closed';
  }
}

export class RTCPeerConnection {
  constructor() {
    this.id = `${process.pid}-${++made}`;
    this.localDescription = null;
    this.remoteDescription = null;
    this.signalingState = 'stable';
    this.iceConnectionState = 'new';
    this.iceGatheringState = 'new';
    this.connectionState = 'new';
  }

  createDataChannel(label) {
    return new FakeDataChannel(label);
  }

  async createOffer() {
    return { type: 'offer', sdp: this.#sdp('offer') };
  }

  async createAnswer() {
    return { type: 'answer', sdp: this.#sdp('answer') };
  }

  async setLocalDescription(description) {
    this.localDescription = new RTCSessionDescription(description);
    // No candidates to gather: end-of-candidates right away, as a host-less machine would.
    setTimeout(() => {
      this.iceGatheringState = 'complete';
      this.onicecandidate?.({ candidate: null });
    }, 0);
  }

  async setRemoteDescription(description) {
    this.remoteDescription = new RTCSessionDescription(description);
  }

  async addIceCandidate() {}

  async getStats() {
    return new Map();
  }

  close() {
    this.signalingState = 'closed';
    this.connectionState = 'closed';
  }

  #sdp(type) {
    return `v=0\r\no=- ${this.id} 1 IN IP4 0.0.0.0\r\ns=${type}\r\nt=0 0\r\n`;
  }
}

export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate };
