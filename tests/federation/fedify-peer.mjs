// A small fediverse server written with Fedify, a third-party ActivityPub framework, for
// Peerbox's interop test: one Person (`alice`) with an RSA key made at start, WebFinger, an
// actor document and an inbox, served over HTTPS. Fedify checks the HTTP signature of
// every activity that reaches the inbox before a listener runs, so an event printed for an
// activity means Fedify verified it.
//
//   node fedify-peer.mjs --listen HOST:PORT --cert CERT.pem --key KEY.pem
//
// NODE_EXTRA_CA_CERTS must name the CA of the server it talks to. It prints one JSON line
// per event on stdout ({"event": "listening" | "lookup" | "follow-sent" | "accept" |
// "create" | "announce" | "undo-sent" | "error", ...}) and takes one JSON command per
// line on stdin:
//   {"lookup": "@name@host"}   looks the actor up (WebFinger, then the actor document)
//   {"follow": "@name@host"}   looks it up and sends it a signed Follow from alice
//   {"unfollow": "@name@host"} sends it an Undo of that Follow

import { randomUUID, webcrypto } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import {
  Accept, Announce, Create, Endpoints, Follow, Link, MemoryKvStore, Person, Undo, Video,
  createFederation, generateCryptoKeyPair
} from '@fedify/fedify'
import { configure, getStreamSink } from '@logtape/logtape'

// Node 18 (Debian 12's) has Web Crypto's globals only behind a flag; Fedify uses them.
globalThis.crypto ??= webcrypto
globalThis.CryptoKey ??= webcrypto.CryptoKey

const { values: args } = parseArgs({
  options: { listen: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } }
})
const [host, port] = args.listen.split(':')

const emit = event => process.stdout.write(JSON.stringify(event) + '\n')

// Fedify's own log (why a signature was refused, what a fetch answered) on stderr, for
// the test to show when it fails.
await configure({
  sinks: { stderr: getStreamSink(Writable.toWeb(process.stderr)) },
  loggers: [
    { category: 'fedify', lowestLevel: 'debug', sinks: ['stderr'] },
    { category: ['logtape', 'meta'], lowestLevel: 'warning', sinks: ['stderr'] }
  ]
})

const USER = 'alice'
const keyPair = await generateCryptoKeyPair('RSASSA-PKCS1-v1_5')

const federation = createFederation({
  kv: new MemoryKvStore(),
  // The test's servers are on loopback addresses.
  allowPrivateAddress: true
})

federation
  .setActorDispatcher('/users/{identifier}', async (ctx, identifier) => {
    if (identifier !== USER) return null
    const keys = await ctx.getActorKeyPairs(identifier)
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: 'Alice of Fedify',
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      url: ctx.getActorUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map(k => k.multikey)
    })
  })
  .setKeyPairsDispatcher(async (ctx, identifier) => identifier === USER ? [keyPair] : [])

federation
  .setInboxListeners('/users/{identifier}/inbox', '/inbox')
  .on(Accept, async (ctx, accept) => {
    const follow = await accept.getObject()
    emit({
      event: 'accept',
      actor: accept.actorId?.href,
      object: follow instanceof Follow
        ? { type: 'Follow', id: follow.id?.href, actor: follow.actorId?.href, object: follow.objectId?.href }
        : follow?.id?.href
    })
  })
  .on(Create, async (ctx, create) => emit(await describe('create', create)))
  .on(Announce, async (ctx, announce) => emit(await describe('announce', announce)))
  .onError((ctx, error) => emit({ event: 'error', where: 'inbox', error: String(error?.stack ?? error) }))

/** What a Create or Announce carried: the object as Fedify read it. */
async function describe (event, activity) {
  const object = await activity.getObject()
  const out = { event, id: activity.id?.href, actor: activity.actorId?.href, objectId: activity.objectId?.href }
  if (object instanceof Video) {
    out.object = {
      type: 'Video',
      id: object.id?.href,
      name: object.name?.toString(),
      attributedTo: object.attributionIds.map(u => u.href),
      urls: object.urls.map(u => u instanceof Link
        ? { href: u.href?.href, mediaType: u.mediaType, rel: u.rels }
        : { href: u.href })
    }
  } else {
    out.object = { type: object?.constructor?.name, id: object?.id?.href }
  }
  return out
}

// Fedify handles Fetch API requests; Node's HTTPS server is bridged to it here.
const server = createServer({ cert: readFileSync(args.cert), key: readFileSync(args.key) }, async (req, res) => {
  try {
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const body = Buffer.concat(chunks)
    const headers = new Headers()
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1])
    const request = new Request(`https://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      body: ['GET', 'HEAD'].includes(req.method) ? undefined : body
    })
    const response = await federation.fetch(request, { contextData: undefined })
    res.writeHead(response.status, [...response.headers].flat())
    res.end(Buffer.from(await response.arrayBuffer()))
  } catch (error) {
    emit({ event: 'error', where: 'http', error: String(error?.stack ?? error) })
    res.writeHead(500).end()
  }
})

const ctx = () => federation.createContext(new URL(`https://${host}:${port}/`), undefined)

async function lookup (handle) {
  const actor = await ctx().lookupObject(handle)
  if (actor == null) throw new Error(`${handle} not found`)
  return actor
}

// The Follow sent to each actor (by id), for its Undo.
const follows = new Map()

const commands = {
  async lookup (handle) {
    const actor = await lookup(handle)
    emit({
      event: 'lookup',
      type: actor.constructor.name,
      id: actor.id?.href,
      preferredUsername: actor.preferredUsername?.toString(),
      name: actor.name?.toString(),
      inbox: actor.inboxId?.href
    })
  },
  async follow (handle) {
    const c = ctx()
    const target = await lookup(handle)
    const follow = new Follow({
      id: new URL(`/follows/${randomUUID()}`, c.getActorUri(USER)),
      actor: c.getActorUri(USER),
      object: target.id
    })
    await c.sendActivity({ identifier: USER }, target, follow)
    follows.set(target.id.href, follow)
    emit({ event: 'follow-sent', id: follow.id.href, actor: follow.actorId.href, object: target.id.href })
  },
  async unfollow (handle) {
    const c = ctx()
    const target = await lookup(handle)
    const follow = follows.get(target.id.href)
    if (follow == null) throw new Error(`${handle} was not followed`)
    const undo = new Undo({
      id: new URL(`${follow.id.pathname}/undo`, follow.id),
      actor: c.getActorUri(USER),
      object: follow
    })
    await c.sendActivity({ identifier: USER }, target, undo)
    emit({ event: 'undo-sent', id: undo.id.href, object: follow.id.href })
  }
}

server.on('error', error => {
  emit({ event: 'error', where: 'listen', error: String(error) })
  process.exit(1)
})
server.listen(Number(port), host, () => {
  emit({ event: 'listening', actor: ctx().getActorUri(USER).href })
  createInterface({ input: process.stdin }).on('line', async line => {
    if (!line.trim()) return
    try {
      const command = JSON.parse(line)
      const [name] = Object.keys(command)
      if (!commands[name]) throw new Error(`unknown command ${name}`)
      await commands[name](command[name])
    } catch (error) {
      emit({ event: 'error', where: 'command', command: line, error: String(error?.stack ?? error) })
    }
  })
})

// It ends when its stdin closes, if it is not killed first.
process.stdin.on('end', () => server.close(() => process.exit(0)))
