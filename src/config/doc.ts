/**
 * docs/configuration.md, generated from the option schema so that the two cannot drift:
 * `npm run docs:config` rewrites it and test/unit/config.test.ts checks it is current.
 */
import { OPTIONS, envOf, flagOf } from './schema.ts'

export function configurationDoc (): string {
  const rows = OPTIONS.map(s => {
    const def = s.secret === true ? '(none: required)' : Array.isArray(s.default) ? (s.default.length === 0 ? '(empty)' : s.default.join(',')) : s.default === '' ? '(empty)' : String(s.default)
    const range = s.min !== undefined || s.max !== undefined ? ` Range ${s.min ?? ''}…${s.max ?? ''}.` : ''
    return `| \`--${flagOf(s.key)}\` | \`${envOf(s.key)}\` | ${s.type} | \`${def}\` | ${s.description}.${range} |`
  })
  return `# Configuration

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`; do not edit by hand. -->

The edge reads its options from environment variables, then from flags; a flag wins over the
variable. Every value is checked at start: a wrong one prints which option is wrong and why, and
the process exits with status 2. \`--help\` prints the same list.

| flag | environment | type | default | meaning |
|---|---|---|---|---|
${rows.join('\n')}

Lists are comma-separated. Booleans accept true/false, 1/0, yes/no, on/off; a boolean flag given
alone means true.
`
}
