import { StorageError } from "../errors.js";
import { decodeResponseCode, describeResponseCode } from "./response-code.js";

/**
 * The TPM answered a command with an error code. It is a storage failure for the CLI's exit code
 * (the TPM is the storage area); callers that know better (the entropy source) rewrap it.
 */
export class TpmResponseError extends StorageError {
  /** The code's name without its handle or parameter number: "TPM_RC_HANDLE". */
  readonly rc: string;

  constructor(
    readonly command: string,
    readonly responseCode: number,
    handles: readonly number[] = [],
  ) {
    super(`${command} failed: ${describeResponseCode(responseCode, handles)}`, "tpm-error");
    this.rc = decodeResponseCode(responseCode).name;
  }
}

/** The TPM could not be reached, stopped answering, or answered with bytes that are not a response. */
export class TpmTransportError extends StorageError {
  constructor(message: string, code = "tpm-unreachable") {
    super(message, code);
  }
}

/**
 * An answer on a session whose HMAC does not check out (or that carries none where one belongs):
 * changed on its way from the TPM, or not the TPM's at all. The connection is not used again.
 */
export class TpmIntegrityError extends StorageError {
  constructor(message: string) {
    super(message, "tpm-integrity");
  }
}
