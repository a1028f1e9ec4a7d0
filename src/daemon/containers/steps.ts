// Where the time of a container's create, start, exit and removal goes: one
// debug line per operation with the milliseconds since its start at each
// step (the engine logs its own calls' `ms` the same way), so that a slow
// `docker run` can be read off berthd's log without a profiler.

import type { Logger } from '../../common/log.js';

export class Steps {
  private readonly t0 = performance.now();
  private readonly at: Record<string, number> = {};

  constructor(
    private readonly log: Logger,
    private readonly what: string,
    /** Known only part-way for a create. */
    public container: string,
  ) {}

  mark(step: string): void {
    this.at[step] = Math.round((performance.now() - this.t0) * 10) / 10;
  }

  done(): void {
    this.mark('done');
    this.log.debug(`${this.what} steps`, { container: this.container, ms: this.at });
  }
}
