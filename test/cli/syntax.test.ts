/**
 * The POSIX Utility Syntax Guidelines (POSIX.1-2017 XBD 12.2), rule by rule, through the real
 * launcher. Where a command line is valid, the service URL points at a closed loopback port:
 * exit 4 (service unreachable) with the URL in the message shows that the arguments were
 * accepted and how they were read, without any server.
 */
import t from 'tap'
import type { Test } from 'tap'
import { megaphone } from './run-cli.ts'

const NOWHERE = 'http://127.0.0.1:1/http-bind'
const env = { MEGAPHONE_PASSWORD: 'pw', MEGAPHONE_URL: NOWHERE }
const SEND_USAGE = /^usage: megaphone send \[-u url\] -j jid \[-P passfile\] recipient message\.\.\.$/m
const UNREAD_USAGE = /^usage: megaphone unread \[-u url\] -j jid \[-P passfile\] \[-c\] \[-k\]$/m

void t.test('--help writes the usage to standard output and exits 0', async t => {
  for (const args of [['--help'], ['send', '--help'], ['unread', '--help']]) {
    const r = await megaphone(args)
    t.equal(r.code, 0, args.join(' '))
    t.equal(r.stderr, '')
    t.match(r.stdout, args[0] === 'unread' ? UNREAD_USAGE : SEND_USAGE)
    t.match(r.stdout, /3 authentication failed,\s+4 service unreachable, 5 recipient refused/)
  }
})

void t.test('a syntax error: message and usage on standard error, nothing on standard output, exit 2', async t => {
  const cases: [string[], RegExp][] = [
    [[], /^megaphone: no utility given\nusage: megaphone send/],
    [['post', 'x'], /^megaphone: unknown utility: post\n/],
    [['-j', 'a@localhost', 'send'], /^megaphone: the utility \(send or unread\) comes before its options/],
    // Guideline 3: single letters; an unknown one is getopt()'s "illegal option"
    [['unread', '-j', 'a@localhost', '-x'], /^megaphone unread: illegal option -- x\n/],
    [['unread', '-cxk', '-j', 'a@localhost'], /^megaphone unread: illegal option -- x\n/],
    [['send', '-c', '-j', 'a@localhost', 'b@localhost', 'hi'], /^megaphone send: illegal option -- c\n/],
    // long options are not synonyms
    [['unread', '--url=http://x/', '-j', 'a@localhost'], /^megaphone unread: illegal option -- url\n/],
    [['unread', '--count', '-j', 'a@localhost'], /^megaphone unread: illegal option -- count\n/],
    // Guideline 7: option-arguments are not optional
    [['unread', '-j'], /^megaphone unread: option requires an argument -- j\n/],
    [['unread', '-j', 'a@localhost', '-u'], /^megaphone unread: option requires an argument -- u\n/],
    [['send', '-j', 'a@localhost', '-P'], /^megaphone send: option requires an argument -- P\n/],
    // required option and operands
    [['unread'], /^megaphone unread: -j jid is required\n/],
    [['send', 'b@localhost', 'hi'], /^megaphone send: -j jid is required\n/],
    [['send', '-j', 'a@localhost'], /^megaphone send: a recipient and a message are required\n/],
    [['send', '-j', 'a@localhost', 'b@localhost'], /^megaphone send: a recipient and a message are required\n/],
    [['unread', '-j', 'a@localhost', 'extra'], /^megaphone unread: unexpected operand: "extra"\n/],
    // invalid option-arguments and operands
    [['unread', '-j', 'alice'], /^megaphone unread: -j: not an account JID \(user@domain\): "alice"\n/],
    [['send', '-j', 'a@localhost', 'b c@localhost', 'hi'], /^megaphone send: not a JID: "b c@localhost"\n/],
    [['unread', '-u', 'ftp://host/', '-j', 'a@localhost'], /^megaphone unread: -u: not an http\(s\):\/\/ or ws\(s\):\/\/ URL: "ftp:\/\/host\/"\n/],
    [['unread', '-u', 'not a url', '-j', 'a@localhost'], /^megaphone unread: -u: not a URL: "not a url"\n/]
  ]
  for (const [args, message] of cases) {
    const r = await megaphone(args, { env })
    t.equal(r.code, 2, `exit 2: megaphone ${args.join(' ')}`)
    t.match(r.stderr, message, 'the message')
    t.match(r.stderr, /usage: megaphone/, 'the usage')
    t.equal(r.stdout, '', 'nothing on standard output')
  }
  const bad = await megaphone(['unread', '-j', 'a@localhost'], { env: { ...env, MEGAPHONE_URL: 'gopher://x/' } })
  t.equal(bad.code, 2, 'a bad MEGAPHONE_URL too')
  t.match(bad.stderr, /MEGAPHONE_URL: not an http\(s\):\/\/ or ws\(s\):\/\/ URL/)
})

