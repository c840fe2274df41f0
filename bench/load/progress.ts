/**
 * Progress on a terminal: one line rewritten in place (\r). When stdout is not a TTY (CI, a
 * file) the same line is printed at most every 10 s, so logs stay readable.
 */
export class Progress {
  private last = 0
  private shown = false
  private readonly tty = process.stdout.isTTY

  update (line: string): void {
    if (this.tty) {
      process.stdout.write(`\r\x1b[2K${line}`)
      this.shown = true
      return
    }
    const now = Date.now()
    if (now - this.last < 10_000) return
    this.last = now
    console.log(line)
  }

  /** Ends the live line so that what follows starts on its own line. */
  done (): void {
    if (this.tty && this.shown) process.stdout.write('\n')
    this.shown = false
    this.last = 0
  }
}

export function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

export function kib (bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`
}

export function mib (bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`
}
