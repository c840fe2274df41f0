/**
 * docker/ without a Docker engine (this machine has none): what can be checked is checked. The
 * compose file, Prometheus and Grafana provisioning parse; every file they mount, every file the
 * Dockerfiles copy and every script they run exists; the ejabberd image builds its module with
 * the script the integration tests use; the edge image is multi-stage, runs as a non-root user
 * and has a health check on /healthz; every metric the dashboard and the alerts query exists in
 * the edge's registry; the ports agree across files. What is not checked: that the images build
 * and the containers start (docs/operations.md says so).
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ROOT, registryNames } from './helpers.ts'

const DOCKER = join(ROOT, 'docker')
const read = (...p: string[]): string => readFileSync(join(...p), 'utf8')

/** A narrowing reader for parsed YAML/JSON: `at(x, 'a', 'b')` is x.a.b, or undefined. */
function at (value: unknown, ...path: Array<string | number>): unknown {
  let v = value
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined
    v = (v as Record<string | number, unknown>)[k]
  }
  return v
}
const record = (v: unknown): Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {}
const list = (v: unknown): unknown[] => Array.isArray(v) ? v : []

const compose: unknown = parse(read(DOCKER, 'compose.yaml'))
const services = record(at(compose, 'services'))
const names = registryNames()

/** Metric names a PromQL expression reads (ours and the process defaults). */
function metricsOf (expr: string): string[] {
  return [...expr.matchAll(/\b((?:megaphone|nodejs|process)_[a-z0-9_]+)/g)].map(m => m[1]!)
}

void t.test('compose.yaml: the four services, their builds and mounts exist', async t => {
  t.same(Object.keys(services).sort(), ['edge', 'ejabberd', 'grafana', 'prometheus'])
  for (const name of ['edge', 'ejabberd']) {
    const context = String(at(services, name, 'build', 'context'))
    const dockerfile = String(at(services, name, 'build', 'dockerfile'))
    t.equal(join(DOCKER, context), ROOT, `${name} builds from the repository root`)
    t.ok(existsSync(join(DOCKER, context, dockerfile)), `${name}: ${dockerfile} exists`)
  }
  for (const [name, s] of Object.entries(services)) {
    for (const v of list(at(s, 'volumes'))) {
      const source = String(v).split(':')[0]!
      if (source.startsWith('.')) t.ok(existsSync(join(DOCKER, source)), `${name} mounts ${source}, which exists`)
    }
  }
  t.equal(at(services, 'edge', 'depends_on', 'ejabberd', 'condition'), 'service_healthy', 'the edge waits for a healthy ejabberd')
  t.notOk(list(at(services, 'edge', 'ports')).some(p => String(p).includes('5281')), 'the admin port is not published')
  t.notOk(list(at(services, 'ejabberd', 'ports')).length > 0, 'ejabberd (and its link port) is not published')
})

