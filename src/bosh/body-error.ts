/**
 * Why a request's `<body/>` was refused. parseBody() returns these (it never throws); the
 * session layer answers with `condition` as a terminal binding condition (XEP-0124 §17.2), or
 * with the legacy HTTP status for clients that sent no 'ver' (§17.1).
 */
import { MegaphoneError } from '../errors.ts'

/** Stable codes, documented in docs/errors.md. */
export type BoshBodyErrorCode =
  /** the request exceeds maxBodyBytes */
  | 'BODY_TOO_LARGE'
  /** the payloads, with the `<body/>` namespace declarations copied into them, would exceed maxBodyBytes */
  | 'BODY_FORWARDED_TOO_LARGE'
  /** elements nest deeper than maxDepth */
  | 'BODY_TOO_DEEP'
  /** more payloads than maxPayloads */
  | 'BODY_TOO_MANY_PAYLOADS'
  /** not UTF-8: invalid byte sequences, unpaired surrogates, another declared encoding */
  | 'BODY_BAD_ENCODING'
  /** not well-formed XML 1.0 with namespaces (includes truncation and trailing data) */
  | 'BODY_NOT_WELL_FORMED'
  /** a comment, processing instruction or DTD (XEP-0124 §4, RFC 6120 §11.1) */
  | 'BODY_RESTRICTED_XML'
  /** the root is not `<body xmlns='http://jabber.org/protocol/httpbind'>` (XEP-0124 §4) */
  | 'BODY_NOT_HTTPBIND'
  /** character data directly inside `<body/>` (XEP-0124 §4) */
  | 'BODY_CHAR_DATA'

export type BoshBodyCondition = 'bad-request' | 'policy-violation'

export class BoshBodyError extends MegaphoneError {
  declare readonly code: BoshBodyErrorCode
  /** the XEP-0124 §17.2 terminal binding condition to answer with */
  readonly condition: BoshBodyCondition
  /** UTF-16 index into the decoded document where the problem was found (for logs) */
  readonly offset: number
  /** discriminates from ParsedBody, whose `ok` is true */
  readonly ok = false

  constructor (code: BoshBodyErrorCode, message: string, offset = 0) {
    super(code, message)
    this.name = 'BoshBodyError'
    this.offset = offset
    // XEP-0124 §17.2: limits are session rules the client broke; everything else is a
    // binding element whose format is unacceptable.
    this.condition = code === 'BODY_TOO_LARGE' || code === 'BODY_FORWARDED_TOO_LARGE' || code === 'BODY_TOO_DEEP' || code === 'BODY_TOO_MANY_PAYLOADS'
      ? 'policy-violation'
      : 'bad-request'
  }
}
