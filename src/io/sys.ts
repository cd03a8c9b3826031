import { readFileSync } from 'node:fs';
import { native, nativeStatus } from '../../native/index.js';
import type { Logger } from '../log.js';

/**
 * What the kernel and the process allow a server: the numbers `polyloop doctor` checks. Reads
 * /proc only; safe from any thread. Values that cannot be read (another OS, a sandbox) are
 * `undefined`.
 */
export interface SystemLimits {
  fdSoft: number | undefined;
  fdHard: number | undefined;
  somaxconn: number | undefined;
  tcpMaxSynBacklog: number | undefined;
  fileMax: number | undefined;
  nrOpen: number | undefined;
  epollMaxUserWatches: number | undefined;
  localPortRange: [number, number] | undefined;
  tcpTwReuse: number | undefined;
}

function readNumbers(path: string): number[] | undefined {
  try {
    const nums = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    return nums.every((n) => Number.isFinite(n)) ? nums : undefined;
  } catch {
    return undefined;
  }
}

function sysctl(name: string): number | undefined {
  return readNumbers(`/proc/sys/${name.replaceAll('.', '/')}`)?.[0];
}

/** The soft and hard RLIMIT_NOFILE of this process, from /proc/self/limits. */
export function fdLimits(): { soft: number | undefined; hard: number | undefined } {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = line === undefined ? null : /Max open files\s+(\S+)\s+(\S+)/.exec(line);
    if (m === null) return { soft: undefined, hard: undefined };
    const value = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: value(m[1]!), hard: value(m[2]!) };
  } catch {
    return { soft: undefined, hard: undefined };
  }
}

/** Reads every limit once. */
export function readSystemLimits(): SystemLimits {
  const { soft, hard } = fdLimits();
  const range = readNumbers('/proc/sys/net/ipv4/ip_local_port_range');
  return {
    fdSoft: soft,
    fdHard: hard,
    somaxconn: sysctl('net.core.somaxconn'),
    tcpMaxSynBacklog: sysctl('net.ipv4.tcp_max_syn_backlog'),
    fileMax: sysctl('fs.file-max'),
    nrOpen: sysctl('fs.nr_open'),
    epollMaxUserWatches: sysctl('fs.epoll.max_user_watches'),
    localPortRange: range !== undefined && range.length >= 2 ? [range[0]!, range[1]!] : undefined,
    tcpTwReuse: sysctl('net.ipv4.tcp_tw_reuse'),
  };
}

/** True when this Node honours `reusePort` in `listen()` (22.12+ and 23.1+). */
export function nodeHasReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

let raised = false;

/**
 * Raises this process's soft fd limit to the hard one when it is lower, and says so once in the
 * log. Node does the same at start-up; this covers a limit lowered since (setrlimit, a parent's
 * prlimit on a running process). Needs the addon; without it, does nothing.
 */
export function raiseFdLimit(logger: Logger): void {
  if (raised || !nativeStatus().available) return;
  raised = true;
  try {
    const { soft, hard } = native().getFdLimit();
    if (soft >= hard) return;
    const now = native().setFdLimit(hard);
    logger.warn({ from: soft, to: now.soft }, 'raised the soft fd limit to the hard limit');
  } catch (err) {
    logger.warn({ err }, 'could not raise the soft fd limit');
  }
}