void t.test('the ports and the secret agree across the files', async t => {
  const edgeEnv = record(at(services, 'edge', 'environment'))
  const adminPort = String(edgeEnv.MEGAPHONE_ADMIN_PORT)
  const prometheus: unknown = parse(read(DOCKER, 'prometheus', 'prometheus.yml'))
  const jobs = list(at(prometheus, 'scrape_configs'))
  const edgeJob = jobs.find(j => at(j, 'job_name') === 'megaphone-edge')
  t.same(at(edgeJob, 'static_configs', 0, 'targets'), [`edge:${adminPort}`], 'Prometheus scrapes the edge\'s admin port')
  const template = read(DOCKER, 'ejabberd', 'ejabberd.yml.template')
  const ejabberd: unknown = parse(template.replaceAll('@XMPP_DOMAIN@', 'localhost').replaceAll('@LINK_SECRET@', 'x'.repeat(24)))
  const link = list(at(ejabberd, 'listen')).find(l => at(l, 'module') === 'mod_megaphone')
  t.equal(String(at(link, 'port')), String(edgeEnv.MEGAPHONE_LINK_PORT), 'the edge connects to the port mod_megaphone listens on')
  t.equal(edgeEnv.MEGAPHONE_LINK_HOST, 'ejabberd', 'by the service name')
  t.equal(at(link, 'secret'), 'x'.repeat(24), 'the secret comes from the environment')
  t.match(String(edgeEnv.MEGAPHONE_LINK_SECRET), /^\$\{MEGAPHONE_LINK_SECRET:\?/, 'the edge requires the secret to be set')
  t.match(String(at(services, 'ejabberd', 'environment', 'MEGAPHONE_LINK_SECRET')), /^\$\{MEGAPHONE_LINK_SECRET:\?/, 'ejabberd too')
  const grace = Number(/^(\d+)s$/.exec(String(at(services, 'edge', 'stop_grace_period')))?.[1])
  t.ok(grace > Number(edgeEnv.MEGAPHONE_DRAIN_TIMEOUT), 'Docker waits longer than the drain may take')
})

void t.test('edge.Dockerfile: multi-stage, non-root, health check, files it copies exist', async t => {
  const df = read(DOCKER, 'edge.Dockerfile')
  t.ok((df.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage')
  t.match(df, /^FROM node:20-bookworm-slim/m, 'Node 20 on Debian bookworm')
  const user = [...df.matchAll(/^USER (\S+)/gm)].at(-1)?.[1]
  t.ok(user !== undefined && user !== 'root' && user !== '0', `runs as ${user}`)
  t.match(df, /^HEALTHCHECK .*\n?.*\/healthz/m, 'health check on /healthz')
  t.match(df, /CMD \["node", "--import", "tsx", "src\/main\.ts"\]/, 'starts src/main.ts as the tests do')
  copiesExist(t, df)
})

void t.test('ejabberd.Dockerfile: Debian bookworm\'s ejabberd, the module built by the tested script', async t => {
  const df = read(DOCKER, 'ejabberd.Dockerfile')
  t.match(df, /^FROM debian:bookworm/m)
  t.match(df, /apt-get install [^\n]*\bejabberd\b/, 'Debian\'s ejabberd package')
  t.match(df, /RUN bash scripts\/build-module\.sh/, 'builds with scripts/build-module.sh')
  // The chain the integration tests use: fixture → scripts/ejabberd.sh → scripts/build-module.sh.
  t.match(read(ROOT, 'test', 'fixtures', 'ejabberd.ts'), /scripts\/ejabberd\.sh/)
  t.match(read(ROOT, 'scripts', 'ejabberd.sh'), /scripts\/build-module\.sh/)
  const user = [...df.matchAll(/^USER (\S+)/gm)].at(-1)?.[1]
  t.equal(user, 'ejabberd', 'runs as Debian\'s ejabberd user')
  t.match(df, /^HEALTHCHECK /m)
  copiesExist(t, df)
  // The entrypoint is POSIX sh: at least it parses.
  const syntax = await new Promise<number>(resolve => { execFile('sh', ['-n', join(DOCKER, 'ejabberd', 'entrypoint.sh')], err => { resolve(err === null ? 0 : 1) }) })
  t.equal(syntax, 0, 'entrypoint.sh parses (sh -n)')
})

void t.test('Grafana: provisioning parses, the dashboard queries metrics the edge has', async t => {
  const ds: unknown = parse(read(DOCKER, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'))
  const uid = at(ds, 'datasources', 0, 'uid')
  const provider: unknown = parse(read(DOCKER, 'grafana', 'provisioning', 'dashboards', 'megaphone.yml'))
  t.equal(at(provider, 'providers', 0, 'options', 'path'), '/var/lib/grafana/dashboards')
  t.ok(list(at(services, 'grafana', 'volumes')).includes('./grafana/dashboards:/var/lib/grafana/dashboards:ro'), 'mounted where the provider looks')
  const dashboard: unknown = JSON.parse(read(DOCKER, 'grafana', 'dashboards', 'megaphone.json'))
  const panels = list(at(dashboard, 'panels'))
  const titles = panels.map(p => String(at(p, 'title')))
  for (const want of ['Sessions', 'Held BOSH requests', 'BOSH request latency', 'Link throughput', 'Errors']) t.ok(titles.includes(want), `a "${want}" panel`)
  const exprs = panels.flatMap(p => list(at(p, 'targets')).map(x => String(at(x, 'expr'))))
  t.ok(exprs.length >= 15, `${exprs.length} queries`)
  const used = new Set(exprs.flatMap(metricsOf))
  t.same([...used].filter(n => !names.has(n)), [], 'every metric the dashboard queries exists in the registry')
  t.ok(panels.every(p => at(p, 'datasource', 'uid') === uid), 'every panel uses the provisioned data source')
})

void t.test('Prometheus alerts parse and query metrics the edge has', async t => {
  const alerts: unknown = parse(read(DOCKER, 'prometheus', 'alerts.yml'))
  const rules = list(at(alerts, 'groups', 0, 'rules'))
  t.ok(rules.length >= 8, `${rules.length} rules`)
  const used = new Set(rules.flatMap(r => metricsOf(String(at(r, 'expr')))))
  t.same([...used].filter(n => !names.has(n)), [], 'every metric an alert reads exists in the registry')
})

/** Every COPY source (not from another stage) exists relative to the build context (the root). */
function copiesExist (t: { ok: (v: boolean, m: string) => void }, dockerfile: string): void {
  for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)) {
    const args = m[1]!.split(/\s+/).filter(a => !a.startsWith('--'))
    for (const source of args.slice(0, -1)) t.ok(existsSync(join(ROOT, source)), `COPY ${source} exists`)
  }
}
