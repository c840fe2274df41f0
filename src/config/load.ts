/**
 * Resolves the configuration: defaults, then environment variables, then flags (later wins),
 * each value checked against the schema. Errors name the option, where the value came from,
 * and what is wrong; the entry point prints them and exits with status 2.
 */
import { parseArgs } from 'node:util'
import { MegaphoneError } from '../errors.ts'
import { OPTIONS, envOf, flagOf, type OptionSpec } from './schema.ts'

export type Config = {
  host: string
  port: number
  boshPath: string
  boshUrl: string
  corsOrigins: string[]
  trustProxy: boolean
  domains: string[]
  maxSessions: number
  maxWait: number
  maxHold: number
  maxInactivity: number
  maxPause: number
  polling: number
  maxBodyBytes: number
  maxPayloads: number
  maxDepth: number
  maxPendingBytes: number
  openTimeout: number
  timerResolution: number
  websocketPath: string
  websocketUrl: string
  websocketMaxMessageBytes: number
  websocketPingInterval: number
  websocketIdleTimeout: number
  websocketMaxBufferedBytes: number
  websocketSeeOtherUri: string
  linkHost: string
  linkPort: number
  linkSecret: string
  linkMaxFrame: number
  linkQueueBytes: number
  heartbeatInterval: number
  heartbeatTimeout: number
  logLevel: string
}

export class ConfigError extends MegaphoneError {
  constructor (message: string) {
    super('CONFIG_INVALID', message)
  }
}

function convert (spec: OptionSpec, raw: string | boolean, source: string): unknown {
  const where = `${source === 'flag' ? '--' + flagOf(spec.key) : envOf(spec.key)}`
  const fail = (why: string): never => { throw new ConfigError(`${where}: ${why} (got ${spec.secret === true ? '<hidden>' : JSON.stringify(raw)})`) }
  switch (spec.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw
      if (/^(1|true|yes|on)$/i.test(raw)) return true
      if (/^(0|false|no|off)$/i.test(raw)) return false
      return fail('must be true or false')
    case 'int':
    case 'number': {
      const s = String(raw).trim()
      const n = spec.type === 'int' ? (/^-?[0-9]+$/.test(s) ? Number(s) : NaN) : Number(s)
      if (!Number.isFinite(n) || s === '') return fail(spec.type === 'int' ? 'must be an integer' : 'must be a number')
      if (spec.min !== undefined && n < spec.min) return fail(`must be at least ${spec.min}`)
      if (spec.max !== undefined && n > spec.max) return fail(`must be at most ${spec.max}`)
      return n
    }
    case 'list':
      return String(raw).split(',').map(x => x.trim()).filter(x => x !== '')
    case 'string':
      return String(raw)
  }
}

/** The configuration from `env` and `argv` (without node and the script). */
export function loadConfig (argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  const values: Record<string, unknown> = {}
  for (const spec of OPTIONS) values[spec.key] = spec.default
  for (const spec of OPTIONS) {
    const v = env[envOf(spec.key)]
    if (v !== undefined && v !== '') values[spec.key] = convert(spec, v, 'env')
  }
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
  for (const spec of OPTIONS) {
    const v = (parsed.values as Record<string, string | boolean | undefined>)[flagOf(spec.key)]
    if (v !== undefined) values[spec.key] = convert(spec, v, 'flag')
  }
  for (const spec of OPTIONS) {
    const why = spec.check?.(values[spec.key])
    if (why !== undefined) {
      const from = (parsed.values as Record<string, unknown>)[flagOf(spec.key)] !== undefined ? '--' + flagOf(spec.key) : envOf(spec.key)
      throw new ConfigError(`${from}: ${why}`)
    }
  }
  const c = values as Config
  if (c.heartbeatTimeout <= c.heartbeatInterval) throw new ConfigError(`${envOf('heartbeatTimeout')}: must be longer than the heartbeat interval (${c.heartbeatInterval} s)`)
  if (c.websocketIdleTimeout > 0 && c.websocketPingInterval > 0 && c.websocketIdleTimeout <= c.websocketPingInterval) throw new ConfigError(`${envOf('websocketIdleTimeout')}: must be longer than the WebSocket ping interval (${c.websocketPingInterval} s)`)
  return c
}

/** `--help`, generated from the schema. */
export function helpText (): string {
  const lines = ['Usage: megaphone-edge [options]', '', 'Every option can also be set by its environment variable; flags win.', '']
  for (const s of OPTIONS) {
    const def = Array.isArray(s.default) ? s.default.join(',') : String(s.default)
    lines.push(`  --${flagOf(s.key)}${s.type === 'boolean' ? '' : ' VALUE'}`)
    lines.push(`      ${s.description}`)
    lines.push(`      env ${envOf(s.key)}; default ${s.secret === true ? '(none)' : def === '' ? '(empty)' : def}`)
  }
  lines.push('  --help', '      print this text')
  return lines.join('\n') + '\n'
}
