// Rewrites docs/configuration.md from the option schema.
import { writeFileSync } from 'node:fs'
import { configurationDoc } from '../src/config/doc.ts'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationDoc())
