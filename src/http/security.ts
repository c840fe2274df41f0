/**
 * The headers every BOSH response carries whatever its status, and the CORS decision. Nothing
 * the client sends chooses a response header, except its Origin when that origin is on the
 * operator's list.
 */

/**
 * A BOSH response is XML meant for a script, never a document to render: a browser must not
 * sniff it into HTML (`nosniff`), and if one is opened as a page anyway it runs nothing and
 * loads nothing (`sandbox; default-src 'none'`), whatever Content-Type the session was created
 * with (XEP-0124 §7.1 `content`).
 */
export const NOSNIFF = ['X-Content-Type-Options', 'nosniff'] as const
export const CSP = ['Content-Security-Policy', "sandbox; default-src 'none'"] as const

/** The CORS policy of the public server, decided once from the `corsOrigins` option. */
export class CorsPolicy {
  /** `*` is in the list: every origin, and no need to read the request's. */
  readonly any: boolean
  private readonly allowed: ReadonlySet<string>

  constructor (origins: readonly string[]) {
    this.any = origins.includes('*')
    this.allowed = new Set(origins)
  }

  /**
   * The Access-Control-Allow-Origin value for a request from `origin` (undefined when it sent
   * none): `*`, the origin itself when it is on the list (then the response also says `Vary:
   * Origin`, so that caches keep one answer per origin), or undefined for no header at all.
   */
  allow (origin: string | undefined): string | undefined {
    if (this.any) return '*'
    return origin !== undefined && this.allowed.has(origin) ? origin : undefined
  }
}
