/**
 * XEP-0013 requests and answers, and what `unread` prints, on stanzas as text (no server), plus
 * getopt() on the argument vectors that the launcher tests cannot show from outside.
 */
import t from 'tap'
import { DOMParser, XMLSerializer } from '@xmldom/xmldom'
import { getopt } from '../../src/cli/args.ts'
import { formatMessage, formatTime, inert } from '../../src/cli/format.ts'
import { countRequest, headersRequest, oldestFirst, readCount, readHeaders, readOfflineMessage, removeRequest, viewRequest } from '../../src/cli/offline.ts'
import { escapedBodyBytes } from '../../src/cli/send.ts'
import { describeError, stanzaError, streamErrorCondition } from '../../src/cli/stanza.ts'
import { loadStrophe, type XmlElement } from '../../src/cli/strophe.ts'

const { $iq } = loadStrophe()

function xml (s: string): XmlElement {
  const el = new DOMParser().parseFromString(s, 'text/xml').documentElement
  if (el === null) throw new Error('no element')
  return el
}

function serialize (el: XmlElement): string {
  return new XMLSerializer().serializeToString(el)
}

void t.test('the requests, as XEP-0013 §2.2 to §2.5 show them (no to: the own account)', async t => {
  t.equal(serialize(countRequest($iq).tree()),
    '<iq type="get" xmlns="jabber:client"><query xmlns="http://jabber.org/protocol/disco#info" node="http://jabber.org/protocol/offline"/></iq>')
  t.equal(serialize(headersRequest($iq).tree()),
    '<iq type="get" xmlns="jabber:client"><query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/offline"/></iq>')
  t.equal(serialize(viewRequest($iq, ['1', '2']).tree()),
    '<iq type="get" xmlns="jabber:client"><offline xmlns="http://jabber.org/protocol/offline"><item action="view" node="1"/><item action="view" node="2"/></offline></iq>')
  t.equal(serialize(removeRequest($iq, ['7']).tree()),
    '<iq type="set" xmlns="jabber:client"><offline xmlns="http://jabber.org/protocol/offline"><item action="remove" node="7"/></offline></iq>')
})

void t.test('the count from the disco#info form (XEP-0013 §2.2)', async t => {
  const result = (n: string, formType = 'http://jabber.org/protocol/offline'): XmlElement => xml(`<iq type="result" xmlns="jabber:client"><query xmlns="http://jabber.org/protocol/disco#info" node="http://jabber.org/protocol/offline">
    <identity category="automation" type="message-list"/><feature var="http://jabber.org/protocol/offline"/>
    <x xmlns="jabber:x:data" type="result"><field var="FORM_TYPE" type="hidden"><value>${formType}</value></field>
    <field var="number_of_messages"><value>${n}</value></field></x></query></iq>`)
  t.equal(readCount(result('66')), 66)
  t.equal(readCount(result('0')), 0)
  t.throws(() => readCount(result('-1')), { code: 'CLI_NO_OFFLINE_COUNT' })
  t.throws(() => readCount(result('66', 'urn:other')), { code: 'CLI_NO_OFFLINE_COUNT' }, 'another form type')
  t.throws(() => readCount(xml('<iq type="result" xmlns="jabber:client"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>')), { code: 'CLI_NO_OFFLINE_COUNT', message: /no XEP-0013 support/ })
})

void t.test('the headers from disco#items (XEP-0013 §2.3)', async t => {
  t.same(readHeaders(xml(`<iq type="result" xmlns="jabber:client"><query xmlns="http://jabber.org/protocol/disco#items" node="http://jabber.org/protocol/offline">
    <item jid="romeo@montague.net" node="2003-02-27T22:49:17.008Z" name="mercutio@shakespeare.lit/pda"/>
    <item jid="romeo@montague.net" node="2003-02-27T22:52:37.225Z" name="juliet@capulet.com/balcony"/>
    <item jid="romeo@montague.net" name="no node: ignored"/></query></iq>`)), ['2003-02-27T22:49:17.008Z', '2003-02-27T22:52:37.225Z'])
  t.same(readHeaders(xml('<iq type="result" xmlns="jabber:client"/>')), [])
})

void t.test('a viewed message: node, sender, stamp, body', async t => {
  const m = readOfflineMessage(xml(`<message xmlns="jabber:client" from="juliet@capulet.com/balcony" to="romeo@montague.net" type="chat">
    <body>O Romeo, Romeo!</body><delay xmlns="urn:xmpp:delay" from="capulet.com" stamp="2003-02-27T22:52:37.225Z"/>
    <offline xmlns="http://jabber.org/protocol/offline"><item node="2003-02-27T22:52:37.225Z"/></offline></message>`))
  t.same(m, { node: '2003-02-27T22:52:37.225Z', from: 'juliet@capulet.com/balcony', sender: 'juliet@capulet.com', stamp: new Date('2003-02-27T22:52:37.225Z'), body: 'O Romeo, Romeo!' })
  const legacy = readOfflineMessage(xml(`<message xmlns="jabber:client" from="a@b"><body>x</body><x xmlns="jabber:x:delay" stamp="20020910T23:08:25"/>
    <offline xmlns="http://jabber.org/protocol/offline"><item node="1"/></offline></message>`))
  t.same(legacy?.stamp, new Date('2002-09-10T23:08:25Z'), 'XEP-0091 stamp')
  const occupant = readOfflineMessage(xml(`<message xmlns="jabber:client" from="room@conference.localhost/nick"><body>pm</body>
    <x xmlns="http://jabber.org/protocol/muc#user"/><offline xmlns="http://jabber.org/protocol/offline"><item node="2"/></offline></message>`))
  t.equal(occupant?.sender, 'room@conference.localhost/nick', 'a MUC occupant keeps the nick')
  t.equal(readOfflineMessage(xml('<message xmlns="jabber:client" from="a@b"><body>live</body></message>')), undefined, 'no offline item: not a stored message')
  t.equal(readOfflineMessage(xml('<message xmlns="jabber:client" type="error" from="a@b"><offline xmlns="http://jabber.org/protocol/offline"><item node="3"/></offline></message>')), undefined)
  t.equal(readOfflineMessage(xml('<iq xmlns="jabber:client"><offline xmlns="http://jabber.org/protocol/offline"><item node="3"/></offline></iq>')), undefined)
})

