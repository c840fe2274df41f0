/**
 * The client's address behind proxies: the rightmost X-Forwarded-For hop that is not a trusted
 * proxy, never a hop the client wrote itself; X-Forwarded-For ignored unless the socket's peer
 * is trusted.
 */
import t from 'tap'
import { TrustedProxies, clientAddress, parseIp, plainIp, trustedProxiesError } from '../../src/http/client-address.ts'

const trust = (...list: string[]): TrustedProxies => TrustedProxies.of(list)

void t.test('nobody trusted: the peer, whatever the header says', async t => {
  t.equal(clientAddress('203.0.113.9', '1.2.3.4', TrustedProxies.NONE), '203.0.113.9')
  t.equal(clientAddress('::ffff:203.0.113.9', undefined, TrustedProxies.NONE), '203.0.113.9', 'an IPv4-mapped peer is plain IPv4')
  t.equal(clientAddress('2001:db8::1', '1.2.3.4', TrustedProxies.NONE), '2001:db8::1')
})

void t.test('a peer that is not trusted: its X-Forwarded-For is ignored', async t => {
  t.equal(clientAddress('203.0.113.9', '1.2.3.4', trust('10.0.0.0/8')), '203.0.113.9')
})

void t.test('behind trusted proxies: the rightmost hop that is not trusted', async t => {
  const proxies = trust('127.0.0.1', '10.0.0.0/8', '::1')
  t.equal(clientAddress('127.0.0.1', '198.51.100.7', proxies), '198.51.100.7', 'one proxy')
  t.equal(clientAddress('::ffff:127.0.0.1', '198.51.100.7', proxies), '198.51.100.7', 'an IPv4-mapped peer matches an IPv4 range')
  t.equal(clientAddress('::1', '198.51.100.7, 10.1.2.3', proxies), '198.51.100.7', 'two proxies, IPv6 in front')
  t.equal(clientAddress('127.0.0.1', '6.6.6.6, 198.51.100.7', proxies), '198.51.100.7', 'a hop the client wrote (leftmost) is not believed')
  t.equal(clientAddress('127.0.0.1', '6.6.6.6, 10.0.0.1, 198.51.100.7, 10.9.9.9', proxies), '198.51.100.7', 'the walk stops at the first untrusted hop')
  t.equal(clientAddress('127.0.0.1', ['6.6.6.6', '198.51.100.7, 10.0.0.2'], proxies), '198.51.100.7', 'several headers are one list')
  t.equal(clientAddress('127.0.0.1', '10.0.0.1, 10.0.0.2', proxies), '10.0.0.1', 'every hop trusted: the furthest')
  t.equal(clientAddress('127.0.0.1', '', proxies), '127.0.0.1', 'an empty header: the peer')
  t.equal(clientAddress('127.0.0.1', '2001:db8::7', proxies), '2001:db8::7')
  t.equal(clientAddress('127.0.0.1', '[2001:db8::7]:4711', proxies), '2001:db8::7', 'a bracketed hop with a port')
  t.equal(clientAddress('127.0.0.1', '198.51.100.7:4711', proxies), '198.51.100.7', 'an IPv4 hop with a port')
  t.equal(clientAddress('127.0.0.1', '198.51.100.7, unknown', proxies), '127.0.0.1', 'a hop that is not an address: the nearest one known true')
  t.equal(clientAddress('127.0.0.1', 'garbage, 10.0.0.3', proxies), '10.0.0.3', 'garbage left of trusted hops')
})

void t.test('trust every address (the old trustProxy: true): the leftmost hop, as fastify took it', async t => {
  t.equal(clientAddress('127.0.0.1', '6.6.6.6, 198.51.100.7', trust('0.0.0.0/0', '::/0')), '6.6.6.6')
})

void t.test('ranges', async t => {
  const r = trust('192.0.2.0/24', '2001:db8:abcd::/48', '172.16.0.0/12', '::ffff:0:0/96')
  for (const ip of ['192.0.2.0', '192.0.2.255', '2001:db8:abcd:ffff::1', '172.31.255.255', '::ffff:192.0.2.1']) t.ok(r.has(ip), ip)
  for (const ip of ['192.0.3.0', '2001:db8:abce::1', '172.32.0.0', '2001:db8::1', 'nonsense', '']) t.notOk(trust('192.0.2.0/24', '2001:db8:abcd::/48', '172.16.0.0/12').has(ip), ip)
  t.ok(trust('::/0').has('192.0.2.1'), '::/0 holds IPv4 too (as mapped addresses)')
  t.ok(trust('fe80::1').has('fe80::1%eth0'), 'a zone is ignored')
  t.notOk(trust('10.0.0.0/8').has('2001:db8::1'))
})

void t.test('bad entries are named', async t => {
  t.equal(trustedProxiesError(['10.0.0.0/8', '::1']), undefined)
  t.equal(trustedProxiesError([]), undefined)
  t.match(trustedProxiesError(['10.0.0.0/33']), /prefix length must be 0 to 32/)
  t.match(trustedProxiesError(['::1/129']), /prefix length must be 0 to 128/)
  t.match(trustedProxiesError(['10.0.0.0/']), /prefix length/)
  t.match(trustedProxiesError(['010.0.0.1']), /not an IPv4 or IPv6 address/)
  t.match(trustedProxiesError(['1.2.3']), /not an IPv4/)
  t.match(trustedProxiesError(['1:2:3:4:5:6:7:8:9']), /not an IPv4/)
  t.match(trustedProxiesError(['1::2::3']), /not an IPv4/)
  t.match(trustedProxiesError([3]), /must be a list/)
  t.throws(() => TrustedProxies.of(['x']), RangeError)
})

void t.test('parseIp', async t => {
  const hex = (s: string): string => Buffer.from(parseIp(s) ?? []).toString('hex')
  t.equal(hex('1.2.3.4'), '00000000000000000000ffff01020304')
  t.equal(hex('::ffff:1.2.3.4'), '00000000000000000000ffff01020304')
  t.equal(hex('::'), '0'.repeat(32))
  t.equal(hex('::1'), '0'.repeat(31) + '1')
  t.equal(hex('2001:db8::'), '20010db8' + '0'.repeat(24))
  t.equal(hex('2001:db8:0:0:1:0:0:1'), '20010db8000000000001000000000001')
  t.equal(hex('64:ff9b::192.0.2.33'), '0064ff9b0000000000000000c0000221')
  t.equal(parseIp('1.2.3.256'), undefined)
  t.equal(parseIp('12345::'), undefined)
  t.equal(parseIp('1:2:3:4:5:6:7'), undefined)
  t.equal(plainIp('::ffff:10.0.0.1'), '10.0.0.1')
  t.equal(plainIp('::ffff:a00:1'), '::ffff:a00:1')
})
