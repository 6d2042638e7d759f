import { randomBytes } from "node:crypto";
import { certificationRequest } from "../../src/derive/certificate.js";
import { type DerivedKeys, deriveAll } from "../../src/derive/derivation.js";
import type { SigningAlgorithm } from "../../src/derive/signature.js";
import {
  publicKeysOf,
  type Statement,
  type SuccessionStatement,
  signStatement,
} from "../../src/derive/succession-statement.js";

/**
 * Identities and their statements made by hand (docs/spec.md §10.9), for tests that speak to a
 * registry's succession and retirement endpoints as an element would.
 */

/** A new identity: the keys derived from 32 random bytes. */
export const newIdentity = (): DerivedKeys => deriveAll(new Uint8Array(randomBytes(32)));

/** The base64 DER of a PEM's body: what an EST body and a succession's `csr` carry. */
export const derDataOf = (pem: string): string => pem.replace(/-----[^-]+-----|\s/g, "");

/** A PKCS#10 request of `keys`' key of `algorithm`, as base64 DER. */
export async function csrOf(keys: DerivedKeys, algorithm: SigningAlgorithm): Promise<string> {
  return derDataOf(await certificationRequest(keys, { algorithm }));
}

/** `from` names `to` its successor at the registry of `origin`; `change` alters any member. */
export function successionStatement(
  origin: string,
  from: DerivedKeys,
  to: DerivedKeys,
  change: Partial<SuccessionStatement> = {},
): SuccessionStatement {
  return {
    v: 1,
    type: "succession",
    registry: origin,
    predecessor: from.handle,
    handle: to.handle,
    publicKeys: publicKeysOf(to),
    generation: 2,
    at: new Date().toISOString(),
    ...change,
  };
}

/** A succession body: signed by `signer`, countersigned by `countersigner`, with `csr`'s request. */
export async function successionBody(
  statement: Statement,
  algorithm: SigningAlgorithm,
  keys: { signer: DerivedKeys; countersigner: DerivedKeys; csr: DerivedKeys },
): Promise<string> {
  const signed = signStatement(statement, algorithm, keys.signer, keys.countersigner);
  return JSON.stringify({ ...signed, csr: await csrOf(keys.csr, algorithm) });
}
