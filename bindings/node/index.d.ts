// Type declarations of mpipc for Node (bindings/node/index.js).
// Values that cross processes are CBOR as docs/TYPES.md fixes it: see Cbor.

/// <reference types="node" />

/** A tagged value that has no JavaScript type (docs/TYPES.md rule 8); the shape of cbor-x's Tag. */
export declare class Tag {
  constructor(value: unknown, tag: number);
  value: unknown;
  tag: number;
}

/** A number encoded as a float even when integral (`new Float64(1)` -> `0xfb 3ff0...`). */
export declare class Float64 {
  constructor(value: number);
  value: number;
  valueOf(): number;
}

/**
 * A reference to a manager object (mpipc's REF tag, docs/TYPES.md): what a
 * Python manager proxy becomes when put in a queue, sent through a pipe or
 * stored in a manager object; encoded back as the same reference. Open it
 * with `manager.open(ref)` on a Manager connected to `address`.
 */
export declare class ManagerRef {
  constructor(kind: string, name: string, address: string);
  /** The object's kind: "dict", "list", "namespace", "value", "queue", "lock", ... */
  kind: string;
  /** Its name on the server. */
  name: string;
  /** The server's address: "unix:/path" or "tcp:host:port". */
  address: string;
}

/**
 * What crosses a process boundary (docs/TYPES.md): null (undefined is sent as
 * null), boolean, number (an integer while safe, else a float), bigint
 * (integers beyond 2^53, bignums), string, Uint8Array (Buffer), arrays, plain
 * objects (maps with text keys), Map (any other keys), Date (tag 1), Tag,
 * Float64.
 */
export type Cbor =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Date
  | Tag
  | Float64
  | ManagerRef
  | Cbor[]
  | Map<Cbor, Cbor>
  | { [key: string]: Cbor };

/** A decoded value: as Cbor, with Buffer for bytes, no undefined, and a Float64 only as the value of a passed-through tag 1 (docs/TYPES.md "Times"). */
export type Decoded = any;

/**
 * What a typed object accepts: `In<T>` is T itself when T was given (a
 * `Queue<Job>` puts `Job`s, where Job may be an interface, which has no
 * index signature and so is not assignable to Cbor), and Cbor when it was
 * not (`Queue`, `Queue<any>`, `Queue<unknown>`). Declaring T is a promise
 * that its values are CBOR-encodable (docs/TYPES.md); a value that is not
 * is refused at run time with EncodeError.
 */
export type In<T> = unknown extends T ? Cbor : T;

export declare function encode(value: Cbor): Buffer;
export declare function decode<T = Decoded>(bytes: Uint8Array): T;

/** The library's version, e.g. "0.1.0". */
export declare const version: string;
/**
 * Path of the loaded libmpipc.so: $MPIPC_LIB, else the package's own
 * (prebuilds/linux-x64/libmpipc.so), else the system's libmpipc.so.0 (the
 * file dlopen found), else, in a checkout, target/release or target/debug.
 */
export declare const libraryPath: string;
/** The MP_* status codes by name. */
export declare const STATUS: Readonly<Record<StatusName | 'MP_OK', number>>;

export type StatusName =
  | 'MP_E_NULL' | 'MP_E_INVAL' | 'MP_E_TIMEOUT' | 'MP_E_EMPTY' | 'MP_E_FULL' | 'MP_E_SHUTDOWN'
  | 'MP_E_TOOBIG' | 'MP_E_BUFSIZE' | 'MP_E_NOTFOUND' | 'MP_E_EXISTS' | 'MP_E_TYPE' | 'MP_E_VERSION'
  | 'MP_E_CORRUPT' | 'MP_E_PERM' | 'MP_E_IO' | 'MP_E_PANIC' | 'MP_E_POISONED' | 'MP_E_EOF'
  | 'MP_E_AUTH' | 'MP_E_INDEX' | 'MP_E_UNSUPPORTED' | 'MP_E_BROKEN' | 'MP_E_OWNER_DEAD';

