import type { Actor } from "../auth/actor.js";
import { type ProofRefusal, proofRefused } from "../auth/proofs.js";
import { AuthError } from "../errors.js";
import type { Operate } from "./owner-gate.js";

/**
 * What a surface with sessions (the owner's page) asks of the owner gate beyond the operations
 * themselves: a sign-in, its proof checked and counted and the sign-in recorded like an operation;
 * and the refusal of an operation whose fresh proof the surface found missing or made for another
 * operation, recorded under that operation's name (docs/spec.md §8.3).
 */
export class OwnerProofs {
  constructor(
    private readonly operate: Operate,
    /** Whether an owner PIN is set: without one there is no owner to sign in as. */
    private readonly hasOwner: () => boolean,
  ) {}

  signIn(actor: Actor): Promise<{ principal: string }> {
    return this.operate("web-sign-in", actor, async () => {
      if (!this.hasOwner()) {
        throw new AuthError(
          "no-pin",
          "no owner PIN is set, so there is no owner to sign in as: run 'reid pin set'",
        );
      }
      return { principal: actor.principal };
    });
  }

  /** Always rejects, with the refusal it records. */
  refuse(name: string, reason: ProofRefusal, actor: Actor): Promise<never> {
    // The gate is not asked: there is no proof to check, only a refusal to record.
    const refused: Actor = { principal: actor.principal, preauthorized: true };
    return this.operate(name, refused, () => Promise.reject(proofRefused(reason)));
  }
}
