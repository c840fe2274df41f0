/**
 * The `megaphone` process (bin/megaphone.js loads this): the real standard streams, environment
 * and terminal for run(), then exit with its status once the output is written. The exit is
 * explicit because a library timer or an idle keep-alive socket must not hold the command open.
 */
import type { Writable } from 'node:stream'
import { run } from './cli.ts'
import { CliError, EXIT } from './errors.ts'
import { promptOnTerminal } from './password.ts'

async function readStdin (maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    size += buf.length
    if (size > maxBytes) throw new CliError('CLI_MESSAGE_TOO_LONG', EXIT.FAILURE, `standard input is longer than ${maxBytes} bytes`)
    chunks.push(buf)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function flushed (stream: Writable): Promise<void> {
  await new Promise<void>(resolve => stream.write('', () => { resolve() }))
}

// `megaphone unread | head -1`: the reader left; stop quietly (before removing anything unseen)
process.stdout.on('error', () => { process.exit(EXIT.FAILURE) })

const status = await run(process.argv.slice(2), {
  env: process.env,
  stdout: s => { process.stdout.write(s) },
  stderr: s => { process.stderr.write(s) },
  readStdin,
  prompt: promptOnTerminal
})
await flushed(process.stdout)
await flushed(process.stderr)
process.exit(status)
