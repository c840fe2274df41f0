/** Free loopback TCP ports, found by binding port 0 and letting it go. */
import { createServer, type Server } from 'node:net'

async function listenAnywhere (): Promise<Server> {
  return await new Promise((resolveServer, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => { resolveServer(srv) })
  })
}

/**
 * `n` distinct free ports. All n are held until the last is bound: ports found one at a time
 * and let go in between can repeat, and a server told to listen twice on one port fails to start.
 */
export async function freePorts (n: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    for (let i = 0; i < n; i++) servers.push(await listenAnywhere())
    return servers.map(srv => {
      const addr = srv.address()
      return typeof addr === 'object' && addr !== null ? addr.port : 0
    })
  } finally {
    await Promise.all(servers.map(async srv => { await new Promise<void>(resolveClose => { srv.close(() => { resolveClose() }) }) }))
  }
}

export async function freePort (): Promise<number> {
  const [port] = await freePorts(1)
  return port ?? 0
}
