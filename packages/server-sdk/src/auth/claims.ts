import { z } from 'zod';
import { idSchema, peerGrantsSchema, peerRoleSchema } from '@lectern/protocol/schemas';

/** The JWT claim that holds Lectern's grant (the registered claims carry identity and lifetime). */
export const GRANT_CLAIM = 'lectern';

/**
 * What an access token grants in one room: the room, the role, and any of the
 * {@link PeerGrants} (unstated ones take the role's defaults when verified).
 */
export const roomGrantSchema = peerGrantsSchema.extend({
  /** The room this token admits to. */
  room: idSchema,
  /** Default `student`. */
  role: peerRoleSchema.optional(),
});

/** The grant part of an access token (see {@link AccessToken.addGrant}). */
export type RoomGrant = z.input<typeof roomGrantSchema>;

/** The claims a verified token must carry besides the signature's. */
export const tokenClaimsSchema = z.object({
  sub: idSchema,
  name: z.string().max(128).optional(),
  jti: z.string().max(128).optional(),
  iat: z.number().optional(),
  exp: z.number(),
  [GRANT_CLAIM]: roomGrantSchema,
});
