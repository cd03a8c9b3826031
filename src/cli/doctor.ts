// `polyloop doctor`: what in this machine's configuration would limit a server, and the exact
// command that lifts each limit.
import { nodeHasReusePort, readSystemLimits, type SystemLimits } from '../io/sys.js';

export interface DoctorCheck {
  name: string;
  value: string;
  /** `limit`: this will cap a busy server; `ok`; `info`: worth knowing, limits nothing. */
  status: 'ok' | 'limit' | 'info';
  advice?: string;
}

export interface DoctorInput {
  limits: SystemLimits;
  backlog: number;
  /** File descriptors a busy server should be able to open. */
  wantFds: number;
  native: { available: boolean; reason?: string };
  nodeVersion: string;
}

function check(
  name: string,
  value: string,
  limiting: boolean | undefined,
  advice: string,
): DoctorCheck {
  if (limiting === undefined) return { name, value: 'unknown', status: 'info' };
  return limiting ? { name, value, status: 'limit', advice } : { name, value, status: 'ok' };
}

/** Evaluates every check; pure, so it is testable with made-up limits. */
export function diagnose(input: DoctorInput): DoctorCheck[] {
  const { limits: l, backlog, wantFds } = input;
  const show = (n: number | undefined): string => (n === undefined ? 'unknown' : String(n));
  const below = (n: number | undefined, min: number): boolean | undefined =>
    n === undefined ? undefined : n < min;
  const checks: DoctorCheck[] = [
    check(
      'fd soft limit (RLIMIT_NOFILE)',
      show(l.fdSoft),
      below(l.fdSoft, wantFds),
      `ulimit -n ${wantFds}   (polyloop raises the soft limit to the hard one at start-up)`,
    ),
    check(
      'fd hard limit (RLIMIT_NOFILE)',
      show(l.fdHard),
      below(l.fdHard, wantFds),
      `raise the hard limit: 'LimitNOFILE=${wantFds}' in the systemd unit, or '* hard nofile ${wantFds}' in /etc/security/limits.conf`,
    ),
    check(
      'net.core.somaxconn',
      `${show(l.somaxconn)} (backlog ${backlog})`,
      below(l.somaxconn, backlog),
      `sysctl -w net.core.somaxconn=${Math.max(4096, backlog)}`,
    ),
    check(
      'net.ipv4.tcp_max_syn_backlog',
      `${show(l.tcpMaxSynBacklog)} (backlog ${backlog})`,
      below(l.tcpMaxSynBacklog, backlog),
      `sysctl -w net.ipv4.tcp_max_syn_backlog=${Math.max(4096, backlog)}`,
    ),
    check(
      'fs.file-max',
      show(l.fileMax),
      below(l.fileMax, wantFds * 2),
      `sysctl -w fs.file-max=${wantFds * 4}`,
    ),
    check(
      'fs.nr_open',
      show(l.nrOpen),
      below(l.nrOpen, wantFds),
      `sysctl -w fs.nr_open=${wantFds * 2}`,
    ),
    check(
      'fs.epoll.max_user_watches',
      show(l.epollMaxUserWatches),
      below(l.epollMaxUserWatches, wantFds),
      `sysctl -w fs.epoll.max_user_watches=${wantFds * 2}`,
    ),
  ];
  const range = l.localPortRange;
  checks.push(
    check(
      'net.ipv4.ip_local_port_range',
      range === undefined ? 'unknown' : `${range[0]}-${range[1]}`,
      range === undefined ? undefined : range[1] - range[0] < 16_384,
      `sysctl -w net.ipv4.ip_local_port_range="1024 65535"   (outgoing connections: clients, proxies)`,
    ),
  );
  checks.push(
    l.tcpTwReuse === 0
      ? {
          name: 'net.ipv4.tcp_tw_reuse',
          value: '0',
          status: 'info',
          advice:
            'sysctl -w net.ipv4.tcp_tw_reuse=1   (reuse TIME_WAIT ports for outgoing connections)',
        }
      : { name: 'net.ipv4.tcp_tw_reuse', value: show(l.tcpTwReuse), status: 'ok' },
  );
  checks.push(
    input.native.available
      ? { name: 'native addon', value: 'loaded', status: 'ok' }
      : {
          name: 'native addon',
          value: `not loaded${input.native.reason === undefined ? '' : `: ${input.native.reason}`}`,
          status: 'limit',
          advice:
            'npm rebuild polyloop   (needs python3, make and a C compiler); without it: no sendfile, no native acceptor',
        },
  );
  const reusePort = nodeHasReusePort(input.nodeVersion);
  checks.push({
    name: 'Node reusePort',
    value: `${reusePort ? 'yes' : 'no'} (Node ${input.nodeVersion})`,
    status: 'info',
    ...(reusePort
      ? {}
      : {
          advice:
            'Node >= 22.12 for the built-in reusePort; polyloop uses its native listener instead',
        }),
  });
  return checks;
}

/** Renders the checks as an aligned table with advice lines. */
export function formatDoctor(checks: DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const mark = { ok: 'ok   ', limit: 'LIMIT', info: 'info ' } as const;
  const lines = checks.map((c) => {
    const row = `${mark[c.status]}  ${c.name.padEnd(width)}  ${c.value}`;
    return c.advice === undefined || c.status === 'ok'
      ? row
      : `${row}\n       ${' '.repeat(width)}  -> ${c.advice}`;
  });
  const limiting = checks.filter((c) => c.status === 'limit').length;
  lines.push(
    '',
    limiting === 0 ? 'nothing limits a server here' : `${limiting} setting(s) limit a server here`,
  );
  return lines.join('\n');
}

export interface DoctorOptions {
  json: boolean;
  backlog: number;
  wantFds: number;
  native: { available: boolean; reason?: string };
}

/** Prints the report; returns the exit code: 0 when nothing limits, 1 when something does. */
export function runDoctor(options: DoctorOptions, out: (s: string) => void): number {
  const checks = diagnose({
    limits: readSystemLimits(),
    backlog: options.backlog,
    wantFds: options.wantFds,
    native: options.native,
    nodeVersion: process.versions.node,
  });
  const limiting = checks.some((c) => c.status === 'limit');
  out(options.json ? JSON.stringify({ limiting, checks }, null, 2) : formatDoctor(checks));
  return limiting ? 1 : 0;
}
