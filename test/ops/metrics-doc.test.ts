/**
 * docs/metrics.md lists every metric of the registry and no other; the admin routes answer as
 * documented (built with inject(), no socket).
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createMetrics } from '../../src/metrics/metrics.ts'
import { buildAdminApp } from '../../src/admin/server.ts'
import { ROOT, registryNames } from './helpers.ts'

const DOC = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8')

void t.test('every megaphone_ metric is in docs/metrics.md, and every name there exists', async t => {
  const names = registryNames()
  const ours = [...names].filter(n => n.startsWith('megaphone_') && !/_(bucket|sum|count)$/.test(n))
  t.ok(ours.length >= 30, `${ours.length} metrics of our own`)
  t.same(ours.filter(n => !DOC.includes(`\`${n}\``)), [], 'metrics missing from docs/metrics.md')
  const written = new Set([...DOC.matchAll(/\b((?:megaphone|nodejs|process)_[a-z0-9_]+)/g)].map(m => m[1]!))
  t.same([...written].filter(n => !names.has(n)), [], 'names in docs/metrics.md that the registry does not have')
  t.ok(names.has('nodejs_eventloop_lag_p99_seconds'), 'event-loop lag among the process defaults')
})

void t.test('the admin routes', async t => {
  const state = { linkUp: true, draining: false }
  const app = buildAdminApp({ registry: createMetrics({ defaultMetrics: false }).registry, linkUp: () => state.linkUp, draining: () => state.draining })
  t.teardown(() => app.close())
  const get = async (url: string): Promise<{ status: number, body: string, type: string }> => {
    const r = await app.inject({ method: 'GET', url })
    return { status: r.statusCode, body: r.body, type: String(r.headers['content-type']) }
  }
  const metrics = await get('/metrics')
  t.equal(metrics.status, 200)
  t.match(metrics.type, /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
  t.match(metrics.body, /# TYPE megaphone_sessions gauge/)
  t.equal((await get('/healthz')).status, 200, '/healthz')
  t.equal((await get('/readyz')).status, 200, '/readyz with the link up')
  state.linkUp = false
  t.same(await get('/readyz').then(r => [r.status, r.body]), [503, 'link to ejabberd down\n'], 'link down: 503')
  state.linkUp = true
  state.draining = true
  t.same(await get('/readyz').then(r => [r.status, r.body]), [503, 'draining\n'], 'draining: 503')
  t.equal((await get('/healthz')).status, 200, 'still alive while draining')
})
