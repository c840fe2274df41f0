#!/usr/bin/env node
// The `megaphone` command (package.json "bin"). The command is TypeScript run in place: tsx
// compiles src/ on import, so `npx megaphone` works from a clone after `npm ci`, with no build.
// The repository's own tsconfig is named so that the directory it is run from does not matter.
import { fileURLToPath } from 'node:url'
import { register } from 'tsx/esm/api'

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) })
await import('../src/cli/main.ts')
