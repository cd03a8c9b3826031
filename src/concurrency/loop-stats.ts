/**
 * Per-loop counters in shared memory: each loop writes only its own row, the main thread reads
 * every row whenever it likes (no lock, no message). Process workers cannot share memory, so they
 * send their row over IPC every STATS_INTERVAL ms and the main thread stores it in the same table.
 *
 *   row i: [ active | accepted | bytesIn | bytesOut | errors | handedOff | restarts | leads ]
 */
export const STATS_FIELDS = [
  'active',
  'accepted',
  'bytesIn',
  'bytesOut',
  'errors',
  'handedOff',
  'restarts',
  'leads',
] as const;
export type StatsField = (typeof STATS_FIELDS)[number];
export const STATS_INTERVAL = 100;

export const S_ACTIVE = 0;
export const S_ACCEPTED = 1;
export const S_BYTES_IN = 2;
export const S_BYTES_OUT = 3;
export const S_ERRORS = 4;
export const S_HANDED_OFF = 5;
export const S_RESTARTS = 6;
export const S_LEADS = 7;
const WIDTH = STATS_FIELDS.length;

/** One loop's numbers, as `server.stats()` reports them. */
export type LoopStats = Record<StatsField, number> & { id: number; alive: boolean };

/** The table; one row per loop id. Float64 so byte counts never wrap. */
export class StatsTable {
  readonly rows: Float64Array[];

  constructor(readonly loops: number) {
    this.rows = [];
    for (let i = 0; i < loops; i++) {
      this.rows.push(new Float64Array(new SharedArrayBuffer(WIDTH * 8)));
    }
  }

  static row(buffer: SharedArrayBuffer): Float64Array {
    return new Float64Array(buffer);
  }

  /** A snapshot of row `id`. Values written concurrently may be one update apart. */
  read(id: number, alive: boolean): LoopStats {
    const r = this.rows[id]!;
    const out = { id, alive } as LoopStats;
    for (let i = 0; i < WIDTH; i++) out[STATS_FIELDS[i]!] = r[i]!;
    return out;
  }
}