void t.test('oldest first, by stamp; the server order when a stamp is missing', async t => {
  const at = (node: string, iso?: string): { node: string, from: string, sender: string, stamp: Date | undefined, body: string } =>
    ({ node, from: 'a@b', sender: 'a@b', stamp: iso === undefined ? undefined : new Date(iso), body: node })
  t.same(oldestFirst([at('2', '2024-01-02T00:00:00Z'), at('1', '2024-01-01T00:00:00Z'), at('3', '2024-01-02T00:00:00Z')]).map(m => m.node), ['1', '2', '3'])
  t.same(oldestFirst([at('2', '2024-01-02T00:00:00Z'), at('1')]).map(m => m.node), ['2', '1'])
})

void t.test('what is printed: time, sender, body; continuation lines indented; control characters inert', async t => {
  t.equal(formatTime(new Date('2024-05-01T12:00:00.123Z')), '2024-05-01T12:00:00Z')
  t.equal(formatTime(undefined), '(no time)')
  t.equal(formatMessage({ node: '1', from: 'alice@localhost/x', sender: 'alice@localhost', stamp: new Date('2024-05-01T12:00:00Z'), body: 'one\r\ntwo\nthree' }),
    '2024-05-01T12:00:00Z alice@localhost: one\n    two\n    three\n')
  t.equal(formatMessage({ node: '1', from: 'a@b', sender: 'a@b', stamp: undefined, body: undefined }), '(no time) a@b: (no body)\n')
  t.equal(inert('a\u001b[2Jb\tc\u0007\u009bd'), 'a\uFFFD[2Jb\tc\uFFFD\uFFFDd')
})

void t.test('error conditions (RFC 6120 §8.3)', async t => {
  const e = stanzaError(xml(`<message type="error" xmlns="jabber:client"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>
    <text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">no such user</text></error></message>`))
  t.same(e, { condition: 'service-unavailable', text: 'no such user' })
  t.equal(describeError(e), 'service-unavailable (no such user)')
  t.equal(describeError(stanzaError(xml('<message type="error" xmlns="jabber:client"/>'))), 'undefined-condition')
})

void t.test('a stream error inside a BOSH terminate (XEP-0206 §6), or on its own', async t => {
  t.equal(streamErrorCondition(xml(`<body condition="remote-stream-error" type="terminate" xmlns="http://jabber.org/protocol/httpbind" xmlns:stream="http://etherx.jabber.org/streams">
    <stream:error><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">no</text></stream:error></body>`)), 'host-unknown')
  t.equal(streamErrorCondition(xml('<stream:error xmlns:stream="http://etherx.jabber.org/streams"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>')), 'conflict')
  t.equal(streamErrorCondition(xml('<body xmlns="http://jabber.org/protocol/httpbind"/>')), undefined)
  t.equal(streamErrorCondition('not an element'), undefined)
})

void t.test('the body limit counts escaped UTF-8', async t => {
  t.equal(escapedBodyBytes('abc'), 3)
  t.equal(escapedBodyBytes('a&b<c>'), 6 + 4 + 3 + 3)
  t.equal(escapedBodyBytes('é'), 2)
})

void t.test('getopt', async t => {
  const opts = (args: string[]): Record<string, string | true> => Object.fromEntries(getopt(args, 'u:j:P:ck').options)
  t.same(opts(['-ck', '-uX', '-j', 'Y']), { c: true, k: true, u: 'X', j: 'Y' })
  t.same(opts(['-ckjY']), { c: true, k: true, j: 'Y' })
  t.same(getopt(['-c', '--', '--', 'x'], 'ck').operands, ['--', 'x'], 'only the first -- ends the options')
  t.same(getopt(['-c', '-', '-k'], 'ck').operands, ['-', '-k'], '- is an operand, and ends the options')
  t.same(getopt(['-j', '--', 'x'], 'j:').options.get('j'), '--', 'an option-argument may be --')
  t.same(getopt(['-j', ''], 'j:').options.get('j'), '', 'or empty')
  t.same(getopt([''], 'c').operands, [''], 'an empty argument is an operand')
  t.equal(getopt(['--help'], 'c').help, true)
  t.throws(() => getopt(['--c'], 'c'), { code: 'CLI_USAGE', message: 'illegal option -- c' })
  t.throws(() => getopt(['-k=1'], 'k'), { code: 'CLI_USAGE', message: 'illegal option -- =' })
  t.throws(() => getopt([], 'c-'), { code: 'CLI_OPTSTRING' })
})
