/**
 * Where the password comes from, in order: `-P passfile` (its first line), MEGAPHONE_PASSWORD,
 * or a prompt without echo on the controlling terminal. Never from an operand, where `ps` and
 * shell history would show it.
 */
import { openSync, writeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { ReadStream } from 'node:tty'
import { CliError, EXIT } from './errors.ts'

/** A password longer than this is a mistake (a binary file given to -P, a stuck key). */
const MAX_PASSWORD_CHARS = 1024
/** Enough for any first line we accept; a larger passfile is read no further. */
const MAX_PASSFILE_BYTES = 64 * 1024

export interface PasswordSource {
  passfile: string | undefined
  env: NodeJS.ProcessEnv
  /** asks on the terminal; injectable so that the order can be tested without one */
  prompt: (question: string) => Promise<string>
}

export async function resolvePassword (jid: string, source: PasswordSource): Promise<string> {
  if (source.passfile !== undefined) return checked(await readPassfile(source.passfile), `the first line of ${source.passfile}`)
  const fromEnv = source.env.MEGAPHONE_PASSWORD
  if (fromEnv !== undefined && fromEnv !== '') return checked(fromEnv, 'MEGAPHONE_PASSWORD')
  return checked(await source.prompt(`Password for ${jid}: `), 'the password typed')
}

function checked (password: string, where: string): string {
  if (password === '') throw new CliError('CLI_PASSWORD_EMPTY', EXIT.FAILURE, `${where} is empty`)
  if (password.length > MAX_PASSWORD_CHARS) throw new CliError('CLI_PASSWORD_TOO_LONG', EXIT.FAILURE, `${where} is longer than ${MAX_PASSWORD_CHARS} characters`)
  return password
}

async function readPassfile (path: string): Promise<string> {
  let data: Buffer
  try {
    data = await readFile(path)
  } catch (err) {
    const why = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : String(err)
    throw new CliError('CLI_PASSFILE', EXIT.FAILURE, `cannot read passfile ${path}: ${why}`, { cause: err })
  }
  const text = data.subarray(0, MAX_PASSFILE_BYTES).toString('utf8')
  return /^[^\r\n]*/.exec(text)?.[0] ?? ''
}

/**
 * Asks on the controlling terminal (/dev/tty, as ssh and sudo do, so that standard input stays
 * free for `send … -`) with echo off, reading until Enter. Ctrl-C restores the terminal and
 * ends the process by SIGINT; Ctrl-D on an empty line cancels.
 */
export async function promptOnTerminal (question: string): Promise<string> {
  let fd: number
  try {
    fd = openSync('/dev/tty', 'r+')
  } catch (err) {
    throw new CliError('CLI_NO_PASSWORD', EXIT.FAILURE, 'no password: give -P passfile or set MEGAPHONE_PASSWORD (there is no terminal to ask on)', { cause: err })
  }
  const input = new ReadStream(fd)
  input.setRawMode(true)
  writeSync(fd, question)
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = ''
      input.on('error', reject)
      input.on('data', (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          switch (ch) {
            case '\r':
            case '\n':
              resolve(typed)
              return
            case '\u0003': // Ctrl-C: raw mode turned it into a byte; make it the signal again
              input.setRawMode(false)
              writeSync(fd, '\n')
              process.kill(process.pid, 'SIGINT')
              return
            case '\u0004': // Ctrl-D
              if (typed === '') {
                reject(new CliError('CLI_NO_PASSWORD', EXIT.FAILURE, 'no password given'))
                return
              }
              break
            case '\u007f': // Backspace (DEL) and Ctrl-H
            case '\b':
              typed = [...typed].slice(0, -1).join('')
              break
            case '\u0015': // Ctrl-U: kill the line
              typed = ''
              break
            default:
              if (typed.length < MAX_PASSWORD_CHARS + 1) typed += ch
          }
        }
      })
    })
  } finally {
    input.setRawMode(false)
    writeSync(fd, '\n')
    input.destroy()
  }
}
