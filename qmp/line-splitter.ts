/**
 * Splits a byte stream into newline-terminated lines without ever holding more than
 * `maxLineBytes` of an unfinished line. Bytes are decoded only once a line is complete, so a
 * UTF-8 sequence split across chunks decodes correctly; a trailing `\r` is dropped.
 */
export class LineSplitter {
  readonly #maxLineBytes: number;
  #parts: Buffer[] = [];
  #pending = 0;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** The longest line accepted. */
  get maxLineBytes(): number {
    return this.#maxLineBytes;
  }

  /** Bytes received that do not end a line yet. */
  get pendingBytes(): number {
    return this.#pending;
  }

  /**
   * Feeds one chunk; returns the complete lines it ends, or `undefined` when the current line
   * grew beyond the limit (the caller treats that as a protocol violation).
   */
  push(chunk: Buffer): string[] | undefined {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      if (this.#pending + nl - start > this.#maxLineBytes) return undefined;
      this.#parts.push(chunk.subarray(start, nl));
      lines.push(this.#take());
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.#pending += chunk.length - start;
      if (this.#pending > this.#maxLineBytes) return undefined;
      // Copy: the socket may reuse its buffer, and a tiny view must not pin a large chunk.
      this.#parts.push(Buffer.from(chunk.subarray(start)));
    }
    return lines;
  }

  #take(): string {
    const bytes = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
    this.#parts = [];
    this.#pending = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    return bytes.toString('utf8', 0, end);
  }
}
