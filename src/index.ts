export * from './errors.js';
export type { Logger } from './log.js';
export { defaultLogger } from './log.js';
export { ByteBuffer } from './io/byte-buffer.js';
export {
  BufferPool,
  defaultBufferPool,
  type BufferClassStats,
  type BufferLeak,
  type BufferPoolOptions,
  type BufferPoolStats,
} from './io/buffer-pool.js';
export {
  Connection,
  defineApp,
  type App,
  type CloseReason,
  type ConnectionOptions,
  type ConnectionState,
  type Handlers,
} from './io/connection.js';
export {
  TcpServer,
  type ServerAddress,
  type ServerStats,
  type TcpServerOptions,
} from './io/tcp-server.js';
export {
  TcpClient,
  Connector,
  backoffDelay,
  type BackoffOptions,
  type ConnectorOptions,
  type TcpClientOptions,
} from './io/tcp-client.js';
export { TimingWheel, type TimingWheelOptions, type WheelEntry } from './io/timing-wheel.js';
export { runAfter, runEvery, cancel, type TimerHandle, type TimerOptions } from './io/timers.js';
export type { Codec, Decoder, CodecInput, CodecOutput } from './codec/codec.js';
export {
  lengthFieldCodec,
  type LengthFieldOptions,
  type LengthFieldCodec,
} from './codec/length-field.js';
export { lineCodec, type LineOptions, type LineMessage } from './codec/line.js';
export * from './protocol/http/parser.js';
export type { SendFileOptions } from './io/send-file.js';
export { nativeStatus, type NativeStatus } from '../native/index.js';
export { PeerNode, type PeerNodeStats } from './p2p/peer-node.js';
export type { PeerNodeOptions } from './p2p/options.js';
export type { PeerInfo } from './p2p/membership.js';
export type { JsonValue, MemberState } from './p2p/wire.js';
export {
  httpApp,
  HttpSession,
  type HttpApp,
  type HttpHandler,
  type HttpHandlerObject,
  type HttpServerOptions,
  type HttpStats,
  type FileCacheOptions,
} from './protocol/http/server.js';
export {
  ServerResponse,
  httpDate,
  reasonPhrase,
  type SendFileResponseOptions,
} from './protocol/http/response.js';
export { ServerRequest } from './protocol/http/server-request.js';
export { Router, router } from './protocol/http/router.js';
export { serveStatic, type StaticOptions } from './protocol/http/static.js';
export { IntRing } from './shm/int-ring.js';
export { ByteRing } from './shm/byte-ring.js';
export { MpscIntRing } from './shm/mpsc-int-ring.js';
export { RwLock } from './shm/rw-lock.js';
export { SharedCounters, CounterSlot } from './shm/shared-counters.js';
export { serve, handleSignals, type AppSource } from './concurrency/serve.js';
export type { Server, ServeStats, ServerEvents } from './concurrency/group.js';
export type { LoopStats } from './concurrency/loop-stats.js';
export { currentLoop, type LoopInfo, type LoopMessageHandler } from './concurrency/loop.js';
export type {
  ServeOptions,
  Model,
  WorkerKind,
  DispatchPolicy,
  Handoff,
} from './concurrency/options.js';
export {
  ConnectionPool,
  type ConnectionPoolOptions,
  type ConnectionPoolStats,
} from './pool/connection-pool.js';
export {
  UpstreamPool,
  UpstreamConnection,
  type UpstreamPoolOptions,
} from './pool/upstream-pool.js';
export { ThreadPool, type ThreadPoolOptions } from './pool/thread-pool.js';
export { ProcessPool, type ProcessPoolOptions } from './pool/process-pool.js';
export type { PoolOptions, RunOptions, PoolStats, CloseOptions } from './pool/pool-core.js';
export { move, type Moved } from './pool/task-wire.js';
export { poolWorkerData } from './pool/worker-data.js';
export { OrderedQueue, ordered } from './pool/ordered.js';
export {
  defineService,
  httpService,
  type Service,
  type HttpService,
  type PlainRequest,
  type PlainResponse,
} from './concurrency/service.js';
export type { LogicPoolOptions } from './concurrency/proactor.js';
export type {
  ExecResult,
  ScanOptions,
  SetOptions,
  SqlParam,
  Store,
  StoreEntry,
  StoreHealth,
  StoreValue,
} from './storage/store.js';
export { SqliteStore, type SqliteStoreOptions } from './storage/sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './storage/postgres-store.js';
export { RedisStore, type RedisStoreOptions, type RedisArg } from './storage/redis-store.js';
export type { StorePoolOptions } from './storage/pooled.js';
