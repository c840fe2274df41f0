/**
 * Runs the real `megaphone` launcher (bin/megaphone.js) as a child process, as a shell would.
 * Detached (its own session, so no controlling terminal: a password prompt can never block the
 * test on the developer's terminal), with an environment free of the caller's MEGAPHONE_*.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const LAUNCHER = fileURLToPath(new URL('../../bin/megaphone.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliRun {
  env?: Record<string, string>
  stdin?: string
  timeoutMs?: number
}

function cleanEnv (): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MEGAPHONE_')) env[k] = v
  return env
}

export async function megaphone (args: readonly string[], o: CliRun = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [LAUNCHER, ...args], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...o.env },
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  child.stdin.end(o.stdin ?? '')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, o.timeoutMs ?? 30_000)
  return await new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}
