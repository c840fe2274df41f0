/** Messages between the announcement benchmark (main.ts) and its client workers (worker.ts). */

export interface AnnounceInit {
  /** the BOSH URL every session of the worker logs in through */
  url: string
  domain: string
  /** users are `${prefix}${i + 1}` for i in first .. first + count - 1 */
  prefix: string
  password: string
  first: number
  count: number
  /** source addresses the sessions' sockets are spread over (127.0.0.x) */
  localAddresses: string[]
}

export type ToAnnounceWorker =
  | { type: 'init', init: AnnounceInit }
  | { type: 'login', rate: number }
  /** from now on, count `<body>ann ID</body>` arrivals */
  | { type: 'expect', id: number }
  | { type: 'chat', rate: number, chatters: number }
  | { type: 'stop-chat' }
  /** one element sent by the worker's first online session (mod_announce's trigger) */
  | { type: 'send-raw', xml: string }
  | { type: 'exit' }

export interface AnnounceProgress {
  type: 'progress'
  online: number
  failed: number
  dropped: number
  loginsDone: number
  /** sessions that received the current announcement, once each */
  reached: number
  duplicates: number
  /** wall-clock ms of the latest first arrival */
  lastArrival: number
  chatSent: number
  chatReceived: number
}

export type FromAnnounceWorker =
  | { type: 'ready' }
  | AnnounceProgress
  | { type: 'chat', histogram: string, sent: number, received: number }
