/**
 * Reconnect delays: capped exponential backoff with full jitter (the delay is uniform in
 * [0, min(cap, base · 2^attempt)]), so that edges that lost ejabberd together do not reconnect
 * together. `attempt` counts failures since the last successful handshake, from 0.
 */
export function backoffDelay (attempt: number, base: number, cap: number, random: () => number): number {
  // 2^attempt overflows to Infinity for large attempts; min() caps it either way.
  const bound = Math.min(cap, base * 2 ** Math.min(attempt, 60))
  return Math.floor(random() * bound)
}