/** A valid command line, read as intended: the session is tried at `url` (and fails: exit 4). */
async function triesUrl (t: Test, args: string[], url: string, extraEnv: Record<string, string> = {}): Promise<void> {
  const r = await megaphone(args, { env: { ...env, ...extraEnv } })
  t.equal(r.code, 4, `exit 4 (unreachable), so the syntax was accepted: megaphone ${args.join(' ')}`)
  t.equal(r.stderr, `megaphone ${args[0] ?? ''}: cannot open a session at ${url}: no HTTP response\n`)
}

void t.test('Guideline 6/7: an option-argument attached or separate', async t => {
  await triesUrl(t, ['unread', '-u', 'http://127.0.0.1:1/separate', '-j', 'a@localhost'], 'http://127.0.0.1:1/separate')
  await triesUrl(t, ['unread', '-uhttp://127.0.0.1:1/attached', '-j', 'a@localhost'], 'http://127.0.0.1:1/attached')
  await triesUrl(t, ['unread', '-ja@localhost'], NOWHERE)
})

void t.test('Guideline 7: the next argument is the option-argument, even if it starts with -', async t => {
  const r = await megaphone(['unread', '-j', '-c'], { env })
  t.equal(r.code, 2)
  t.match(r.stderr, /-j: not an account JID \(user@domain\): "-c"/, '-c became the jid, not an option')
})

void t.test('Guideline 5: options without arguments group, with at most one option-argument last', async t => {
  await triesUrl(t, ['unread', '-ck', '-j', 'a@localhost'], NOWHERE)
  await triesUrl(t, ['unread', '-kc', '-j', 'a@localhost'], NOWHERE)
  await triesUrl(t, ['unread', '-cku', 'http://127.0.0.1:1/grouped', '-j', 'a@localhost'], 'http://127.0.0.1:1/grouped')
  await triesUrl(t, ['unread', '-ckuhttp://127.0.0.1:1/grouped-attached', '-j', 'a@localhost'], 'http://127.0.0.1:1/grouped-attached')
  await triesUrl(t, ['unread', '-cj', 'a@localhost'], NOWHERE)
})

void t.test('Guideline 11: repeated options: the last one wins', async t => {
  await triesUrl(t, ['unread', '-u', 'http://127.0.0.1:1/first', '-u', 'http://127.0.0.1:1/last', '-j', 'a@localhost'], 'http://127.0.0.1:1/last')
})

void t.test('-u wins over MEGAPHONE_URL, which wins over the default', async t => {
  await triesUrl(t, ['unread', '-u', 'http://127.0.0.1:1/option', '-j', 'a@localhost'], 'http://127.0.0.1:1/option', { MEGAPHONE_URL: 'http://127.0.0.1:1/env' })
  await triesUrl(t, ['unread', '-j', 'a@localhost'], 'http://127.0.0.1:1/env', { MEGAPHONE_URL: 'http://127.0.0.1:1/env' })
})

void t.test('Guideline 9: options come before operands; after the first operand, all are operands', async t => {
  // -u after the recipient is message text, so the URL stays the one from the environment
  await triesUrl(t, ['send', '-j', 'a@localhost', 'b@localhost', 'hello', '-u', 'http://127.0.0.1:1/ignored'], NOWHERE)
  const r = await megaphone(['unread', '-j', 'a@localhost', 'x', '-c'], { env })
  t.equal(r.code, 2)
  t.match(r.stderr, /unexpected operand: "x"/, '-c after an operand is an operand')
})

void t.test('Guideline 10: -- ends the options and is not an operand', async t => {
  await triesUrl(t, ['send', '-j', 'a@localhost', '--', '-b@localhost', '-c'], NOWHERE)
  const r = await megaphone(['send', '-j', 'a@localhost', '-b@localhost', 'hi'], { env })
  t.equal(r.code, 2, 'without --, -b… is an option')
  t.match(r.stderr, /illegal option -- b/)
  const u = await megaphone(['unread', '-j', 'a@localhost', '--', '-c'], { env })
  t.equal(u.code, 2)
  t.match(u.stderr, /unexpected operand: "-c"/, 'after --, -c is an operand')
  await triesUrl(t, ['unread', '-j', 'a@localhost', '--'], NOWHERE)
})

void t.test('Guideline 13: - as the only message operand reads standard input', async t => {
  const empty = await megaphone(['send', '-j', 'a@localhost', 'b@localhost', '-'], { env, stdin: '\n' })
  t.equal(empty.code, 1, 'standard input was read: one empty line is an empty message')
  t.match(empty.stderr, /the message is empty/)
  const big = await megaphone(['send', '-j', 'a@localhost', 'b@localhost', '-'], { env, stdin: 'x'.repeat(70_000) })
  t.equal(big.code, 1)
  t.match(big.stderr, /standard input is longer than 60000 bytes/)
  const r = await megaphone(['send', '-j', 'a@localhost', 'b@localhost', '-'], { env, stdin: 'from stdin\n' })
  t.equal(r.code, 4, 'a message from standard input goes on to the session')
  const dash = await megaphone(['send', '-j', 'a@localhost', 'b@localhost', 'a', '-'], { env, stdin: '' })
  t.equal(dash.code, 4, '- among other words is just a word (nothing read)')
})
