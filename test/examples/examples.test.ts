import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { BLOCK } from '../../examples/chargen.js';
import { EPOCH_OFFSET } from '../../examples/time.js';
import { CLI, closed, connect, readBytes, readToEnd, startCli, waitFor } from '../helpers.js';

function frame(text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

async function readFrame(socket: Socket): Promise<string> {
  const head = await readBytes(socket, 4);
  return (await readBytes(socket, head.readUInt32BE(0))).toString();
}

/**
 * Connects `n` chat clients one by one; each newcomer says hello and waits until everyone
 * before it heard it, so the server has registered all of them when this resolves.
 */
async function joinChat(port: number, n: number): Promise<Socket[]> {
  const joined: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = await connect(port);
    if (joined.length > 0) {
      s.write(frame(`joined ${i}`));
      for (const other of joined) assert.equal(await readFrame(other), `joined ${i}`);
    }
    joined.push(s);
  }
  return joined;
}

describe('polyloop example servers', () => {
  it('echo prints one listening line, echoes random data, and exits 0 on SIGINT', async () => {
    const srv = await startCli(['echo', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    assert.equal(srv.host, '127.0.0.1');
    const sockets = await Promise.all(Array.from({ length: 8 }, () => connect(srv.port)));
    await Promise.all(
      sockets.map(async (s) => {
        const data = randomBytes(256 * 1024);
        s.write(data);
        const back = await readBytes(s, data.length);
        assert.ok(back.equals(data));
        s.destroy();
      }),
    );
    assert.equal(await srv.stop('SIGINT'), 0);
    assert.match(srv.stdout(), /^listening on 127\.0\.0\.1:\d+\n$/);
  });

  it('discard reads everything and answers nothing', async () => {
    const srv = await startCli(['discard', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const s = await connect(srv.port);
    let got = 0;
    s.on('data', (d: Buffer) => (got += d.length));
    s.end(randomBytes(1024 * 1024));
    await closed(s);
    assert.equal(got, 0);
    assert.equal(await srv.stop(), 0);
  });

  it('chargen streams the RFC 864 pattern to a reader', async () => {
    const srv = await startCli(['chargen', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const s = await connect(srv.port);
    const head = await readBytes(s, BLOCK.length * 2);
    s.destroy();
    assert.equal(
      head.subarray(0, 74).toString(),
      '!"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n',
    );
    assert.ok(head.subarray(BLOCK.length).equals(Buffer.from(BLOCK)));
    assert.equal(await srv.stop(), 0);
  });

  it('chargen keeps its memory bounded when the reader stops reading', async () => {
    const srv = await startCli(['chargen', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const s = await connect(srv.port);
    s.pause();
    // The kernel buffers fill, writes stop completing, and no more blocks are queued: the
    // server stays responsive and its RSS does not climb with time.
    const rss = (): number => rssKb(srv.proc.pid!);
    await new Promise((r) => setTimeout(r, 300));
    const first = rss();
    await new Promise((r) => setTimeout(r, 700));
    const second = rss();
    assert.ok(second - first < 32 * 1024, `RSS grew from ${first} kB to ${second} kB`);
    const probe = await connect(srv.port);
    await readBytes(probe, 100);
    probe.destroy();
    s.destroy();
    assert.equal(await srv.stop(), 0);
  });

  it('daytime sends the date as one line, then closes', async () => {
    const srv = await startCli(['daytime', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const s = await connect(srv.port);
    const text = (await readToEnd(s)).toString();
    assert.match(text, /^\w{3} \w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT[^\r\n]*\r\n$/);
    const year = new Date().getFullYear();
    assert.ok(text.includes(String(year)));
    assert.equal(await srv.stop(), 0);
  });

  it('time sends 4 bytes of RFC 868 time, then closes', async () => {
    const srv = await startCli(['time', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const s = await connect(srv.port);
    const bytes = await readToEnd(s);
    assert.equal(bytes.length, 4);
    const unix = bytes.readUInt32BE(0) - EPOCH_OFFSET;
    assert.ok(Math.abs(unix - Date.now() / 1000) < 60, `time ${unix} is far from now`);
    assert.equal(await srv.stop(), 0);
  });

  it('chat relays a message to every other client but not back to its sender', async () => {
    const srv = await startCli(['chat', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const [a, b, c] = (await joinChat(srv.port, 3)) as [Socket, Socket, Socket];
    let aGot = 0;
    a.on('data', (d: Buffer) => (aGot += d.length));
    // Frames split byte by byte still arrive whole.
    const f = frame('hello from a');
    for (const byte of f) a.write(Buffer.from([byte]));
    assert.equal(await readFrame(b), 'hello from a');
    assert.equal(await readFrame(c), 'hello from a');
    c.write(frame('and c'));
    assert.equal(await readFrame(b), 'and c');
    await waitFor(() => aGot === 4 + 'and c'.length, 10_000, 'a to receive only c');
    for (const s of [a, b, c]) s.destroy();
    assert.equal(await srv.stop(), 0);
  });

  it('chat closes a client that sends an oversize frame and keeps serving the others', async () => {
    const srv = await startCli(['chat', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const [a, b] = (await joinChat(srv.port, 2)) as [Socket, Socket];
    const bad = await connect(srv.port);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1 << 30);
    bad.on('error', () => {});
    bad.write(head);
    await closed(bad);
    a.write(frame('still here'));
    assert.equal(await readFrame(b), 'still here');
    a.destroy();
    b.destroy();
    assert.equal(await srv.stop(), 0);
  });

  it('chat-client sends stdin lines and prints what others say', async () => {
    const srv = await startCli(['chat', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const peer = await connect(srv.port);
    const client = spawn(process.execPath, [CLI, 'chat-client', '--port', String(srv.port)], {
      stdio: 'pipe',
    });
    after(() => client.kill('SIGKILL'));
    let printed = '';
    client.stdout.on('data', (d: Buffer) => (printed += d.toString()));
    client.stdin.write('hi from the client\n');
    assert.equal(await readFrame(peer), 'hi from the client');
    peer.write(frame('hello back'));
    await waitFor(() => printed.includes('hello back\n'), 10_000, 'client output');
    const exited = new Promise<number | null>((r) => client.once('exit', (code) => r(code)));
    client.stdin.end();
    assert.equal(await exited, 0);
    peer.destroy();
    assert.equal(await srv.stop(), 0);
  });

  it('rejects unknown commands and bad options with exit code 2', async () => {
    for (const args of [['nope'], ['echo', '--port', 'x'], ['echo', '--bogus']]) {
      const p = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe' });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
      assert.equal(code, 2, `args ${args.join(' ')}`);
      assert.match(err, /^polyloop: /);
    }
  });

  it('reports a port in use with PL_ERR_LISTEN and exit code 1', async () => {
    const srv = await startCli(['echo', '--port', '0']);
    after(() => srv.stop('SIGKILL'));
    const p = spawn(process.execPath, [CLI, 'echo', '--port', String(srv.port)], { stdio: 'pipe' });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    assert.equal(code, 1);
    assert.match(err, /PL_ERR_LISTEN.*EADDRINUSE/);
    assert.equal(await srv.stop(), 0);
  });
});

/** Resident set size of a process in kB, from /proc. */
function rssKb(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(text);
  return m === null ? 0 : Number(m[1]);
}
