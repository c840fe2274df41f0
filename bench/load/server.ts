/**
 * The server a load run measures behind the edge and through its own BOSH and WebSocket:
 * ejabberd (bench/load/ejabberd.ts) or Prosody (bench/load/prosody.ts, `--server prosody`).
 * Both provide this; the harness reads memory, sessions and CPU through it and nothing else.
 */

export interface ServerMemory {
  /** bytes the server's runtime has allocated: erlang:memory(total), or Prosody's Lua heap */
  total: number
  /** ejabberd: erlang:memory(processes); Prosody: the process's resident set */
  processes: number
  /** c2s sessions the server has bound (ejabberd_sm, prosody.full_sessions) */
  sessions: number
  /** ejabberd: Erlang processes on the node (a limit of its own, +P) */
  process_count?: number
}

export interface BenchServer {
  /** 'ejabberd' or 'Prosody', for the run's log and summary */
  readonly name: string
  readonly pid: number
  readonly domain: string
  readonly linkPort: number
  readonly linkSecret: string
  /** the server's own BOSH and WebSocket endpoints */
  readonly boshUrl: string
  readonly wsUrl: string
  /** PREFIX1..PREFIXn with one password; resolves with how many were registered */
  registerBulk: (prefix: string, n: number, password: string) => Promise<number>
  /** memory in use; with `gc`, after a full collection first */
  memory: (gc: boolean) => Promise<ServerMemory>
  connectedUsers: () => Promise<number>
  /** the listen backlog of every listener the run touches */
  backlogs: () => Promise<Array<{ port: number, module: string, backlog: number }>>
  /** CPU seconds (user + system) the server has used so far */
  cpuSeconds: () => Promise<number>
  stop: () => Promise<void>
}
