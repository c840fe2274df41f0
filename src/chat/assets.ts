/**
 * The files of Converse.js the chat page needs, from the installed package
 * (node_modules/converse.js/dist, the version package.json pins): a fixed allow-list, read once
 * when the edge starts and kept in memory (2.2 MB), so that no request names a path on
 * disk, none can walk out of the folder, and serving one costs no file system call.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { MegaphoneError } from '../errors.ts'

/** An allow-listed file is missing or unreadable: the installed converse.js is not the pinned one, or broken. */
export const CHAT_PAGE_ASSET = 'CHAT_PAGE_ASSET'

export interface Asset {
  body: Buffer
  /** the Content-Type it is served with (never sniffed: the page sends nosniff) */
  type: string
}

/**
 * Paths under dist/ (also the URL path under the page's asset prefix, where Converse's
 * `assets_path` makes it look), and what each is. What Converse 14 loads with the page's
 * settings (src/chat/html.ts), seen in Chromium's network log: its ES module build and
 * stylesheet, the two fonts the stylesheet names, the emoji table it fetches when a chat
 * opens; and the logo its desktop notifications show, and the page's icon. Not served: source maps, the non-minified build, the other
 * locales (the page is in English, which Converse has built in), OMEMO's WebAssembly (OMEMO is off),
 * the shared-connection worker (not used), sounds (off).
 */
export const CONVERSE_ASSETS: Readonly<Record<string, string>> = {
  'converse.min.js': 'text/javascript; charset=utf-8',
  'converse.min.css': 'text/css; charset=utf-8',
  'emoji.json': 'application/json',
  'webfonts/muli.ttf': 'font/ttf',
  'webfonts/baumans.ttf': 'font/ttf',
  'images/logo/conversejs-filled.svg': 'image/svg+xml',
  'images/favicon.ico': 'image/x-icon'
}

/** The installed package's dist folder, found the way Node resolves the package (its exports allow ./dist/*). */
export function converseDist (): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('converse.js/dist/converse.min.js'))
  } catch (err) {
    throw new MegaphoneError(CHAT_PAGE_ASSET, 'chat page: converse.js is not installed (npm install), or turn the page off (MEGAPHONE_CHAT_PAGE=false)', { cause: err })
  }
}

/** The installed package's version, for the page's footer and the docs. */
export async function converseVersion (dist: string = converseDist()): Promise<string> {
  const pkg: unknown = JSON.parse(await readFile(join(dist, '..', 'package.json'), 'utf8'))
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown'
}

/** Reads every allow-listed file once; a missing one fails the start (the package is broken or another version). */
export async function loadConverseAssets (dist: string = converseDist()): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>()
  await Promise.all(Object.entries(CONVERSE_ASSETS).map(async ([path, type]) => {
    const file = join(dist, path)
    const body = await readFile(file).catch((err: unknown) => {
      throw new MegaphoneError(CHAT_PAGE_ASSET, `chat page: cannot read ${file} (is converse.js installed? npm install)`, { cause: err })
    })
    out.set(path, { body, type })
  }))
  return out
}
