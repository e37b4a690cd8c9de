import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeFrame, FrameDecoder } from '@bunbase/raft';
import ts from 'typescript';
import { buildFixtures } from '../fixtures-storage/build.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '..', '..');

function transpileInto(srcDir: string, outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  for (const name of fs.readdirSync(srcDir)) {
    if (!name.endsWith('.ts')) continue;
    const out = ts.transpileModule(fs.readFileSync(path.join(srcDir, name), 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    fs.writeFileSync(path.join(outDir, name.replace(/\.ts$/, '.js')), out.outputText);
  }
}

/** The storage fixtures' JavaScript tree plus the replication sources and this directory. */
export function buildReplicationFixtures(): { script: string; cleanup: () => void } {
  const f = buildFixtures();
  transpileInto(path.join(pkg, 'src', 'replication'), path.join(f.root, 'src', 'replication'));
  transpileInto(here, path.join(f.root, 'test', 'fixtures-replication'));
  return { script: path.join(f.root, 'test', 'fixtures-replication', 'node-main.js'), cleanup: f.cleanup };
}

export interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  code?: string;
  message?: string;
  leaderId?: number;
}

/** A pipelining client of one member (framed JSON). */
export class MemberClient {
  #next = 1;
  readonly #waiting = new Map<number, { resolve(r: Reply): void; reject(e: unknown): void }>();
  private constructor(private readonly socket: Socket) {
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        const r = JSON.parse(f.toString('utf8')) as Reply;
        this.#waiting.get(r.id)?.resolve(r);
        this.#waiting.delete(r.id);
      }
    });
    const fail = (err: unknown) => {
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static connect(port: number): Promise<MemberClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new MemberClient(s));
      });
    });
  }

  call(body: Record<string, unknown>): Promise<Reply> {
    if (this.socket.destroyed) return Promise.reject(new Error('connection closed'));
    const id = this.#next++;
    const p = new Promise<Reply>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    this.socket.write(encodeFrame(Buffer.from(JSON.stringify({ ...body, id }))));
    return p;
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Proc {
  child: ChildProcess;
  client: MemberClient;
  exited: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replicated members as OS processes over TCP on loopback: start, SIGKILL, restart. */
export class ReplicaProcesses {
  readonly procs = new Map<number, Proc>();
  readonly raftPorts = new Map<number, number>();

  constructor(
    private readonly script: string,
    private readonly root: string,
    readonly ids: readonly number[],
    private readonly extra: Record<string, unknown> = {},
  ) {}

  #spawn(id: number, raftPort: number) {
    const config = { id, dir: path.join(this.root, `node-${id}`), voters: this.ids, raftPort, ...this.extra };
    const child = spawn(process.execPath, [this.script, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const listening = new Promise<{ raftPort: number; clientPort: number }>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d;
        const m = /listening (\d+) (\d+)\n/.exec(out);
        if (m) resolve({ raftPort: Number(m[1]), clientPort: Number(m[2]) });
      });
      child.once('exit', (code) => reject(new Error(`member ${id} exited (${code}) before listening`)));
    });
    return { child, exited, listening };
  }

  #peers(): string {
    return JSON.stringify(
      Object.fromEntries([...this.raftPorts].map(([id, port]) => [id, { host: '127.0.0.1', port }])),
    );
  }

  async start(): Promise<void> {
    const started = this.ids.map((id) => ({ id, ...this.#spawn(id, 0) }));
    for (const s of started) {
      const { raftPort, clientPort } = await s.listening;
      this.raftPorts.set(s.id, raftPort);
      this.procs.set(s.id, {
        child: s.child,
        exited: s.exited,
        client: await MemberClient.connect(clientPort),
      });
    }
    for (const s of started) s.child.stdin!.write(`${this.#peers()}\n`);
  }

  async kill(id: number): Promise<void> {
    const p = this.procs.get(id);
    if (!p) return;
    this.procs.delete(id);
    p.client.close();
    p.child.kill('SIGKILL');
    await p.exited;
  }

  async restart(id: number): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      const s = this.#spawn(id, this.raftPorts.get(id)!);
      try {
        const { clientPort } = await s.listening;
        s.child.stdin!.write(`${this.#peers()}\n`);
        this.procs.set(id, {
          child: s.child,
          exited: s.exited,
          client: await MemberClient.connect(clientPort),
        });
        return;
      } catch (err) {
        last = err; // the old port may still be held for a moment
        await sleep(100);
      }
    }
    throw last;
  }

  client(id: number): MemberClient {
    const p = this.procs.get(id);
    if (!p) throw new Error(`member ${id} is not running`);
    return p.client;
  }

  async status(
    id: number,
  ): Promise<{ role: string; applied: number; commit: number; storeRestores: number }> {
    const r = await this.client(id).call({ op: 'status' });
    return r.result as { role: string; applied: number; commit: number; storeRestores: number };
  }

  async leader(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const id of this.procs.keys()) {
        const st = await this.status(id).catch(() => undefined);
        if (st?.role === 'leader') return id;
      }
      if (Date.now() > deadline) throw new Error('no leader');
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    for (const [id, p] of [...this.procs]) {
      this.procs.delete(id);
      p.client.close();
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 3000);
      await p.exited;
      clearTimeout(timer);
    }
  }
}
