/**
 * The throwaway ejabberd of a load run, through scripts/ejabberd.sh (the same script the demo
 * and the tests use): its own directory, free loopback ports, users registered in bulk (one
 * comprehension over `ejabberd_auth:try_register/3` on the node, thousands a second), memory
 * read from the node with `erlang:memory/1`, CPU from /proc/<beam pid>/stat.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { freePorts } from '../lib/ports.ts'
import { startByScript, type ScriptStart } from '../lib/server-script.ts'
import type { BenchServer } from './server.ts'

const run = promisify(execFile)
const SCRIPT = resolve(import.meta.dirname, '../../scripts/ejabberd.sh')
/** USER_HZ: /proc/<pid>/stat counts CPU in clock ticks, 100 a second on Linux. */
const TICKS = 100

export interface EjabberdMemory {
  total: number
  processes: number
  /** c2s sessions registered in ejabberd_sm */
  sessions: number
  /** Erlang processes on the node */
  process_count: number
}

export class BenchEjabberd implements BenchServer {
  readonly name = 'ejabberd'

  private constructor (
    readonly dir: string,
    readonly pid: number,
    readonly domain: string,
    readonly httpPort: number,
    readonly linkPort: number,
    readonly linkSecret: string,
    private readonly env: NodeJS.ProcessEnv
  ) {}

  static async start (opts: { logLevel?: string, idleGc?: number } = {}): Promise<BenchEjabberd> {
    const prepare = async (): Promise<ScriptStart & { ports: number[] }> => {
      const dir = await mkdtemp(join(tmpdir(), 'megaphone-bench-ej-'))
      const ports = await freePorts(4)
      const [c2s, http, link, dist] = ports.map(String)
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        EJ_DIR: dir,
        EJ_NAME: `bench${process.pid}x${Math.floor(Math.random() * 1e6)}`,
        EJ_C2S_PORT: c2s,
        EJ_HTTP_PORT: http,
        EJ_LINK_PORT: link,
        EJ_DIST_PORT: dist,
        EJ_LOGLEVEL: opts.logLevel ?? 'error',
        EJ_IDLE_GC: String(opts.idleGc ?? 10),
        // Above any user count a run registers, so every login finds its user cached.
        EJ_CACHE_SIZE: '2000000',
        // The Erlang process limit (262,144 by default) raised above what 100,000 sessions and
        // more take (a c2s process each, and mod_bosh's ramp two or three); erl reads ERL_AFLAGS
        // before its own command line, so scripts/ejabberd.sh needs no knob for it.
        ERL_AFLAGS: `${process.env.ERL_AFLAGS ?? ''} +P 1048576`.trim(),
        EJ_USERS: ''
      }
      return { env, dir, ports }
    }
    const { kv, start } = await startByScript(SCRIPT, prepare, 1 << 20)
    const { env, dir } = start
    const [, http = 0, link = 0] = start.ports
    const pid = Number(kv.get('EJ_PID'))
    const ej = new BenchEjabberd(dir, pid, kv.get('EJ_DOMAIN') ?? 'localhost', http, link, kv.get('EJ_LINK_SECRET') ?? '', env)
    // Whatever happens to the harness, the node does not outlive it.
    process.on('exit', ej.killNow)
    return ej
  }

  get boshUrl (): string { return `http://127.0.0.1:${this.httpPort}/bosh` }
  get wsUrl (): string { return `ws://127.0.0.1:${this.httpPort}/ws` }

  private readonly killNow = (): void => { try { process.kill(this.pid, 'SIGKILL') } catch { /* gone */ } }

  private async script (...args: string[]): Promise<string> {
    return (await run('bash', [SCRIPT, ...args], { env: this.env, maxBuffer: 64 << 20 })).stdout
  }

  /** Evaluates an Erlang expression (ending with a dot) on the node; its value printed with ~p. */
  async eval (expr: string): Promise<string> {
    return (await this.script('eval', expr)).trim()
  }

  /** PREFIX1..PREFIXn with one password, in one call on the node. */
  async registerBulk (prefix: string, n: number, password: string): Promise<number> {
    return Number(await this.script('register-bulk', prefix, String(n), password))
  }

  /**
   * erlang:memory() total and processes; with `gc`, after a garbage collection of every
   * process first (what stays when nothing is left to collect).
   */
  async memory (gc: boolean): Promise<EjabberdMemory> {
    const collect = gc ? '[erlang:garbage_collect(P) || P <- erlang:processes()], ' : ''
    const out = await this.eval(`${collect}{erlang:memory(total), erlang:memory(processes), ejabberd_sm:connected_users_number(), erlang:system_info(process_count)}.`)
    const m = /\{(\d+),(\d+),(\d+),(\d+)\}/.exec(out.replace(/\s/g, ''))
    if (m === null) throw new Error(`unexpected memory reply: ${out}`)
    return { total: Number(m[1]), processes: Number(m[2]), sessions: Number(m[3]), process_count: Number(m[4]) }
  }

  async connectedUsers (): Promise<number> {
    return Number(await this.eval('ejabberd_sm:connected_users_number().'))
  }

  /** The `backlog` of every listener, as the running node has it: [port, module, backlog]. */
  async backlogs (): Promise<Array<{ port: number, module: string, backlog: number }>> {
    const out = await this.eval('[{P, M, maps:get(backlog, O, undefined)} || {{P, _, _}, M, O} <- ejabberd_option:listen()].')
    return [...out.replace(/\s/g, '').matchAll(/\{(\d+),([a-z0-9_]+),(\d+|undefined)\}/g)]
      .map(m => ({ port: Number(m[1]), module: m[2] ?? '', backlog: Number(m[3]) }))
  }

  /** CPU seconds (user + system) the node has used so far. */
  async cpuSeconds (): Promise<number> {
    return await cpuSecondsOf(this.pid)
  }

  async stop (): Promise<void> {
    try { await this.script('stop') } finally {
      process.off('exit', this.killNow)
      this.killNow()
      await rm(this.dir, { recursive: true, force: true })
    }
  }
}

/** Open file descriptors of a process (entries of /proc/<pid>/fd): sockets included. */
export async function openFilesOf (pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length
}

/** CPU seconds (utime + stime) of a process, from /proc/<pid>/stat (proc(5) fields 14 and 15). */
export async function cpuSecondsOf (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces; fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}
