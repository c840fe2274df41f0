/**
 * The throwaway Prosody of a `--server prosody` load run, through scripts/prosody.sh (the same
 * script the demo and the tests use): its own directory, free loopback ports, users written in
 * bulk as account files, memory read from Prosody's Lua heap (collectgarbage("count") through
 * the admin shell) and its resident set, CPU from /proc/<pid>/stat.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { freePorts } from '../lib/ports.ts'
import { startByScript, type ScriptStart } from '../lib/server-script.ts'
import { cpuSecondsOf } from './ejabberd.ts'
import type { BenchServer, ServerMemory } from './server.ts'

const run = promisify(execFile)
const SCRIPT = resolve(import.meta.dirname, '../../scripts/prosody.sh')

export class BenchProsody implements BenchServer {
  readonly name = 'Prosody'

  private constructor (
    readonly dir: string,
    readonly pid: number,
    readonly domain: string,
    readonly httpPort: number,
    readonly linkPort: number,
    readonly linkSecret: string,
    private readonly env: NodeJS.ProcessEnv
  ) {}

  static async start (opts: { logLevel?: string } = {}): Promise<BenchProsody> {
    const prepare = async (): Promise<ScriptStart & { ports: number[] }> => {
      const dir = await mkdtemp(join(tmpdir(), 'megaphone-bench-prosody-'))
      const ports = await freePorts(3)
      const [c2s, http, link] = ports.map(String)
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PR_DIR: dir,
        PR_C2S_PORT: c2s,
        PR_HTTP_PORT: http,
        PR_LINK_PORT: link,
        PR_LOGLEVEL: opts.logLevel ?? 'error',
        PR_USERS: ''
      }
      return { env, dir, ports }
    }
    const { kv, start } = await startByScript(SCRIPT, prepare, 1 << 20)
    const { env, dir } = start
    const [, http = 0, link = 0] = start.ports
    const pr = new BenchProsody(dir, Number(kv.get('PR_PID')), kv.get('PR_DOMAIN') ?? 'localhost', http, link, kv.get('PR_LINK_SECRET') ?? '', env)
    // Whatever happens to the harness, the server does not outlive it.
    process.on('exit', pr.killNow)
    return pr
  }

  get boshUrl (): string { return `http://127.0.0.1:${this.httpPort}/bosh` }
  get wsUrl (): string { return `ws://127.0.0.1:${this.httpPort}/ws` }

  private readonly killNow = (): void => { try { process.kill(this.pid, 'SIGKILL') } catch { /* gone */ } }

  private async script (...args: string[]): Promise<string> {
    return (await run('bash', [SCRIPT, ...args], { env: this.env, maxBuffer: 64 << 20 })).stdout
  }

  /** Lua evaluated in the server (mod_admin_shell's `>`); what it returned, printed. */
  private async lua (code: string): Promise<string> {
    const lines = (await this.script('shell', `> ${code}`)).trim().split('\n')
    return (lines[lines.length - 1] ?? '').replace(/^Result: /, '')
  }

  async registerBulk (prefix: string, n: number, password: string): Promise<number> {
    return Number(await this.script('register-bulk', prefix, String(n), password))
  }

  async memory (gc: boolean): Promise<ServerMemory> {
    const collect = gc ? 'collectgarbage("collect") collectgarbage("collect") ' : ''
    const out = await this.lua(`${collect}local n = 0 for _ in pairs(prosody.full_sessions) do n = n + 1 end return math.floor(collectgarbage("count") * 1024) .. " " .. n`)
    const m = /^(\d+) (\d+)$/.exec(out.trim())
    if (m === null) throw new Error(`unexpected memory reply: ${out}`)
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8')
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
    return { total: Number(m[1]), processes: rss, sessions: Number(m[2]) }
  }

  async connectedUsers (): Promise<number> {
    return Number(await this.lua('local n = 0 for _ in pairs(prosody.full_sessions) do n = n + 1 end return n'))
  }

  /** Every Prosody listener shares network_settings.tcp_backlog (scripts/prosody.sh). */
  async backlogs (): Promise<Array<{ port: number, module: string, backlog: number }>> {
    const backlog = Number(await this.lua('return require "core.configmanager".get("*", "network_settings").tcp_backlog'))
    return [{ port: this.httpPort, module: 'prosody_http', backlog }, { port: this.linkPort, module: 'mod_megaphone', backlog }]
  }

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
