import { describeIdentifierStore } from "./conformance.js";
import { pkcs11StoreBackend, sealedPkcs11StoreBackend } from "./pkcs11-fixture.js";

describeIdentifierStore(pkcs11StoreBackend);
describeIdentifierStore(sealedPkcs11StoreBackend);
