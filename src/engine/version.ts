// The engine's version, as `ctr version` shows it for the server.
export const ENGINE_VERSION = '0.1.0';
/** The containerd API generation served (ctr 1.6 talks to it unchanged). */
export const ENGINE_REVISION = 'berth';
