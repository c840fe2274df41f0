/**
 * Strophe.js in Node, typed. Strophe's Node build installs @xmldom/xmldom as the DOM and `ws` as
 * globalThis.WebSocket itself; what it lacks is XMLHttpRequest, which BOSH needs. xhr2 provides
 * one, but fills only `responseText` while Strophe reads `responseXML`, so a small subclass
 * parses the text with @xmldom/xmldom as a browser would, down to answering text that is not
 * XML (a proxy's HTML error page) with a `<parsererror>` document, on which Strophe ends the
 * session ('strophe-parsererror') instead of throwing out of an HTTP callback.
 *
 * Strophe 5's bundled declarations do not resolve under NodeNext (their relative imports lack
 * extensions), so every export would be an unchecked `any`. Instead this module declares the
 * small surface the command uses and checks the loaded module against it once, at the boundary.
 */
import { createRequire } from 'node:module'
import { DOMImplementation, DOMParser, onErrorStopParsing, type Document as XmlDocument, type Element as XmlElement } from '@xmldom/xmldom'
import * as strophe from 'strophe.js'
import { MegaphoneError } from '../errors.ts'

export type { XmlElement }

export interface StanzaBuilder {
  c: (name: string, attrs?: Record<string, string>, text?: string) => StanzaBuilder
  t: (text: string) => StanzaBuilder
  up: () => StanzaBuilder
  tree: () => XmlElement
}

export type StanzaFactory = (attrs?: Record<string, string>) => StanzaBuilder

/** Strophe.Status */
export interface StatusCodes {
  ERROR: number
  CONNECTING: number
  CONNFAIL: number
  AUTHENTICATING: number
  AUTHFAIL: number
  CONNECTED: number
  DISCONNECTED: number
  DISCONNECTING: number
  CONNTIMEOUT: number
}

export type ConnectCallback = (status: number, condition: string | null) => void

export interface Connection {
  readonly jid: string
  readonly connected: boolean
  connect: (jid: string, password: string, callback: ConnectCallback) => void
  disconnect: (reason?: string) => void
  send: (stanza: XmlElement) => void
  /** onError gets the error stanza, or null on timeout */
  sendIQ: (stanza: XmlElement, onResult: (el: XmlElement) => void, onError: (el: XmlElement | null) => void, timeoutMs: number) => string
  /** the handler stays registered while it returns true */
  addHandler: (handler: (el: XmlElement) => boolean, ns: string | null, name: string | null, type: string | null, id: string | null, from: string | null) => unknown
  deleteHandler: (ref: unknown) => void
  addProtocolErrorHandler: (protocol: 'HTTP' | 'websocket', status: number, callback: (status: number) => void) => void
  getUniqueId: (suffix?: string) => string
  /** called with every element received: the BOSH <body/> itself (assignable, as in Strophe's docs) */
  xmlInput: (el: unknown) => void
  /** called with every chunk of XML sent or received (assignable, as in Strophe's docs) */
  rawInput: (data: string) => void
  rawOutput: (data: string) => void
}

export interface StropheLib {
  Strophe: {
    Connection: new (service: string, options: Record<string, unknown>) => Connection
    Status: StatusCodes
    LogLevel: { FATAL: number }
    setLogLevel: (level: number) => void
    getDomainFromJid: (jid: string) => string | null
  }
  $iq: StanzaFactory
  $msg: StanzaFactory
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return (typeof v === 'object' || typeof v === 'function') && v !== null
}

/** The shape check behind the StropheLib type: each member the command calls is there. */
function isStropheLib (v: unknown): v is StropheLib {
  if (!isRecord(v) || !isRecord(v.Strophe)) return false
  const s = v.Strophe
  return typeof s.Connection === 'function' && isRecord(s.Status) && typeof s.Status.CONNECTED === 'number' &&
    isRecord(s.LogLevel) && typeof s.LogLevel.FATAL === 'number' && typeof s.setLogLevel === 'function' &&
    typeof s.getDomainFromJid === 'function' &&
    typeof v.$iq === 'function' && typeof v.$msg === 'function'
}

type XhrConstructor = new () => { readonly responseText: unknown }

function isXhrConstructor (v: unknown): v is XhrConstructor {
  return typeof v === 'function'
}

let loaded: StropheLib | undefined

/** Strophe, with XMLHttpRequest installed for BOSH and its console logging silenced. */
export function loadStrophe (): StropheLib {
  if (loaded !== undefined) return loaded
  const lib: unknown = strophe
  if (!isStropheLib(lib)) throw new MegaphoneError('CLI_LIBRARY', 'strophe.js does not have the expected exports (is it version 5?)')
  // Strophe logs at DEBUG to the console by default; the command reports errors itself.
  lib.Strophe.setLogLevel(lib.Strophe.LogLevel.FATAL)
  installXMLHttpRequest()
  loaded = lib
  return lib
}

/**
 * Strophe's BOSH transport constructs `new XMLHttpRequest()`, a browser global: it must be on
 * globalThis. An existing one (a later Node may ship it) is left alone.
 */
function installXMLHttpRequest (): void {
  if ('XMLHttpRequest' in globalThis) return
  const Xhr2: unknown = createRequire(import.meta.url)('xhr2')
  if (!isXhrConstructor(Xhr2)) throw new MegaphoneError('CLI_LIBRARY', 'xhr2 does not export a constructor')
  class XMLHttpRequestWithXml extends Xhr2 {
    get responseXML (): XmlDocument | null {
      const text = this.responseText
      if (typeof text !== 'string' || text === '') return null
      try {
        return new DOMParser({ onError: onErrorStopParsing }).parseFromString(text, 'text/xml')
      } catch {
        return new DOMImplementation().createDocument(null, 'parsererror', null)
      }
    }
  }
  Object.defineProperty(globalThis, 'XMLHttpRequest', { value: XMLHttpRequestWithXml, writable: true, configurable: true })
}
