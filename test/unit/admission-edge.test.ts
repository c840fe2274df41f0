/**
 * Admission control as the entry point wires it (runEdge): the options reach it, a refusal is
 * logged (once per limit per interval, not once per refusal) and counted in /metrics. No link is
 * needed: the connection limit acts before any session.
 */
import t from 'tap'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import { loadConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge } from '../../src/run-edge.ts'

void t.test('a refused connection: a bare 429, one warning, the metric', async t => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>); done() } })
  // Link port 1: nothing listens there; the link stays down, which this test does not need.
  const config = loadConfig(['--port', '0', '--link-port', '1', '--admission-exempt', '', '--admission-connections', '1'], { MEGAPHONE_LINK_SECRET: 'a-secret-of-sixteen+' })
  const edge = await runEdge(config, createLogger('warn', sink))
  t.teardown(async () => { await edge.stop() })
  const first = connect(edge.port, '127.0.0.1')
  t.teardown(() => { first.destroy() })
  await once(first, 'connect')
  const refused: string[] = []
  for (let i = 0; i < 5; i++) {
    const s: Socket = connect(edge.port, '127.0.0.1')
    let text = ''
    s.on('data', (d: Buffer) => { text += d.toString() })
    s.on('error', () => {})
    await once(s, 'close')
    refused.push(text)
  }
  t.ok(refused.every(r => r.startsWith('HTTP/1.1 429 Too Many Requests\r\n')), 'each refused with 429')
  const warnings = lines.filter(l => l.msg === 'admission refused')
  t.equal(warnings.length, 1, 'one line for five refusals')
  t.match(warnings[0], { limit: 'connections', address: '127.0.0.1', unlogged: 0 })
  const metrics = await fetch(`http://127.0.0.1:${edge.adminPort}/metrics`).then(async r => await r.text())
  t.match(metrics, /megaphone_admission_refused_total\{limit="connections"\} 5/)
})
