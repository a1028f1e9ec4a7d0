// Structured logging: JSON lines with a level, or plain text for humans. The
// runtime's JSON form is exactly what containerd reads from runc's --log file
// ({"level":"error","msg":"...","time":"..."}), so our errors reach its users.

import { appendFileSync, writeSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warning' | 'error' | 'fatal';
const order: Record<Level, number> = { debug: 0, info: 1, warning: 2, error: 3, fatal: 4 };

export interface LoggerOptions {
  /** File to append to; undefined logs to stderr. */
  file?: string;
  format?: 'text' | 'json';
  level?: Level;
}

export class Logger {
  private readonly file?: string;
  private readonly format: 'text' | 'json';
  private readonly min: number;

  constructor(opts: LoggerOptions = {}) {
    this.file = opts.file;
    this.format = opts.format ?? 'text';
    this.min = order[opts.level ?? 'info'];
  }

  log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
    if (order[level] < this.min) return;
    const time = new Date().toISOString();
    let line: string;
    if (this.format === 'json') {
      line = JSON.stringify({ level, msg, ...fields, time }) + '\n';
    } else {
      const extra = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v)}`)
        .join(' ');
      line = `time="${time}" level=${level} msg=${JSON.stringify(msg)}${extra ? ' ' + extra : ''}\n`;
    }
    try {
      if (this.file) appendFileSync(this.file, line);
      else writeSync(2, line);
    } catch {
      // A log that cannot be written must never turn into a second failure.
    }
  }

  debug(msg: string, f?: Record<string, unknown>): void {
    this.log('debug', msg, f);
  }
  info(msg: string, f?: Record<string, unknown>): void {
    this.log('info', msg, f);
  }
  warn(msg: string, f?: Record<string, unknown>): void {
    this.log('warning', msg, f);
  }
  error(msg: string, f?: Record<string, unknown>): void {
    this.log('error', msg, f);
  }
}

export const nullLogger = new Logger({ level: 'fatal' });
