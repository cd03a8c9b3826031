/**
 * The output of one HTTP connection between two socket writes: every response produced while one
 * read is handled is written straight into it, and it goes to the socket as one write.
 *
 * ```
 * 0                            length              bytes.length
 * | responses waiting to go    |  free             |
 * ```
 *
 * Short ASCII text and decimals are copied in JavaScript, where a call into the native encoder
 * would cost more than the copy; longer text is encoded natively, in place. Not thread safe:
 * owned by one `HttpSession`, used on its connection's loop.
 */
export class OutBuffer {
  /** The storage; `bytes.subarray(0, length)` is the content. Replaced when it grows. */
  bytes: Buffer;
  length = 0;

  constructor(size = 4096) {
    this.bytes = Buffer.allocUnsafeSlow(size);
  }

  /** The content, as a view (valid until the next write into this buffer). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }

  /** Makes room for `n` more bytes, growing the storage (doubling) when needed. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }

  append(src: Uint8Array): void {
    const n = src.length;
    this.reserve(n);
    this.bytes.set(src, this.length);
    this.length += n;
  }

  /** Appends `s` as latin1: one byte per character (protocol text, header values). */
  latin1(s: string): void {
    const n = s.length;
    this.reserve(n);
    if (n <= SHORT) {
      const b = this.bytes;
      let at = this.length;
      for (let i = 0; i < n; i++) b[at++] = s.charCodeAt(i);
      this.length = at;
    } else this.length += latin1Write.call(this.bytes, s, this.length, n);
  }

  /** Appends `s` as UTF-8; `byteLength` is its encoded size, from `textLength(s)`. */
  text(s: string, byteLength: number): void {
    this.reserve(byteLength);
    if (byteLength === s.length && byteLength <= SHORT) {
      // ASCII (textLength checked it): one byte per character.
      const b = this.bytes;
      let at = this.length;
      for (let i = 0; i < byteLength; i++) b[at++] = s.charCodeAt(i);
      this.length = at;
    } else this.length += utf8Write.call(this.bytes, s, this.length, byteLength);
  }

  /** Appends a non-negative integer in decimal. */
  decimal(n: number): void {
    if (n < 10) {
      this.reserve(1);
      this.bytes[this.length++] = 0x30 + n;
      return;
    }
    let digits = 1;
    for (let p = 10; p <= n; p *= 10) digits++; // exact: powers of 10 up to 1e22 are doubles
    this.reserve(digits);
    const b = this.bytes;
    let at = this.length + digits;
    this.length = at;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      b[--at] = 0x30 + (n - q * 10);
      n = q;
    }
    b[at - 1] = 0x30 + n;
  }
}

/** Text up to this many characters is encoded in JavaScript. */
const SHORT = 64;

// Node's native encoders, writing in place without `Buffer#write`'s argument handling.
const { latin1Write, utf8Write } = Buffer.prototype as unknown as {
  latin1Write: (this: Buffer, s: string, offset: number, length: number) => number;
  utf8Write: (this: Buffer, s: string, offset: number, length: number) => number;
};

/** The UTF-8 size of `s`: counted in JavaScript for short ASCII text, natively otherwise. */
export function textLength(s: string): number {
  const n = s.length;
  if (n <= SHORT) {
    let i = 0;
    while (i < n && s.charCodeAt(i) < 0x80) i++;
    if (i === n) return n;
  }
  return Buffer.byteLength(s, 'utf8');
}
