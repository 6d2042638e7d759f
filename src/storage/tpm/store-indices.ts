import type { StoreIndex } from "../../tpm/info.js";
import { parseTpmSpec, type TpmSpec } from "../../tpm/spec.js";
import { readCounterBase } from "../counter-base.js";
import { AREA_SIZE } from "../record.js";
import { readStoreFile } from "../store-file.js";
import { LEGACY_NV_ATTRIBUTES, REID_NV_ATTRIBUTES } from "./nv-area.js";
import { REID_COUNTER_ATTRIBUTES } from "./nv-counter.js";

/**
 * The indices a TPM store at `spec` uses, for `reid tpm info`: its two areas, and its counter and
 * audit key as its store.json records them (nv-places.ts), when the store directory is this
 * store's. A store of the version before this one, which recorded nothing, has them at I + 2 and
 * I + 3 (the counter only once rollback.json is there); they are shown so, marked as the next write
 * open will record them. Nothing here reads an index's contents.
 */
export function storeIndices(directory: string, spec: TpmSpec): StoreIndex[] {
  const area = {
    size: AREA_SIZE,
    attributes: [REID_NV_ATTRIBUTES, LEGACY_NV_ATTRIBUTES],
    written: "holds a record",
  };
  const counter = { role: "counter", size: 8, attributes: [REID_COUNTER_ATTRIBUTES], written: "counted" };
  const key = {
    role: "audit key",
    size: AREA_SIZE,
    attributes: [REID_NV_ATTRIBUTES],
    written: "holds a key",
  };
  const indices: StoreIndex[] = [
    { index: spec.nvIndex, role: "area 0", ...area },
    { index: spec.nvIndex + 1, role: "area 1", ...area },
  ];
  const file = ownFile(directory, spec);
  if (file?.nv) {
    if (file.nv.counter !== null) indices.push({ index: file.nv.counter, ...counter });
    if (file.nv.auditKey !== null) indices.push({ index: file.nv.auditKey, ...key });
  } else if (file) {
    const unrecorded = " (the version before's place, recorded at the next write)";
    if (readCounterBase(directory) !== null)
      indices.push({ index: spec.nvIndex + 2, ...counter, role: `counter${unrecorded}` });
    indices.push({ index: spec.nvIndex + 3, ...key, role: `audit key if one was made${unrecorded}` });
  }
  return indices;
}

/** The store directory's store.json, when it is the store of this TPM index. */
function ownFile(directory: string, spec: TpmSpec) {
  try {
    const file = readStoreFile(directory);
    if (file?.backend !== "tpm" || file.legacy || parseTpmSpec(file.spec).nvIndex !== spec.nvIndex)
      return null;
    return file;
  } catch {
    // A store.json that cannot be read says nothing here; the store's own commands report it.
    return null;
  }
}
