/**
 * Resolves the configuration: defaults, then a JSON file (`--config`, MEGAPHONE_CONFIG), then
 * environment variables, then flags (later wins), each value checked against the schema. Errors
 * name the option, where the value came from, and what is wrong; the entry point prints them
 * and exits with status 2.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { MegaphoneError } from '../errors.ts'
import { OPTIONS, envOf, flagOf, type Config, type OptionSpec } from './schema.ts'

export type { Config } from './schema.ts'

export class ConfigError extends MegaphoneError {
  constructor (message: string) {
    super('CONFIG_INVALID', message)
  }
}

/** Reads the configuration file; tests pass their own. */
export type ReadFile = (path: string) => string

/**
 * One value from a flag or variable (always a string, or `true` for a bare boolean flag) or from
 * the file (JSON: also numbers, booleans and arrays), checked against its spec. `where` names
 * the option as the operator wrote it: `--max-wait`, `MEGAPHONE_MAX_WAIT`, `edge.json: maxWait`.
 */
function convert (spec: OptionSpec, written: unknown, where: string): unknown {
  const raw = spec.compat === undefined ? written : spec.compat(written)
  const fail = (why: string): never => { throw new ConfigError(`${where}: ${why} (got ${spec.secret === true ? '<hidden>' : JSON.stringify(raw)})`) }
  switch (spec.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw
      if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) return true
      if (typeof raw === 'string' && /^(0|false|no|off)$/i.test(raw)) return false
      return fail('must be true or false')
    case 'int':
    case 'number': {
      if (typeof raw !== 'string' && typeof raw !== 'number') return fail(spec.type === 'int' ? 'must be an integer' : 'must be a number')
      const s = String(raw).trim()
      const n = spec.type === 'int' ? (/^-?[0-9]+$/.test(s) ? Number(s) : NaN) : Number(s)
      if (!Number.isFinite(n) || s === '') return fail(spec.type === 'int' ? 'must be an integer' : 'must be a number')
      if (spec.min !== undefined && n < spec.min) return fail(`must be at least ${spec.min}`)
      if (spec.max !== undefined && n > spec.max) return fail(`must be at most ${spec.max}`)
      return n
    }
    case 'list':
      if (Array.isArray(raw) && raw.every(x => typeof x === 'string')) return raw.map(x => x.trim()).filter(x => x !== '')
      if (typeof raw !== 'string') return fail('must be a comma-separated string or a list of strings')
      return raw.split(',').map(x => x.trim()).filter(x => x !== '')
    case 'string':
      if (typeof raw !== 'string') return fail('must be a string')
      return raw
  }
}

const BY_KEY = new Map(OPTIONS.map(s => [s.key, s]))
const BY_FLAG = new Map(OPTIONS.map(s => [flagOf(s.key), s]))

