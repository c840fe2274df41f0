/**
 * What the chat page is made of: its HTML, the module script that starts Converse.js, and the
 * Content-Security-Policy they run under. Pure functions of the settings (no I/O): the routes
 * (src/chat/page.ts) build them once at start.
 */

/** What the page tells the script (operator configuration, never anything from a request). */
export interface ChatSettings {
  boshPath: string
  websocketPath: string
  /** '' : no default domain (users type a full JID) */
  domain: string
  /** '' : Converse finds the MUC service through disco */
  mucDomain: string
  /** where Converse's files are served, ending in '/' */
  assetsPath: string
  converseVersion: string
}

/**
 * What Converse.js 14 needs and nothing more, checked in Chromium by
 * test/browser/chat-page.test.ts (which fails on any violation report):
 * - scripts only from this origin: the page has no inline script (its settings are JSON data);
 *   Converse needs no eval and no WebAssembly with OMEMO off;
 * - styles from this origin and inline: Converse's build injects its components' styles as
 *   <style> elements without a nonce (style-src-elem), and its templates set style attributes
 *   (style-src-attr): both are reported without 'unsafe-inline';
 * - images from this origin and data: (the stylesheet's icons, avatars from vCards); links to
 *   media elsewhere stay links (`render_media: false` in the script), so that nothing is fetched
 *   from another origin and a sender cannot learn who read the message;
 * - connections to this origin only: 'self' covers the ws:/wss: URL of the same host (CSP 3);
 * - no plugins, no frames, no <base>, forms posting nowhere (Converse handles them in script),
 *   and the page may not be framed (clickjacking).
 */
export const CHAT_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

/** JSON that cannot end the <script> element it sits in, nor start a comment or CDATA section in it. */
function jsonInHtml (value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
}

export function chatPageHtml (s: ChatSettings): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Megaphone chat</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="${s.assetsPath}converse.min.css">
<script type="application/json" id="megaphone-chat">${jsonInHtml(s)}</script>
<script type="module" src="/chat.js"></script>
</head>
<body class="converse-fullscreen">
<noscript>This chat page runs Converse.js ${s.converseVersion}: it needs JavaScript.</noscript>
</body>
</html>
`
}

/**
 * The module script: reads the page's settings and starts Converse.js. Its URLs are the page's
 * origin with the edge's paths, so the same page works behind any host name, port or TLS
 * proxy. WebSocket (RFC 7395) by default; `/?transport=bosh` uses BOSH (XEP-0206) only, for
 * networks whose proxies do not pass WebSockets (Converse tries BOSH by itself only when a
 * WebSocket session that was up fails, not when the first one cannot open).
 */
export function chatBootScript (assetsPath: string): string {
  return `// Megaphone chat page: starts Converse.js with the settings in the page (src/chat/html.ts).
import converse from ${JSON.stringify(assetsPath + 'converse.min.js')}

const s = JSON.parse(document.getElementById('megaphone-chat').textContent)
const ws = new URL(s.websocketPath, location.href)
ws.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
const boshOnly = new URLSearchParams(location.search).get('transport') === 'bosh'
const settings = {
  bosh_service_url: new URL(s.boshPath, location.href).href,
  websocket_url: boshOnly ? null : ws.href,
  discover_connection_methods: false,
  // Converse's login form; nothing is filled in
  authentication: 'login',
  auto_login: false,
  // accounts are made by the server's operator, not from the login screen (XEP-0077)
  allow_registration: false,
  keepalive: true,
  view_mode: 'fullscreen',
  assets_path: s.assetsPath,
  i18n: 'en',
  // XEP-0313: the server archives every chat, and Converse fetches what was missed
  message_archiving: 'always',
  // XEP-0085: typing notifications, sent and shown
  send_chat_state_notifications: true,
  // XEP-0045 §7.2.14: a room's recent messages when joining it; Converse asks for none from a
  // room that archives (XEP-0313), and fetches those from the archive instead
  muc_history_max_stanzas: 50,
  // rooms are joined with the user's name, without a nickname form
  muc_nickname_from_jid: true,
  // messages from users not in the roster (announcements, first contact) are shown
  allow_non_roster_messaging: true,
  // OMEMO needs WebAssembly ('wasm-unsafe-eval') and PEP device lists: off
  blacklisted_plugins: ['converse-omemo'],
  play_sounds: false,
  // the icon of desktop notifications (Converse's default is at the site's root, not served)
  notification_icon: s.assetsPath + 'images/logo/conversejs-filled.svg',
  // images, audio and video links are shown as links, never fetched (the policy allows no other origin)
  render_media: false,
  embed_3rd_party_media_players: false,
  loglevel: 'warn'
}
if (s.domain) settings.default_domain = s.domain
if (s.mucDomain) {
  settings.muc_domain = s.mucDomain
  // Room names typed in the "add groupchat" form are looked up on this server's MUC service,
  // not on Converse's default public search service (a third party)
  settings.muc_search_service = s.mucDomain
}

// The login screen's footer in fullscreen mode shows Converse's sponsors' logos from
// conversejs.org, which the page's policy blocks (nothing leaves this origin): a footer that
// names what runs here instead. Converse lets a plugin replace one of its elements before it
// registers them (api.elements.define).
class Footer extends HTMLElement {
  connectedCallback () {
    this.className = 'footer mt-auto py-3 text-center'
    this.textContent = 'Megaphone chat · Converse.js ' + s.converseVersion
  }
}
converse.plugins.add('megaphone-chat', {
  initialize () { this._converse.api.elements.define('converse-footer', Footer) }
})
settings.whitelisted_plugins = ['megaphone-chat']
converse.initialize(settings)
`
}
