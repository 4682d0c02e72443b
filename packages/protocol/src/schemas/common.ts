import { z } from 'zod';
import type { PeerGrants } from '../grants.js';
import { gestureNames, gesturePhases, mediaSources, peerRoles } from '../model.js';

// Sizes are bounded everywhere (strings, arrays, appData) so a hostile payload
// cannot make the server allocate or echo unbounded data.

/** mediasoup ids (UUIDs) and host-chosen room/peer ids. */
export const idSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_.:-]');

/** Free-form data the host or client attaches; JSON, at most 4 KiB. */
export const appDataSchema = z
  .record(z.string().max(64), z.unknown())
  .refine((v) => JSON.stringify(v).length <= 4096, 'appData must serialise to at most 4096 bytes');

export const peerRoleSchema = z.enum(peerRoles);
export const mediaSourceSchema = z.enum(mediaSources);
export const gestureNameSchema = z.enum(gestureNames);
export const gesturePhaseSchema = z.enum(gesturePhases);
export const mediaKindSchema = z.enum(['audio', 'video']);

/** A partial {@link PeerGrants} (what a token or a host context may state; the rest comes from defaults). */
export const peerGrantsSchema = z
  .object({
    canPublish: z.array(mediaSourceSchema).max(mediaSources.length),
    canSubscribe: z.boolean(),
    canRaiseHand: z.boolean(),
    roomAdmin: z.boolean(),
    plainTransport: z.boolean(),
  })
  .partial()
  .strict();
// Compile-time: the schema names exactly the grants of PeerGrants, with their types.
const grantsMatch: [Required<z.output<typeof peerGrantsSchema>>, PeerGrants] extends [PeerGrants, Required<z.output<typeof peerGrantsSchema>>] ? true : never = true;
void grantsMatch;
