// What an LTI 1.3 launch says, turned into what Lectern needs: a role, a room
// id, a peer id and a display name. Pure functions (lti-mapping.test.ts).
import { createHash } from 'node:crypto';
import type { PeerRole } from '@lectern/protocol';

export const LTI = {
  messageType: 'https://purl.imsglobal.org/spec/lti/claim/message_type',
  version: 'https://purl.imsglobal.org/spec/lti/claim/version',
  deploymentId: 'https://purl.imsglobal.org/spec/lti/claim/deployment_id',
  targetLinkUri: 'https://purl.imsglobal.org/spec/lti/claim/target_link_uri',
  resourceLink: 'https://purl.imsglobal.org/spec/lti/claim/resource_link',
  roles: 'https://purl.imsglobal.org/spec/lti/claim/roles',
  context: 'https://purl.imsglobal.org/spec/lti/claim/context',
} as const;

const MEMBERSHIP = 'http://purl.imsglobal.org/vocab/lis/v2/membership';
const INSTITUTION = 'http://purl.imsglobal.org/vocab/lis/v2/institution/person';
const SYSTEM = 'http://purl.imsglobal.org/vocab/lis/v2/system/person';

/** Context (course) roles that run the lecture: teachers, their assistants, course admins and designers. */
const LECTURER_CONTEXT_ROLES = new Set(['Instructor', 'Administrator', 'ContentDeveloper', 'Manager', 'TeachingAssistant']);

/**
 * The context role a role URI names: `membership#Instructor` → `Instructor`,
 * the sub-role `membership/Instructor#TeachingAssistant` → `TeachingAssistant`
 * (a sub-role of Instructor), and LTI 1.1's short names (`Instructor`), which
 * some platforms still send and the LTI 1.3 spec reads as context roles.
 */
function contextRole(role: string): string | undefined {
  if (role.startsWith(`${MEMBERSHIP}#`)) return role.slice(MEMBERSHIP.length + 1);
  if (role.startsWith(`${MEMBERSHIP}/`)) {
    const [principal, sub] = role.slice(MEMBERSHIP.length + 1).split('#');
    // A sub-role of Instructor is a lecturer role whatever its name; other sub-roles keep their own.
    return principal === 'Instructor' ? 'TeachingAssistant' : sub;
  }
  return /^[A-Za-z]+$/.test(role) ? role : undefined;
}

/**
 * The Lectern role for a launch's roles. The course (context) roles decide
 * when there are any: Instructor, Administrator, ContentDeveloper, Manager and
 * Instructor's sub-roles (TeachingAssistant…) lecture; Learner, Mentor and
 * anything else listen. Without a course role, only a system or institution
 * Administrator lectures (they moderate); Faculty, Staff and unknown roles are
 * students: a teacher of another course is not this course's lecturer.
 */
export function lecternRole(roles: readonly string[]): PeerRole {
  const context = roles.map(contextRole).filter((r): r is string => r !== undefined);
  if (context.length > 0) return context.some((r) => LECTURER_CONTEXT_ROLES.has(r)) ? 'lecturer' : 'student';
  const admin = roles.some((r) => r === `${INSTITUTION}#Administrator` || r === `${SYSTEM}#Administrator` || r === `${SYSTEM}#SysAdmin`);
  return admin ? 'lecturer' : 'student';
}

/** 22 base64url characters (132 bits) of SHA-256 over the parts, unambiguously joined. */
function digest(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 22);
}

/**
 * The room of a launch: always a hash (`lti-` + 22 characters, inside
 * `[A-Za-z0-9_-]{1,64}` whatever the LMS's ids look like) of the issuer, the
 * deployment and the course, plus the resource link for per-link rooms. The
 * issuer and deployment are in it because a context id is unique only within
 * them (two schools on one hosted LMS can both have course "101"). A launch
 * without a context (LTI allows it) gets its resource link's room.
 */
export function roomIdFor(launch: { issuer: string; deploymentId: string; contextId: string | undefined; resourceLinkId: string }, per: 'context' | 'resource-link'): string {
  const parts = launch.contextId === undefined ? ['link', launch.resourceLinkId]
    : per === 'context' ? ['context', launch.contextId] : ['context+link', launch.contextId, launch.resourceLinkId];
  return `lti-${digest([launch.issuer, launch.deploymentId, ...parts])}`;
}

/**
 * The peer id of a platform user: `sub` is unique only per issuer, so the id
 * hashes both. Stable across launches, so a ban (which follows the identity)
 * holds when the student launches again.
 */
export function peerIdFor(issuer: string, sub: string): string {
  return `lti-${digest([issuer, sub])}`;
}

/** The name other peers see: `name`, else given + family name, else a neutral one; no control characters, at most 128 code points. */
export function displayNameFor(claims: { name?: unknown; given_name?: unknown; family_name?: unknown }): string {
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const raw = text(claims.name).trim() || `${text(claims.given_name)} ${text(claims.family_name)}`.trim() || 'Participant';
  const clean = raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').replace(/\s+/g, ' ').trim();
  return [...clean].slice(0, 128).join('') || 'Participant';
}