/** Error codes: the C status names, plus the binding's own MP_E_CLOSED and MP_E_ABORTED. */
export type ErrorCode = StatusName | 'MP_E_CLOSED' | 'MP_E_ABORTED';

// ------------------------------------------------------------------ errors

export declare class MpipcError extends Error {
  /** The C status name, e.g. 'MP_E_EMPTY'. */
  readonly code: ErrorCode;
  /** The C status value, e.g. -4 (undefined for MP_E_CLOSED / MP_E_ABORTED). */
  readonly status: number | undefined;
}
export declare class NullError extends MpipcError {}
export declare class InvalidError extends MpipcError {}
export declare class TimeoutError extends MpipcError {}
export declare class EmptyError extends MpipcError {}
export declare class FullError extends MpipcError {}
export declare class ShutdownError extends MpipcError {}
export declare class TooBigError extends MpipcError {}
export declare class BufSizeError extends MpipcError {}
export declare class NotFoundError extends MpipcError {}
export declare class ExistsError extends MpipcError {}
export declare class WrongTypeError extends MpipcError {}
export declare class VersionError extends MpipcError {}
export declare class CorruptError extends MpipcError {}
export declare class PermError extends MpipcError {}
export declare class IOError extends MpipcError {}
export declare class PanicError extends MpipcError {}
export declare class PoisonedError extends MpipcError {}
export declare class EOFError extends MpipcError {}
export declare class AuthError extends MpipcError {}
export declare class IndexError extends MpipcError {}
export declare class UnsupportedError extends MpipcError {}
export declare class BrokenError extends MpipcError {}
export declare class OwnerDeadError extends MpipcError {}
/** Use of a handle after close() (code 'MP_E_CLOSED'). */
export declare class ClosedError extends MpipcError {}
/** A wait whose AbortSignal fired (code 'MP_E_ABORTED'; `cause` is the signal's reason). */
export declare class AbortError extends MpipcError {}
/** A value the CBOR mapping cannot carry (code 'MP_E_TYPE'); nothing was sent. */
export declare class EncodeError extends WrongTypeError {}
/** A message that is not valid CBOR (code 'MP_E_CORRUPT'); it was consumed. */
export declare class DecodeError extends CorruptError {
  readonly data: Buffer;
}

// ------------------------------------------------------------------ common

/** A wait: `timeout` in milliseconds (undefined or negative = forever, 0 = do not wait). */
export interface WaitOptions {
  timeout?: number;
  signal?: AbortSignal;
}

/** `create`: fail with ExistsError if the name exists; `attach`: NotFoundError if it does not. */
export interface OpenOptions {
  create?: boolean;
  attach?: boolean;
}

export declare abstract class Handle {
  /** Whether close() was called. */
  readonly closed: boolean;
  /** Closes this process's handle (idempotent); the object lives on by name until unlinked. */
  close(): void;
}

// ------------------------------------------------------------------ queue

export interface QueueOptions extends OpenOptions {
  /** Maximum number of messages; 0 = unbounded (the byte capacity still bounds it). */
  maxsize?: number;
  /** Ring size in bytes; 0 = 1 MiB. */
  capacityBytes?: number;
  /** Largest message; 0 = what fits in the ring. */
  maxMessage?: number;
  /** File mode of a new segment; 0 = 0600. */
  mode?: number;
  /**
   * The most a put or get that would wait polls on the main thread, in µs,
   * before it waits on the thread pool (0..1000; default Queue.syncSpinUs).
   */
  syncSpinUs?: number;
}

/**
 * Python's JoinableQueue, by name, across processes and languages.
 * `Queue<Job>` puts and gets `Job`s (see In); plain `Queue` any Cbor value.
 */