/** The file's options: a JSON object whose keys are option names (camelCase or kebab-case). */
function fileValues (path: string, from: string, readFile: ReadFile): Array<[OptionSpec, unknown]> {
  let text: string
  try {
    text = readFile(path)
  } catch (err) {
    throw new ConfigError(`${from}: cannot read ${path}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON: ${(err as Error).message}`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${path}: must hold a JSON object of options`)
  const out: Array<[OptionSpec, unknown]> = []
  for (const [name, value] of Object.entries(json)) {
    const spec = BY_KEY.get(name) ?? BY_FLAG.get(name)
    if (spec === undefined) throw new ConfigError(`${path}: ${name}: no such option (see --help)`)
    // One file: a file naming another would make the order of layers ambiguous.
    if (spec.key === 'config') throw new ConfigError(`${path}: ${name}: a configuration file cannot name another`)
    out.push([spec, value])
  }
  return out
}

/** The configuration from `argv` (without node and the script), `env`, and the file they name. */
export function loadConfig (argv: readonly string[], env: NodeJS.ProcessEnv, readFile: ReadFile = path => readFileSync(path, 'utf8')): Config {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(OPTIONS.map(s => [flagOf(s.key), { type: s.type === 'boolean' ? 'boolean' as const : 'string' as const }])),
      allowPositionals: false,
      strict: true
    })
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>
  const values: Record<string, unknown> = {}
  /** where each value came from, for the messages of the checks that run on the final values */
  const where: Record<string, string> = {}
  for (const spec of OPTIONS) values[spec.key] = spec.type === 'list' ? [...spec.default] : spec.default

  // defaults < file < environment < flags
  const fileFlag = flags[flagOf('config')]
  const fileEnv = env[envOf('config')]
  const file = typeof fileFlag === 'string' ? fileFlag : fileEnv !== undefined && fileEnv !== '' ? fileEnv : ''
  if (file !== '') {
    values.config = file
    for (const [spec, raw] of fileValues(file, typeof fileFlag === 'string' ? '--config' : envOf('config'), readFile)) {
      const at = `${file}: ${spec.key}`
      values[spec.key] = convert(spec, raw, at)
      where[spec.key] = at
    }
  }
  for (const spec of OPTIONS) {
    const v = env[envOf(spec.key)]
    if (v !== undefined && v !== '') {
      values[spec.key] = convert(spec, v, envOf(spec.key))
      where[spec.key] = envOf(spec.key)
    }
  }
  for (const spec of OPTIONS) {
    const v = flags[flagOf(spec.key)]
    if (v !== undefined) {
      values[spec.key] = convert(spec, v, '--' + flagOf(spec.key))
      where[spec.key] = '--' + flagOf(spec.key)
    }
  }
  // A value nobody set is named by its variable: that is where an operator would set it.
  const from = (key: string): string => where[key] ?? envOf(key)
  for (const spec of OPTIONS) {
    const why = spec.check?.(values[spec.key])
    if (why !== undefined) throw new ConfigError(`${from(spec.key)}: ${why}`)
  }
  const c = values as Config
  // An edge on any free public port (tests, throwaway runs) takes any free admin port too, so
  // that two of them on one machine do not both claim 5281; set adminPort to pin it.
  if (c.port === 0 && where.adminPort === undefined) c.adminPort = 0
  if (c.edgePeers.length > 0 && c.edgeId === '') throw new ConfigError(`${from('edgePeers')}: needs an edge id (--edge-id) for this edge`)
  // One secret for every link, or one per link in the order of --links.
  if (c.linkSecrets.length > 1 && c.linkSecrets.length !== c.links.length) throw new ConfigError(`${from('linkSecrets')}: ${c.linkSecrets.length} secrets for ${c.links.length} links (give one for all, or one per link)`)
  if (c.linkMaxReceiveFrame < c.linkMaxFrame) throw new ConfigError(`${from('linkMaxReceiveFrame')}: must be at least the link's frame size (${c.linkMaxFrame})`)
  // Node refuses a request timeout shorter than the headers' (the headers are part of the request).
  if (c.requestTimeout < c.headersTimeout) throw new ConfigError(`${from('requestTimeout')}: must be at least the headers timeout (${c.headersTimeout} s)`)
  // Room for at least one body of the largest size, or such a body could never be read.
  if (c.maxBufferedBodyBytes < c.maxBodyBytes) throw new ConfigError(`${from('maxBufferedBodyBytes')}: must be at least maxBodyBytes (${c.maxBodyBytes})`)
  if (c.heartbeatTimeout <= c.heartbeatInterval) throw new ConfigError(`${from('heartbeatTimeout')}: must be longer than the heartbeat interval (${c.heartbeatInterval} s)`)
  if (c.websocketIdleTimeout > 0 && c.websocketPingInterval > 0 && c.websocketIdleTimeout <= c.websocketPingInterval) throw new ConfigError(`${from('websocketIdleTimeout')}: must be longer than the WebSocket ping interval (${c.websocketPingInterval} s)`)
  return c
}

/** `--help`, generated from the schema. */
export function helpText (): string {
  const lines = ['Usage: megaphone-edge [options]', '', 'Every option can also be set in the --config file and by its environment variable;', 'flags win over the environment, which wins over the file.', '']
  for (const s of OPTIONS) {
    const def = Array.isArray(s.default) ? s.default.join(',') : String(s.default)
    lines.push(`  --${flagOf(s.key)}${s.type === 'boolean' ? '' : ' VALUE'}`)
    lines.push(`      ${s.description}`)
    lines.push(`      env ${envOf(s.key)}; default ${s.secret === true ? '(none)' : def === '' ? '(empty)' : def}`)
  }
  lines.push('  --help', '      print this text')
  return lines.join('\n') + '\n'
}
