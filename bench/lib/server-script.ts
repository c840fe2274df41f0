/**
 * Starting a throwaway server through its script (scripts/ejabberd.sh, scripts/prosody.sh), as
 * the load harness and the test fixtures both do: `start` prints `KEY=value` lines (the pid, the
 * domain, the link secret...), and a start that fails takes its directory with it.
 */
import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** What one attempt starts with: the script's environment and the directory it owns. */
export interface ScriptStart {
  env: NodeJS.ProcessEnv
  dir: string
}

export interface Started<T extends ScriptStart> {
  /** what `start` printed, KEY → value */
  kv: Map<string, string>
  /** the attempt that started */
  start: T
}

/**
 * Runs `bash script start` with what `prepare` gives (a fresh directory, fresh ports). A failed
 * start is tried again, `attempts` in all, each with a new `prepare()`: a port taken between
 * finding it and binding it, or a node that never came up on a loaded machine, must not fail a
 * whole test file. Every failure is written to stderr, so a retried start stays visible.
 */
export async function startByScript<T extends ScriptStart> (
  script: string, prepare: () => Promise<T>, maxBuffer: number, attempts = 2
): Promise<Started<T>> {
  for (let attempt = 1; ; attempt++) {
    const start = await prepare()
    try {
      const out = (await run('bash', [script, 'start'], { env: start.env, maxBuffer })).stdout
      const kv = new Map(out.split('\n').filter(l => l.includes('=')).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
      return { kv, start }
    } catch (err) {
      await rm(start.dir, { recursive: true, force: true })
      const stderr = (err as { stderr?: unknown }).stderr
      process.stderr.write(`${script} start failed (attempt ${attempt} of ${attempts}): ${typeof stderr === 'string' && stderr !== '' ? stderr : String(err)}\n`)
      if (attempt >= attempts) throw err
    }
  }
}
