/**
 * The edge process: configuration, logs, then runEdge; a graceful stop on SIGTERM / SIGINT
 * within a bound, and a second signal exits at once.
 */
import { ConfigError, helpText, loadConfig, type Config } from './config/load.ts'
import { createLogger } from './log.ts'
import { runEdge } from './run-edge.ts'

/** How long a graceful stop may take before the process exits anyway. */
const STOP_BOUND_MS = 10_000

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv.includes('--help')) {
    process.stdout.write(helpText())
    return
  }
  let config: Config
  try {
    config = loadConfig(argv, process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`megaphone-edge: ${err.message}\nTry --help.\n`)
      process.exit(2)
    }
    throw err
  }
  const log = createLogger(config.logLevel)
  const { stop } = await runEdge(config, log)
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    log.info({ signal }, 'stopping')
    const bound = setTimeout(() => { log.error('stop took too long: exiting'); process.exit(1) }, STOP_BOUND_MS)
    bound.unref()
    stop().then(() => { log.info('stopped'); process.exit(0) }, (err: unknown) => { log.error({ err }, 'stop failed'); process.exit(1) })
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

main().catch((err: unknown) => {
  process.stderr.write(`megaphone-edge: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
