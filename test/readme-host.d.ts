// What the README's TypeScript examples assume the host application already has:
// its own signaling, its own request context and its own UI. Declared here with
// plain types so the examples type-check against the real packages
// (test/readme-examples.test.ts) without pretending to implement a host.
declare const roomId: string;
declare const peerId: string;
declare const method: string;
declare const data: unknown;
declare function sendToPeer(peerId: string, name: string, data: unknown): void;
declare function reply(message: unknown): void;
declare function pushToStudents(roomId: string, entries: unknown[]): void;
declare const mySignaling: {
  request(method: string, data: unknown): Promise<unknown>;
  onNotification: (name: string, data: unknown) => void;
};
declare function show(peerId: string, source: string, track: MediaStreamTrack): void;
declare function badge(state: string, reason?: string): void;
declare const cameraTrack: MediaStreamTrack;
declare function renderCaptions(lines: { text: string; final: boolean }[]): void;
