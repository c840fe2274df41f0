/**
 * Starting a throwaway server through its script (scripts/ejabberd.sh, scripts/prosody.sh), as
 * the load harness and the test fixtures both do: `start` prints `KEY=value` lines (the pid, the
 * domain, the link secret...), and a start that fails takes its directory with it.
 */
import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Runs `bash script start` with `env`; returns what it printed as a map of KEY to value. */
export async function startByScript (script: string, env: NodeJS.ProcessEnv, dir: string, maxBuffer: number): Promise<Map<string, string>> {
  let out: string
  try {
    out = (await run('bash', [script, 'start'], { env, maxBuffer })).stdout
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return new Map(out.split('\n').filter(l => l.includes('=')).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}
