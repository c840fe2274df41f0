/**
 * POSIX utility argument syntax (POSIX.1-2017 XBD 12.2, the Utility Syntax Guidelines) on top of
 * `node:util` parseArgs. parseArgs does the tokenizing (groups, attached and separate
 * option-arguments, `--`); this module adds what POSIX asks and parseArgs does not enforce:
 *
 * - only single-letter options (Guideline 3): `--url` is an illegal option, not a synonym;
 * - an option-argument is the next argument whatever it looks like (Guideline 7, getopt()):
 *   `-j -c` gives -j the value "-c", so parseArgs runs non-strict, which takes it as getopt does;
 * - the first operand ends the options (Guideline 9, getopt()): `send -j a bob -c` sends "-c",
 *   so tokens after the first operand are ignored and the raw arguments taken as operands;
 * - `--` ends the options and is not an operand (Guideline 10);
 * - `-` is an operand (Guideline 13).
 *
 * The one extension is `--help` (before any operand), which the GNU convention has made what
 * people type first; it is not an option of the utilities.
 */
import { parseArgs } from 'node:util'
import { MegaphoneError } from '../errors.ts'
import { UsageError } from './errors.ts'

export interface Parsed {
  /** option letter → its option-argument, or true for an option without one; last one wins */
  options: Map<string, string | true>
  operands: string[]
  help: boolean
}

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean' }>

/**
 * Parses `args` against a getopt() option string: each letter is an option, and a letter
 * followed by `:` takes an option-argument (`'u:j:P:ck'`). Throws UsageError with getopt()'s
 * wording for an unknown option or a missing option-argument.
 */
export function getopt (args: readonly string[], optstring: string): Parsed {
  const spec = parseOptstring(optstring)
  const { tokens } = parseArgs({ args: [...args], options: spec, strict: false, allowPositionals: true, tokens: true })
  const options = new Map<string, string | true>()
  let help = false
  for (const token of tokens) {
    if (token.kind === 'option-terminator') return { options, operands: args.slice(token.index + 1), help }
    if (token.kind === 'positional') return { options, operands: args.slice(token.index), help }
    if (token.rawName === '--help') { help = true; continue }
    // `--x` and `--x=v` are long options, which these utilities do not have (Guideline 3)
    if (token.rawName.startsWith('--')) throw new UsageError(`illegal option -- ${token.rawName.slice(2).split('=')[0] ?? ''}`)
    const type = spec[token.name]?.type
    if (type === undefined) throw new UsageError(`illegal option -- ${token.name}`)
    if (type === 'boolean') { options.set(token.name, true); continue }
    // Guideline 7: option-arguments are not optional
    if (token.value === undefined) throw new UsageError(`option requires an argument -- ${token.name}`)
    options.set(token.name, token.value)
  }
  return { options, operands: [], help }
}

function parseOptstring (optstring: string): ParseArgsOptions {
  const spec: ParseArgsOptions = {}
  for (let i = 0; i < optstring.length; i++) {
    const letter = optstring[i] ?? ''
    // Guideline 3: alphanumeric single characters
    if (!/^[A-Za-z0-9]$/.test(letter)) throw new MegaphoneError('CLI_OPTSTRING', `bad option letter ${JSON.stringify(letter)} in ${JSON.stringify(optstring)}`)
    const takesArgument = optstring[i + 1] === ':'
    spec[letter] = { type: takesArgument ? 'string' : 'boolean' }
    if (takesArgument) i++
  }
  return spec
}

/** The option-argument of `letter`, if given. */
export function optionArgument (parsed: Parsed, letter: string): string | undefined {
  const v = parsed.options.get(letter)
  return typeof v === 'string' ? v : undefined
}
