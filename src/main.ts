/**
 * The edge process: configuration, logs, then runEdge; a graceful stop on SIGTERM / SIGINT
 * within a bound (`drainTimeout`), and a second signal exits at once.
 *
 * Exit status: 0 after a graceful stop, 1 when the stop failed, overran its bound or was cut
 * short by a second signal, 2 for a configuration error (docs/errors.md `CONFIG_INVALID`).
 */
import { ConfigError, helpText, loadConfig, type Config } from './config/load.ts'
import { createLogger } from './log.ts'
import { runEdge } from './run-edge.ts'

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
      // The operator means it (or the supervisor's own timeout is near): no more waiting.
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    const started = performance.now()
    log.info({ signal, bound: config.drainTimeout }, 'stopping')
    // A client that never finishes its request, or a backend that stops reading, must not keep
    // the process past the bound its supervisor expects (Kubernetes' grace period, systemd's
    // TimeoutStopSec): set drainTimeout below that.
    const bound = setTimeout(() => { log.error({ bound: config.drainTimeout }, 'stop took too long: exiting'); process.exit(1) }, config.drainTimeout * 1000)
    bound.unref()
    stop().then(
      () => { log.info({ ms: Math.round(performance.now() - started) }, 'stopped'); process.exit(0) },
      (err: unknown) => { log.error({ err }, 'stop failed'); process.exit(1) }
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

main().catch((err: unknown) => {
  process.stderr.write(`megaphone-edge: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
