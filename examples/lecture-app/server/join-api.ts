// `GET /api/join?room=&name=&role=[&peer=]`: the example's stand-in for the LMS.
// A real LMS decides who may join which room, as whom and with what role from
// its own session (the course's enrolment, the teacher of the course…) and
// mints the access token server-side; this demo takes the role from the form,
// which is exactly what a real host must NOT do. The page then opens
// `/ws?token=…` and the signaling derives everything from the verified token.
import type * as http from 'node:http';
import { randomUUID } from 'node:crypto';
import { AccessToken, type PeerRole, type RoomGrant } from '@lectern/server-sdk';

/** The audience the app's tokens are minted for and verified against. */
export const TOKEN_AUDIENCE = 'lectern-lecture-app';

/** The reply of `/api/join`. */
export interface JoinReply {
  token: string;
  roomId: string;
  peerId: string;
  role: PeerRole;
  name: string;
  /** ISO time the token stops being accepted (join before then; the session outlives it). */
  expiresAt: string;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The grants the demo "LMS" gives each role: students send their microphone only. */
function grantFor(roomId: string, role: PeerRole): RoomGrant {
  return role === 'lecturer'
    ? { room: roomId, role, roomAdmin: true, canPublish: ['microphone', 'camera', 'screen', 'screen-audio'] }
    : { room: roomId, role, roomAdmin: false, canPublish: ['microphone'] };
}

/**
 * Mints the access token for someone the app has decided about (the demo form
 * here, an LTI launch in lti/): the one place the app's tokens and grants come from.
 */
export async function mintJoin(secret: string, ttlSeconds: number, who: { roomId: string; peerId: string; role: PeerRole; name: string }): Promise<JoinReply> {
  const { roomId, peerId, role, name } = who;
  const token = await new AccessToken(secret, { identity: peerId, name, ttl: ttlSeconds, audience: TOKEN_AUDIENCE }).addGrant(grantFor(roomId, role)).toJwt();
  return { token, roomId, peerId, role, name, expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString() };
}

/**
 * Answers `/api/join` when the app serves no demo join (`demoJoin: false`, e.g.
 * an LTI deployment, where the LMS decides who joins as what): 404, as for a
 * route that does not exist, with a message the page shows to the user.
 */
export function refuseJoin(res: http.ServerResponse): void {
  const message = 'Joining from this page is turned off here: open the lecture from your course in your learning platform (LMS).';
  res.writeHead(404, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message } }));
}

/** Answers `/api/join` (GET; the query is the demo form's fields). */
export async function serveJoin(url: URL, res: http.ServerResponse, secret: string, ttlSeconds: number): Promise<void> {
  const roomId = url.searchParams.get('room') ?? '';
  const name = (url.searchParams.get('name') ?? '').trim();
  const role = url.searchParams.get('role');
  const peerId = url.searchParams.get('peer') ?? `${role}-${randomUUID().slice(0, 8)}`;
  if (!ID.test(roomId) || !ID.test(peerId) || (role !== 'lecturer' && role !== 'student') || name.length === 0 || name.length > 128) {
    const message = 'room and peer (1-64 of A-Z a-z 0-9 _ -), name (1-128 characters) and role (lecturer|student) are required';
    res.writeHead(400, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify({ error: { code: 'INVALID_REQUEST', message } }));
    return;
  }
  const reply = await mintJoin(secret, ttlSeconds, { roomId, peerId, role, name });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(reply));
}
