/**
 * The edge killed (SIGKILL) under live sessions, then started again (issue 16, "fault tests"):
 * a real edge process (`node --import tsx src/main.ts`), real Strophe.js clients over BOSH and
 * WebSocket, a real ejabberd.
 *
 * What users see: their connections drop (the process is gone; the client's own reconnect
 * applies). In ejabberd the link's TCP connection closes, mod_megaphone ends every c2s session
 * it carried, so the users are offline and messages sent to them go to offline storage. The
 * restarted edge links again and the users get those messages at their next login.
 */
import t from 'tap'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'
import { XmppClient } from '../fixtures/strophe.ts'
import { EdgeProcess } from '../ops/helpers.ts'

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo', carol: 'demo' } })
t.teardown(() => ej.stop())

interface Started { edge: EdgeProcess, boshUrl: string, wsUrl: string }

async function startProcess (): Promise<Started> {
  const edge = new EdgeProcess(edgeEnv(ej, { MEGAPHONE_LOG_LEVEL: 'info' }))
  t.teardown(() => { if (edge.pid !== 0) try { process.kill(edge.pid, 'SIGKILL') } catch { /* gone */ } })
  const bosh = await edge.line('BOSH listening')
  const ws = await edge.line('WebSocket listening')
  await edge.line('link up')
  return { edge, boshUrl: String(bosh.url), wsUrl: String(ws.url) }
}

void t.test('the edge killed: ejabberd ends its sessions, messages go offline, the restarted edge serves them', async t => {
  const first = await startProcess()
  const alice = await XmppClient.login({ url: first.boshUrl, jid: 'alice@localhost/kill', password: 'demo' })
  const bob = await XmppClient.login({ url: first.wsUrl, jid: 'bob@localhost/kill', password: 'demo' })
  alice.sendMessage('bob@localhost', 'before the kill')
  await bob.waitForMessage('before the kill')
  t.equal(await ej.connectedUsers(), 2, 'two users in ejabberd through the edge')

  first.edge.kill('SIGKILL')
  const exit = await first.edge.exited
  t.equal(exit.signal, 'SIGKILL', 'the edge process is gone')
  await waitFor(async () => await ej.connectedUsers() === 0, 20_000, 'ejabberd to end the link\'s sessions').catch(() => {})
  t.equal(await ej.connectedUsers(), 0, 'mod_megaphone ended every c2s session of the dead link')
  t.equal(await ej.eval('length(megaphone_link:links()).'), '0', 'and its link process')

  // Carol, on ejabberd's own BOSH while no edge runs, writes to bob: it goes to offline storage.
  const carol = await XmppClient.login({ url: `http://127.0.0.1:${ej.httpPort}/bosh`, jid: 'carol@localhost/direct', password: 'demo' })
  t.teardown(() => carol.disconnect())
  carol.sendMessage('bob@localhost', 'while the edge was down')
  await waitFor(async () => await ej.eval('mod_offline:count_offline_messages(<<"bob">>, <<"localhost">>).') === '1', 15_000, 'the message in offline storage')
  t.pass('a message to bob while no edge runs is stored offline')

  const second = await startProcess()
  t.pass('the restarted edge links again')
  const bob2 = await XmppClient.login({ url: second.wsUrl, jid: 'bob@localhost/kill', password: 'demo' })
  t.teardown(() => bob2.disconnect())
  const m = await bob2.waitForMessage('while the edge was down')
  t.ok(m.getElementsByTagName('delay').length > 0, 'bob gets it at his next login, from offline storage (XEP-0203 delay)')
  const alice2 = await XmppClient.login({ url: second.boshUrl, jid: 'alice@localhost/kill', password: 'demo' })
  t.teardown(() => alice2.disconnect())
  alice2.sendMessage('bob@localhost', 'after the restart')
  await bob2.waitForMessage('after the restart')
  t.pass('BOSH → WebSocket through the restarted edge')
  t.equal(await ej.connectedUsers(), 3, 'ejabberd holds the three live sessions only (two through the edge, carol direct)')
  // The clients of the killed edge: Strophe's own timers would keep the process alive.
  for (const c of [alice, bob]) await c.disconnect()
})
