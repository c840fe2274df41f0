/**
 * Exit statuses and password sources that need no XMPP server: an unreachable service (BOSH and
 * WebSocket), the passfile, the environment, and the terminal prompt (under a pseudo-terminal).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LAUNCHER, megaphone } from './run-cli.ts'

const dir = mkdtempSync(join(tmpdir(), 'megaphone-cli-'))
const passfile = join(dir, 'pass')
writeFileSync(passfile, 'secret\nsecond line ignored\n', { mode: 0o600 })
const emptyPassfile = join(dir, 'empty')
writeFileSync(emptyPassfile, '\n', { mode: 0o600 })

void t.test('service unreachable: exit 4, for BOSH and for WebSocket', async t => {
  const bosh = await megaphone(['send', '-u', 'http://127.0.0.1:1/http-bind', '-j', 'a@localhost', 'b@localhost', 'hi'], { env: { MEGAPHONE_PASSWORD: 'pw' } })
  t.equal(bosh.code, 4)
  t.equal(bosh.stderr, 'megaphone send: cannot open a session at http://127.0.0.1:1/http-bind: no HTTP response\n')
  const ws = await megaphone(['unread', '-u', 'ws://127.0.0.1:1/ws', '-j', 'a@localhost'], { env: { MEGAPHONE_PASSWORD: 'pw' } })
  t.equal(ws.code, 4)
  t.match(ws.stderr, /^megaphone unread: cannot open a session at ws:\/\/127\.0\.0\.1:1\/ws: /)
  t.equal(ws.stdout, '')
})

void t.test('the password: -P passfile (first line), then MEGAPHONE_PASSWORD, never an operand', async t => {
  const ok = await megaphone(['unread', '-u', 'http://127.0.0.1:1/', '-P', passfile, '-j', 'a@localhost'])
  t.equal(ok.code, 4, 'a readable passfile: on to the session')
  const missing = await megaphone(['unread', '-u', 'http://127.0.0.1:1/', '-P', join(dir, 'nope'), '-j', 'a@localhost'], { env: { MEGAPHONE_PASSWORD: 'pw' } })
  t.equal(missing.code, 1, '-P is used even when MEGAPHONE_PASSWORD is set')
  t.match(missing.stderr, /cannot read passfile .*nope: ENOENT/)
  const empty = await megaphone(['unread', '-u', 'http://127.0.0.1:1/', '-P', emptyPassfile, '-j', 'a@localhost'])
  t.equal(empty.code, 1)
  t.match(empty.stderr, /the first line of .*empty is empty/)
})

void t.test('no password source and no terminal: exit 1 at once, nothing asked', async t => {
  const r = await megaphone(['unread', '-u', 'http://127.0.0.1:1/', '-j', 'a@localhost'])
  t.equal(r.code, 1)
  t.equal(r.stderr, 'megaphone unread: no password: give -P passfile or set MEGAPHONE_PASSWORD (there is no terminal to ask on)\n')
})

// A pseudo-terminal from Python's pty module (the standard library): the command asks on it,
// the password typed is not echoed, and the session goes on with it.
const PTY_DRIVER = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b''
deadline = time.time() + 30
typed = False
while time.time() < deadline:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not typed and b'Password for' in out:
        os.write(fd, b'typed-secret\\r')
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`

const hasPython = spawnSync('python3', ['-c', 'import pty, os; os.waitstatus_to_exitcode'], { stdio: 'ignore' }).status === 0

void t.test('on a terminal: a prompt without echo', { skip: hasPython ? false : 'python3 with pty is not available' }, async t => {
  const r = spawnSync('python3', ['-c', PTY_DRIVER, process.execPath, LAUNCHER, 'unread', '-u', 'http://127.0.0.1:1/tty', '-j', 'a@localhost'], {
    encoding: 'utf8',
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MEGAPHONE_'))),
    timeout: 40_000
  })
  t.equal(r.status, 4, 'the typed password was taken and the session tried')
  t.match(r.stdout, /Password for a@localhost: /, 'asked on the terminal')
  t.notMatch(r.stdout, /typed-secret/, 'not echoed')
  t.match(r.stdout, /cannot open a session at http:\/\/127\.0\.0\.1:1\/tty/)
})
