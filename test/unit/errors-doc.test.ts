/**
 * docs/errors.md is the registry of every error code (STYLE.md: "codes documented in docs/").
 * This test keeps it true in both directions: every code the source defines or raises has a
 * row, and every row names a code the source still has. What counts as a code is listed at the
 * top of docs/errors.md; the finders below are those rules, as regular expressions over src/.
 */
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dirname, '..', '..')
const SRC = join(ROOT, 'src')
const DOC = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8')

function sources (): Array<[string, string]> {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort()
    .map(f => [`src/${f}`, readFileSync(join(SRC, f), 'utf8')])
}

/** Removes comments (block and line), leaving string literals alone. */
function stripComments (code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\/|(^|[^:'"`\\])\/\/[^\n]*/g, (_m, keep: string | undefined) => keep ?? '')
}

interface Found { code: string, where: string, rule: string }

function findCodes (files: Array<[string, string]>): Found[] {
  const found: Found[] = []
  const add = (code: string, where: string, rule: string): void => { found.push({ code, where, rule }) }
  const texts = files.map(([name, text]) => [name, stripComments(text)] as const)

  // String constants by name, to resolve `new XError(SOME_CODE, ...)`.
  const constants = new Map<string, string>()
  for (const [, text] of texts) {
    for (const m of text.matchAll(/\bconst\s+([A-Z][A-Z0-9_]*)\s*=\s*'([^']*)'/g)) constants.set(m[1]!, m[2]!)
  }
  // Error classes (MegaphoneError and everything that extends one of them) whose constructor
  // takes the code first. UsageError, ConfigError and the like fix their code in `super(...)`.
  const takesCode = new Map<string, boolean>([['MegaphoneError', true]])
  for (let grew = true; grew;) {
    grew = false
    for (const [, text] of texts) {
      for (const m of text.matchAll(/\bclass\s+(\w+)\s+extends\s+(\w+)/g)) {
        const parent = takesCode.get(m[2]!)
        if (parent === undefined || takesCode.has(m[1]!)) continue
        const next = text.slice(m.index + 1).search(/\bclass\s/)
        const body = text.slice(m.index, next < 0 ? undefined : m.index + 1 + next)
        const ctor = /\bconstructor\s*\(\s*(\w+)/.exec(body)
        takesCode.set(m[1]!, ctor === null ? parent : ctor[1] === 'code')
        grew = true
      }
    }
  }

  for (const [where, text] of texts) {
    // 1. The code argument of `new XError(...)` and of `super(...)` in an error class.
    for (const m of text.matchAll(/\bnew\s+(\w+)\(\s*(?:'([^']+)'|([A-Z][A-Z0-9_]*)\b)/g)) {
      if (takesCode.get(m[1]!) !== true) continue
      const code = m[2] ?? constants.get(m[3]!)
      if (code === undefined) add(`<unresolved ${m[3]!}>`, where, 'constructor')
      else add(code, where, `new ${m[1]!}`)
    }
    if (/\bclass\s+\w+\s+extends\s+\w+/.test(text)) {
      for (const m of text.matchAll(/\bsuper\(\s*'([^']+)'/g)) add(m[1]!, where, 'super')
    }
    // 2. Exported code constants: `const NAME = 'NAME'`.
    for (const m of text.matchAll(/\bconst\s+([A-Z][A-Z0-9_]*)\s*=\s*'([^']*)'/g)) {
      if (m[1] === m[2] && m[1]!.includes('_')) add(m[1]!, where, 'code constant')
    }
    // 3. String unions named *ErrorCode, the BOSH terminal conditions, the backend's close reasons.
    for (const m of text.matchAll(/\bexport\s+type\s+(\w+ErrorCode|TerminalCondition|LinkCloseReason)\s*=((?:\s*\|?\s*'[^']*')+)/g)) {
      for (const lit of m[2]!.matchAll(/'([^']*)'/g)) add(lit[1]!, where, m[1]!)
    }
    // 4. The link protocol's ERROR names.
    const table = /\bPROTOCOL_ERRORS\s*=\s*\{([^}]*)\}/.exec(text)
    if (table !== null) {
      for (const k of table[1]!.matchAll(/(?:'([a-z][a-z0-9-]*)'|\b([a-z][a-z0-9-]*))\s*:/g)) add(k[1] ?? k[2]!, where, 'PROTOCOL_ERRORS')
    }
  }
  return found
}

const files = sources()
const found = findCodes(files)
const codes = new Set(found.map(f => f.code))

void t.test('the finders still find every family (guards against a vacuous pass)', t => {
  for (const code of [
    'CONFIG_INVALID', 'SESSION_TABLE_FULL', 'SESSION_TABLE_OPTIONS', 'TIMER_OPTIONS', 'TIMER_ID_RANGE',
    'LINK_DOWN', 'LINK_BAD_FRAME', 'LINK_REMOTE_ERROR', 'BODY_TOO_LARGE', 'BODY_CHAR_DATA',
    'item-not-found', 'remote-stream-error', 'auth-failed', 'internal', 'CLI_USAGE', 'CLI_IQ_ERROR',
    'link-lost', 'link-closed'
  ]) t.ok(codes.has(code), code)
  t.notOk([...codes].some(c => c.startsWith('<unresolved')), `every constructor code resolves: ${found.filter(f => f.code.startsWith('<')).map(f => `${f.code} in ${f.where}`).join(', ')}`)
  t.end()
})

void t.test('every code in src/ has a row in docs/errors.md', t => {
  const missing = found.filter(f => !DOC.includes(`\`${f.code}\``))
  const lines = [...new Map(missing.map(f => [f.code, `${f.code} (${f.rule}, ${f.where})`])).values()]
  t.same(lines, [], 'codes missing from docs/errors.md')
  t.end()
})

void t.test('every row of docs/errors.md names a code src/ still has', t => {
  const rows = [...DOC.matchAll(/^\| `([^`]+)`/gm)].map(m => m[1]!)
  t.ok(rows.length >= codes.size, `${rows.length} rows for ${codes.size} codes`)
  t.same(rows.filter(r => !codes.has(r)), [], 'rows whose code is gone from src/')
  t.end()
})

void t.test('the comment stripper keeps strings and drops comments', t => {
  t.equal(stripComments("a = 'x' // 'y'\n/* 'z' */ b = 'http://w'"), "a = 'x' \n b = 'http://w'")
  t.end()
})

void t.test('the finders on a made-up source', t => {
  const src = [
    "export const FOO_BAR = 'FOO_BAR'",
    "export const NOT_A_CODE = 'text/xml'",
    'class E extends MegaphoneError { constructor (code: string) { super(code, "") } }',
    "class U extends E { constructor (message: string) { super('U_FIXED', message) } }",
    "new E('E_CODE'); new E(FOO_BAR); new U('a message, not a code'); new Error('not ours')",
    'export type XErrorCode =',
    "  /** one, not 'q' */",
    "  | 'x-one'",
    "  | 'x-two'",
    "const PROTOCOL_ERRORS = { 'auth-failed': 1, internal: 13 }"
  ].join('\n')
  const got = [...new Set(findCodes([['src/made-up.ts', src]]).map(f => f.code))].sort()
  t.same(got, ['E_CODE', 'FOO_BAR', 'U_FIXED', 'auth-failed', 'internal', 'x-one', 'x-two'])
  t.end()
})

void t.test('the close reasons table says what each transport answers', async t => {
  const { conditionForStreamEnd } = await import('../../src/bosh/conditions.ts')
  const { conditionForClose } = await import('../../src/ws/conditions.ts')
  const { closeReasonFromServer } = await import('../../src/backend/backend.ts')
  const section = DOC.slice(DOC.indexOf('## Close reasons'), DOC.indexOf('## Command line'))
  const rows = [...section.matchAll(/^\| `([a-z-]+)` \|[^|]*\|[^|]*\| `([a-z-]+)` \| `([a-z-]+)` \|$/gm)]
  const reasons = ['link-lost', 'link-closed', 'bad-frame', 'frame-too-large', 'session-limit', 'internal', 'unknown-connection', 'duplicate-connection'] as const
  t.same(rows.map(r => r[1]).sort(), [...reasons].sort(), 'one row per LinkCloseReason')
  for (const r of rows) {
    const reason = reasons.find(x => x === r[1])
    if (reason === undefined) continue
    t.equal(conditionForStreamEnd(reason, false), r[2], `${reason}: BOSH`)
    t.equal(conditionForClose(reason), r[3], `${reason}: WebSocket`)
    t.equal(conditionForStreamEnd(reason, true), 'remote-stream-error', `${reason} after a <stream:error/>: BOSH copies it (XEP-0206 §6)`)
  }
  t.equal(closeReasonFromServer(''), '', 'a normal end')
  t.equal(closeReasonFromServer('conflict'), 'conflict', 'a stream condition as it is')
  t.equal(closeReasonFromServer('link-lost'), 'undefined-condition', 'the server cannot pass for the link')
  t.equal(closeReasonFromServer('made-up'), 'undefined-condition', 'RFC 6120 §4.9.3.21')
  t.equal(conditionForStreamEnd('conflict', false), 'remote-stream-error')
  t.equal(conditionForStreamEnd('host-gone', false), 'host-gone', 'XEP-0124 §17.2 has a condition of that name')
  t.equal(conditionForStreamEnd('', false), '')
  t.equal(conditionForClose('conflict'), 'conflict')
})
