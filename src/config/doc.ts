/**
 * docs/configuration.md, generated from the option schema so that the two cannot drift:
 * `npm run docs:config` rewrites it and test/unit/config.test.ts checks it is current.
 */
import { OPTIONS, envOf, flagOf } from './schema.ts'

export function configurationDoc (): string {
  const rows = OPTIONS.map(s => {
    const def = s.secret === true && s.check?.('') !== undefined ? '(none: required)' : Array.isArray(s.default) ? (s.default.length === 0 ? '(empty)' : s.default.join(',')) : s.default === '' ? '(empty)' : String(s.default)
    const range = s.min !== undefined || s.max !== undefined ? ` Range ${s.min ?? ''}…${s.max ?? ''}.` : ''
    return `| \`--${flagOf(s.key)}\` | \`${envOf(s.key)}\` | ${s.type} | \`${def}\` | ${s.description}.${range} |`
  })
  return `# Configuration

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`; do not edit by hand. -->

The edge reads its options in four layers, each winning over the one before: the defaults, a JSON
file named by \`--config\` or \`MEGAPHONE_CONFIG\`, environment variables, then flags. Every value
is checked at start: a wrong one prints which option is wrong, where it was set and why, and the
process exits with status 2. \`--help\` prints the same list.

A configuration file is one JSON object; its keys are the option names without the dashes, in
camelCase or kebab-case, and its values JSON numbers, booleans, strings, or arrays of strings for
lists (strings as in the environment work too). An unknown key is an error, so a typo does not
go unnoticed:

\`\`\`json
{
  "port": 5280,
  "domains": ["example.com"],
  "maxWait": 60,
  "adminHost": "10.0.0.5",
  "linkHost": "ejabberd.internal",
  "linkSecret": "keep this file readable by the edge's user only"
}
\`\`\`

| flag | environment | type | default | meaning |
|---|---|---|---|---|
${rows.join('\n')}

Lists are comma-separated. Booleans accept true/false, 1/0, yes/no, on/off; a boolean flag given
alone means true.
`
}
