// The orders the network library keeps while containers start and stop in
// parallel: one change of the state at a time (a short critical section), one
// change per container at a time (its attach, its release), and the firewall
// loads in one queue, rendered when they start, so that the rules last loaded
// are always those of the newest state and several changes made meanwhile are
// loaded at once (20 containers starting together cost a few loads, not 20).

import { apply, render, type Chains, type RuleSet } from './firewall.js';
import type { EndpointRecord, NetworkRecord } from './state.js';

/** Runs functions one after the other, in the order they were given. */
export class Queue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** One queue per key (a container id), dropped when it empties. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail: Promise<void> = next.then(
      () => this.forget(key, tail),
      () => this.forget(key, tail),
    );
    this.tails.set(key, tail);
    return next;
  }

  private forget(key: string, tail: Promise<void>): void {
    if (this.tails.get(key) === tail) this.tails.delete(key);
  }
}

/**
 * Writes of the state document: each write serializes the document when it
 * starts, so a change made before write() is in the write it waits for, and
 * the changes made while one write runs go in one more write (durable when
 * any of them asked). Writes never overlap.
 */
export class StateWrites {
  private readonly queue = new Queue();
  private pending?: { promise: Promise<void>; durable: boolean };

  constructor(private readonly save: (durable: boolean) => Promise<void>) {}

  write(durable: boolean): Promise<void> {
    const p = this.pending;
    if (p) {
      p.durable ||= durable;
      return p.promise;
    }
    const job = { durable } as NonNullable<typeof this.pending>;
    job.promise = this.queue.run(async () => {
      if (this.pending === job) this.pending = undefined;
      await this.save(job.durable);
    });
    this.pending = job;
    return job.promise;
  }
}

export interface RuleSource {
  chains: Chains;
  bridges(): NetworkRecord[];
  endpoints(): EndpointRecord[];
}

/**
 * The firewall loads. A caller's change is in the state before it asks; the
 * load it joins renders the state when it starts, so the change is in it.
 * The chains are rendered whole (a load repairs whatever happened to them);
 * `ifChanged` (a release) loads nothing when the rules are those of the last
 * load: an endpoint without published ports has no rule of its own.
 */
export class RuleLoads {
  private readonly queue = new Queue();
  private pending?: { promise: Promise<void>; force: boolean; ensureJumps: boolean };
  /** The rules the last successful load put in place (undefined: unknown, the next load loads). */
  private applied: string | undefined;

  constructor(
    private readonly src: RuleSource,
    private readonly enabled: boolean,
    /** iptables-restore (the unit test counts the loads instead). */
    private readonly load: (c: Chains, rules: RuleSet, ensureJumps: boolean) => Promise<void> = apply,
  ) {}

  sync(opts: { ensureJumps?: boolean; ifChanged?: boolean } = {}): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const p = this.pending;
    if (p) {
      p.force ||= !opts.ifChanged;
      p.ensureJumps ||= opts.ensureJumps ?? false;
      return p.promise;
    }
    const job = { force: !opts.ifChanged, ensureJumps: opts.ensureJumps ?? false } as NonNullable<typeof this.pending>;
    job.promise = this.queue.run(async () => {
      if (this.pending === job) this.pending = undefined;
      const rules = render(this.src.chains, this.src.bridges(), this.src.endpoints());
      const text = rules.filter + rules.nat;
      if (!job.force && !job.ensureJumps && text === this.applied) return;
      this.applied = undefined;
      await this.load(this.src.chains, rules, job.ensureJumps);
      this.applied = text;
    });
    this.pending = job;
    return job.promise;
  }

  /** Runs `fn` with no load in flight or queued before it (the chains' removal). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      this.applied = undefined;
      return fn();
    });
  }
}