export declare class Queue<T = Decoded> extends Handle implements AsyncIterable<T> {
  /** `name`: a local name, or a Redis / Valkey address (`redis://host:port[/db]/NAME[?opts]`, `redis+unix:///path/redis.sock/NAME`; docs/REDIS.md). */
  constructor(name: string, opts?: QueueOptions);
  static unlink(name: string): void;
  readonly name: string;
  put(obj: In<T>, opts?: WaitOptions): Promise<void>;
  putBytes(data: Uint8Array | ArrayBuffer | ArrayBufferView | string, opts?: WaitOptions): Promise<void>;
  tryPut(obj: In<T>): boolean;
  putMany(objs: Iterable<In<T>>, opts?: WaitOptions): Promise<void>;
  putManyBytes(messages: Iterable<Uint8Array | string>, opts?: WaitOptions): Promise<void>;
  get(opts?: WaitOptions): Promise<T>;
  getBytes(opts?: WaitOptions): Promise<Buffer>;
  /** The oldest value, or undefined if the queue is empty. */
  tryGet(): T | undefined;
  tryGetBytes(): Buffer | undefined;
  getMany(maxN?: number, opts?: WaitOptions): Promise<T[]>;
  getManyBytes(maxN?: number, opts?: WaitOptions): Promise<Buffer[]>;
  qsize(): number;
  empty(): boolean;
  full(): boolean;
  taskDone(): void;
  join(opts?: WaitOptions): Promise<void>;
  shutdown(opts?: { immediate?: boolean }): void;
  readonly options: { maxsize: number; capacityBytes: number; maxMessage: number };
  /** How long a wait on the thread pool spins in C before sleeping, in µs (mpq_set_spin; default 50). */
  setSpin(us: number): void;
  /**
   * The main-thread spin of queues opened from now on, in µs: the most a
   * put or get that would wait holds the event loop, polling, before it
   * waits on the thread pool. 0..1000; default 50, or $MPIPC_NODE_SYNC_SPIN_US.
   */
  static syncSpinUs: number;
  /** This queue's main-thread spin maximum in µs. */
  readonly syncSpinUs: number;
  /** Sets this queue's main-thread spin maximum in µs (0 = wait on the pool at once). */
  setSyncSpin(us: number): void;
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

// ------------------------------------------------------------------ pipes

/**
 * One end of a connection (Python's Connection), wire-compatible with
 * multiprocessing.connection. `Connection<Msg>` sends and receives `Msg`s.
 */
export declare class Connection<T = Decoded> extends Handle implements AsyncIterable<T> {
  static fromFd<T = Decoded>(fd: number): Connection<T>;
  send(obj: In<T>): Promise<void>;
  sendBytes(data: Uint8Array | ArrayBuffer | ArrayBufferView | string): Promise<void>;
  recv(opts?: WaitOptions): Promise<T>;
  recvBytes(opts?: WaitOptions): Promise<Buffer>;
  poll(opts?: WaitOptions): Promise<boolean>;
  fileno(): number;
  setMaxFrame(bytes: number | bigint): void;
  setSpin(us: number): void;
  [Symbol.asyncIterator](): AsyncIterator<T>;
}

/** A connected pair (Python's Pipe); {duplex: false}: the first end receives, the second sends. */
export declare function Pipe<T = Decoded>(opts?: { duplex?: boolean }): [Connection<T>, Connection<T>];

export interface AuthOptions {
  authkey?: Uint8Array | string | null;
  /** ms; default 10 s. */
  timeout?: number;
}

/** Connects to a Listener at `unix:/path`, `unix:@name` or `tcp:host:port`. */
export declare function connect<T = Decoded>(address: string, opts?: AuthOptions): Promise<Connection<T>>;

/** `Listener<Msg>` accepts `Connection<Msg>`s. */
export declare class Listener<T = Decoded> extends Handle implements AsyncIterable<Connection<T>> {
  constructor(address: string, opts?: { authkey?: Uint8Array | string | null; allowTcpWithoutAuthkey?: boolean });
  readonly address: string;
  accept(opts?: WaitOptions): Promise<Connection<T>>;
  [Symbol.asyncIterator](): AsyncIterator<Connection<T>>;
}

/** Resolves to the connections that can receive (empty on expiry), as multiprocessing.connection.wait. */
export declare function wait<C extends Connection<any>>(conns: Iterable<C>, opts?: WaitOptions): Promise<C[]>;

// ------------------------------------------------------------------ manager

export declare class Proxy_ {
  readonly manager: Manager;
  readonly kind: string;
  readonly name: string;
  call(method: string, ...args: Cbor[]): Promise<Decoded>;
  create(...args: Cbor[]): Promise<boolean>;
}

/** A manager dict whose values are V (`mgr.dict<Job>('jobs')`); keys are any Cbor. */
export declare class DictProxy<V = Decoded> extends Proxy_ {
  get(key: Cbor): Promise<V>;
  get<D extends Cbor>(key: Cbor, dflt: D): Promise<V | D>;
  set(key: Cbor, value: In<V>): Promise<null>;
  delete(key: Cbor): Promise<null>;
  has(key: Cbor): Promise<boolean>;
  len(): Promise<number>;
  keys(): Promise<Decoded[]>;
  values(): Promise<V[]>;
  items(): Promise<[Decoded, V][]>;
  copy(): Promise<Record<string, V> | Map<Decoded, V>>;
  clear(): Promise<null>;
  pop(key: Cbor): Promise<V>;
  pop<D extends Cbor>(key: Cbor, dflt: D): Promise<V | D>;
  popitem(): Promise<[Decoded, V]>;
  setdefault(key: Cbor, dflt?: In<V>): Promise<V>;
  update(entries: Map<Cbor, In<V>> | [Cbor, In<V>][] | Record<string, In<V>>): Promise<null>;
  incr(key: Cbor, delta?: number | bigint): Promise<number | bigint>;
  compareAndSet(key: Cbor, expected: In<V>, value: In<V>): Promise<boolean>;
}

/** A manager list whose items are T (`mgr.list<Job>('jobs')`). */
export declare class ListProxy<T = Decoded> extends Proxy_ {
  append(x: In<T>): Promise<null>;
  extend(xs: Iterable<In<T>>): Promise<null>;
  insert(i: number, x: In<T>): Promise<null>;
  index(x: In<T>, start?: number | null, stop?: number | null): Promise<number>;
  count(x: In<T>): Promise<number>;
  remove(x: In<T>): Promise<null>;
  pop(i?: number): Promise<T>;
  reverse(): Promise<null>;
  sort(opts?: { reverse?: boolean }): Promise<null>;
  get(i: number): Promise<T>;
  set(i: number, x: In<T>): Promise<null>;
  delete(i: number): Promise<null>;
  slice(start?: number | null, stop?: number | null): Promise<T[]>;
  setSlice(start: number | null, stop: number | null, xs: Iterable<In<T>>): Promise<null>;
  deleteSlice(start?: number | null, stop?: number | null): Promise<null>;
  len(): Promise<number>;
  includes(x: In<T>): Promise<boolean>;
  clear(): Promise<null>;
  copy(): Promise<T[]>;
}

/** A manager value holding a T. */
export declare class ValueProxy<T = Decoded> extends Proxy_ {
  get(): Promise<T>;
  set(v: In<T>): Promise<null>;
  incr(delta?: number | bigint): Promise<number | bigint>;
  compareAndSet(expected: In<T>, value: In<T>): Promise<boolean>;
}

/** A manager queue of T (`mgr.queue<Job>('jobs')`). */
export declare class QueueProxy<T = Decoded> extends Proxy_ {
  put(item: In<T>, opts?: { timeout?: number }): Promise<null>;
  get(opts?: { timeout?: number }): Promise<T>;
  taskDone(): Promise<null>;
  join(opts?: { timeout?: number }): Promise<null>;
  qsize(): Promise<number>;
  empty(): Promise<boolean>;
  full(): Promise<boolean>;
}

export declare class LockProxy extends Proxy_ {
  acquire(opts?: { timeout?: number }): Promise<boolean>;
  release(n?: number): Promise<null>;
  locked(): Promise<boolean>;
  value(): Promise<number>;
  /** Lock/RLock at a Redis address: the fencing token of this client's hold (grows with every acquisition). */
  fence(): Promise<number>;
  withLock<R>(fn: () => R | Promise<R>, opts?: { timeout?: number }): Promise<R>;
}

export declare class EventProxy extends Proxy_ {
  set(): Promise<null>;
  clear(): Promise<null>;
  isSet(): Promise<boolean>;
  wait(opts?: { timeout?: number }): Promise<boolean>;
}

/**
 * A connection to a manager server; calls are pipelined.
 *
 * When the server goes away (stopped, crashed, restarted), the call that
 * notices rejects with EOFError (code 'MP_E_EOF', the library's message:
 * "connection to the manager at ... lost ..."), and so does every later call,
 * at once, until `reconnect()` succeeds. Nothing is retried automatically;
 * a restarted server starts empty.
 */
export declare class Manager extends Handle {
  readonly address: string;
  /**
   * Whether the connection is up as far as known: false once a call has
   * found it lost (until `reconnect()` succeeds) and after `close()`.
   * Never blocks.
   */
  readonly connected: boolean;
  /**
   * Dials the same address again with the same authkey, waiting up to
   * `timeout` ms (default: for ever) while no server listens there. On the
   * thread pool, in slices; calls made meanwhile wait for it. Rejects with
   * TimeoutError, AuthError, AbortError (`signal`), ClosedError.
   */
  reconnect(opts?: { timeout?: number; signal?: AbortSignal }): Promise<void>;
  call(kind: string, name: string, method: string, ...args: Cbor[]): Promise<Decoded>;
  create(kind: string, name: string, ...args: Cbor[]): Promise<boolean>;
  delete(name: string): Promise<boolean>;
  ping(): Promise<null>;
  objects(): Promise<[string, string][]>;
  stats(): Promise<{ objects: number; connections: number; requests: number }>;
  setSpin(us: number): void;
  dict<V = Decoded>(name: string): DictProxy<V>;
  list<T = Decoded>(name: string): ListProxy<T>;
  value<T = Decoded>(name: string): ValueProxy<T>;
  queue<T = Decoded>(name: string): QueueProxy<T>;
  lock(name: string): LockProxy;
  rlock(name: string): LockProxy;
  semaphore(name: string): LockProxy;
  boundedSemaphore(name: string): LockProxy;
  event(name: string): EventProxy;
  proxy(kind: string, name: string): Proxy_;
  /** The proxy of the object `ref` names (this manager must be connected to `ref.address`). */
  open(ref: ManagerRef & { kind: 'dict' }): DictProxy<Decoded>;
  open(ref: ManagerRef & { kind: 'list' }): ListProxy<Decoded>;
  open(ref: ManagerRef): Proxy_;
}

/**
 * Connects to a manager: `unix:/path`, `unix:@name`, `tcp:host:port`, or a Redis / Valkey server
 * (`redis://host:port[/db][?ns=app]`, `redis+unix:///path/redis.sock`; the authkey is its password).
 */
export declare function connectManager(address: string, authkey?: Uint8Array | string | null, opts?: { timeout?: number }): Promise<Manager>;
export declare function connectManager(address: string, opts: AuthOptions): Promise<Manager>;

export declare class ManagerServer {
  readonly address: string;
  shutdown(): Promise<void>;
}
export declare function serveManager(address: string, authkey?: Uint8Array | string | null): ManagerServer;

// ------------------------------------------------------------------ shared memory

/** `raw`: a raw POSIX block /dev/shm/<name> (no mpipc header), as Python's stock multiprocessing.shared_memory makes them. */
export interface SharedMemoryOptions extends OpenOptions {
  raw?: boolean;
}

export declare class SharedMemory extends Handle {
  constructor(name: string, size?: number, opts?: SharedMemoryOptions);
  static unlink(name: string, opts?: { raw?: boolean }): void;
  readonly name: string;
  readonly size: number;
  /** Whether this is a raw POSIX block. */
  readonly raw: boolean;
  /** The block itself (no copy). */
  readonly buffer: ArrayBuffer;
}

export type Typecode = 'c' | 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' | 'f' | 'd';
export type ArrayView =
  | Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

export interface ArrayOptions extends OpenOptions {
  /** false: no lock (Python's lock=False). */
  lock?: boolean;
}

/** Python's Array by name: a TypedArray view over shared memory plus locked accessors. */
export declare class SharedArray extends Handle {
  constructor(name: string, typecode: Typecode, length?: number, opts?: ArrayOptions);
  static unlink(name: string): void;
  readonly name: string;
  readonly typecode: Typecode;
  readonly length: number;
  readonly itemsize: number;
  /** The elements over the shared memory (no copy, no lock). */
  readonly view: ArrayView;
  get(i: number): number | bigint;
  set(i: number, value: number | bigint): void;
  incr(i: number, delta?: number | bigint): number | bigint;
  toArray(): (number | bigint)[];
  read(start?: number, count?: number): ArrayView;
  write(start: number, data: ArrayLike<number | bigint>): void;
  lock(opts?: { timeout?: number }): Promise<boolean>;
  unlock(): void;
  withLock<R>(fn: (view: ArrayView) => R | Promise<R>, opts?: { timeout?: number }): Promise<R>;
}

/** Python's Value by name: an array of length 1. */
export declare class Value extends SharedArray {
  constructor(name: string, typecode: Typecode, opts?: ArrayOptions);
  value: number | bigint;
}

export type Scalar = null | boolean | number | bigint | string | Uint8Array;

/** Python's ShareableList by name: fixed length, scalars stored as their CBOR. */
export declare class ShareableList extends Handle {
  constructor(name: string, items?: Iterable<Scalar> | null, opts?: OpenOptions);
  static unlink(name: string): void;
  readonly name: string;
  readonly length: number;
  get(i: number): Scalar;
  set(i: number, value: Scalar): void;
  capacity(i: number): number;
  toArray(): Scalar[];
}

// ------------------------------------------------------------------ locks and friends

/** A named robust Lock, held by this process (its lock owner thread). */
export declare class Lock extends Handle {
  constructor(name: string, opts?: OpenOptions);
  static unlink(name: string): void;
  readonly name: string;
  /** true, or false on expiry; true also when taken from a dead holder (then ownerDied is true). */
  acquire(opts?: { timeout?: number }): Promise<boolean>;
  release(): void;
  withLock<R>(fn: () => R | Promise<R>, opts?: { timeout?: number }): Promise<R>;
  readonly depth: number;
  readonly ownerDied: boolean;
  ownerDeaths(): number;
}
export declare class RLock extends Lock {}

export declare class Condition extends Handle {
  constructor(name: string, lock: Lock, opts?: OpenOptions);
  static unlink(name: string): void;
  readonly name: string;
  readonly lock: Lock;
  acquire(opts?: { timeout?: number }): Promise<boolean>;
  release(): void;
  withLock<R>(fn: () => R | Promise<R>, opts?: { timeout?: number }): Promise<R>;
  wait(opts?: { timeout?: number }): Promise<boolean>;
  waitFor<V>(predicate: () => V, opts?: { timeout?: number }): Promise<V>;
  notify(n?: number): void;
  notifyAll(): void;
}

export declare class Semaphore extends Handle {
  constructor(name: string, value?: number, opts?: OpenOptions & { bounded?: boolean });
  static unlink(name: string): void;
  readonly name: string;
  acquire(opts?: WaitOptions): Promise<boolean>;
  release(): void;
  readonly value: number;
}
export declare class BoundedSemaphore extends Semaphore {}

export declare class Event extends Handle {
  constructor(name: string, opts?: OpenOptions);
  static unlink(name: string): void;
  readonly name: string;
  set(): void;
  clear(): void;
  isSet(): boolean;
  wait(opts?: WaitOptions): Promise<boolean>;
}

export declare class Barrier extends Handle {
  constructor(name: string, parties: number, opts?: OpenOptions);
  static unlink(name: string): void;
  readonly name: string;
  wait(opts?: { timeout?: number }): Promise<number>;
  abort(): void;
  reset(): void;
  readonly parties: number;
  readonly nWaiting: number;
  readonly broken: boolean;
}
