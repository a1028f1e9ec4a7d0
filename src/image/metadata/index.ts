export { openMetadata } from './db.js';
export type { Metadata, Db, MigrationStep } from './db.js';
