// The client version berth reports (its own; the server part is the daemon's).
export const BERTH_CLIENT_VERSION = '0.1.0-berth';
