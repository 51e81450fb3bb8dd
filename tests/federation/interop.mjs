// Checks Peerbox's HTTP Signatures with the two libraries PeerTube itself uses:
// @misskey-dev/node-http-message-signatures verifies incoming requests
// (helpers/peertube-crypto.ts) and @peertube/http-signature signs outgoing ones
// (helpers/requests.ts). Reads one JSON command on stdin, writes one JSON answer.
//
//   {"verify": {method, path, headers, body, publicKeyPem}}
//     -> {"misskey": true|"error", "joyent": true|"error", "digest": true|false}
//   {"sign": {method, path, host, body}}
//     -> {"headers": {...}, "publicKeyPem": "..."}   (a fresh key pair, as PeerTube makes them)

import { createHash, generateKeyPairSync } from 'node:crypto'
import { parseRequestSignature, verifyDraftSignature } from '@misskey-dev/node-http-message-signatures'
import httpSignature from '@peertube/http-signature'

const input = JSON.parse(await new Promise(resolve => {
  let data = ''
  process.stdin.on('data', c => { data += c })
  process.stdin.on('end', () => resolve(data))
}))

const digestOf = body => 'SHA-256=' + createHash('sha256').update(body).digest('base64')

async function verify ({ method, path, headers, body, publicKeyPem }) {
  const request = { method, url: path, headers }
  const out = {}

  // As PeerTube's parseHTTPSignature: draft only, required components, 1800 s skew.
  try {
    const required = method === 'POST' ? ['(request-target)', 'host', 'digest'] : ['(request-target)', 'host']
    const parsed = parseRequestSignature(request, {
      requiredComponents: { draft: required },
      clockSkew: { delay: 1800 * 1000 }
    })
    if (parsed.version !== 'draft') throw new Error('not a draft signature')
    const signed = parsed.value.params.headers
    if (!signed.includes('date') && !signed.includes('(created)')) throw new Error('date not signed')
    out.misskey = (await verifyDraftSignature(parsed.value, publicKeyPem, e => { out.misskeyLog = String(e) })) === true
      ? true
      : 'signature does not verify: ' + (out.misskeyLog ?? '')
  } catch (e) {
    out.misskey = String(e)
  }

  // The older verifier PeerTube used (and Misskey still uses).
  try {
    const parsed = httpSignature.parseRequest(request, {
      authorizationHeaderName: 'signature',
      clockSkew: 1800,
      headers: method === 'POST' ? ['(request-target)', 'host', 'date', 'digest'] : ['(request-target)', 'host', 'date']
    })
    out.joyent = httpSignature.verifySignature(parsed, publicKeyPem) ? true : 'signature does not verify'
  } catch (e) {
    out.joyent = String(e)
  }

  // As PeerTube's isHTTPSignatureDigestValid.
  out.digest = headers.digest === undefined ? null : headers.digest === digestOf(body)
  return out
}

function sign ({ method, path, host, body }) {
  // PeerTube's key pairs: RSA 2048, SPKI public, PKCS#1 private.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' }
  })
  const headers = { host, date: new Date().toUTCString() }
  const signed = ['(request-target)', 'host', 'date']
  if (method === 'POST') {
    headers.digest = digestOf(body)
    signed.push('digest')
  }
  // As helpers/requests.ts signs a delivery.
  httpSignature.signRequest({
    getHeader: name => headers[name.toLowerCase()],
    setHeader: (name, value) => { headers[name.toLowerCase()] = value },
    method,
    path
  }, {
    algorithm: 'rsa-sha256',
    authorizationHeaderName: 'Signature',
    keyId: 'https://peertube.example/accounts/peertube#main-key',
    key: privateKey,
    headers: signed
  })
  return { headers, publicKeyPem: publicKey }
}

const answer = input.verify ? await verify(input.verify) : sign(input.sign)
process.stdout.write(JSON.stringify(answer))
