// Reusable browser-test harness for the client SDK (and the example apps' tests).
export { startHarness, bundle, type Harness, type HarnessOptions, type HarnessManager } from './server.js';
export { openPeerPage, closeAll, type PeerPage } from './pages.js';
export type { LecternTestApi, LoggedEvent, PageClientOptions } from './browser-entry.js';
