import { MarshalError, type TpmReader, type TpmWriter } from "./buffer.js";

/**
 * One TPM data type's wire form. Structures are built from these declaratively, and a single
 * engine walks them in both directions, so a type is described once, never marshaled by hand.
 */
export interface Codec<T> {
  readonly name: string;
  /** A TPM2B: a 16-bit size, then the bytes. Only such a first parameter can a session encrypt. */
  readonly sized?: true;
  write(writer: TpmWriter, value: T): void;
  read(reader: TpmReader): T;
}

export type ValueOf<C> = C extends Codec<infer T> ? T : never;

// biome-ignore lint/suspicious/noExplicitAny: a field map holds codecs of any value type
type Fields = Readonly<Record<string, Codec<any>>>;
export type StructOf<F extends Fields> = { [K in keyof F]: ValueOf<F[K]> };

function integer(name: string, size: 1 | 2 | 4): Codec<number> {
  return {
    name,
    write: (w, v) => (size === 1 ? w.u8(v) : size === 2 ? w.u16(v) : w.u32(v)),
    read: (r) => (size === 1 ? r.u8(name) : size === 2 ? r.u16(name) : r.u32(name)),
  };
}

export const u8 = integer("UINT8", 1);
export const u16 = integer("UINT16", 2);
export const u32 = integer("UINT32", 4);
export const u64: Codec<bigint> = { name: "UINT64", write: (w, v) => w.u64(v), read: (r) => r.u64("UINT64") };

/** A TPM2B of bytes: a 16-bit size, then that many bytes (at most `max`, the type's buffer size). */
export function sizedBytes(name: string, max = 0xffff): Codec<Uint8Array> {
  return {
    name,
    sized: true,
    write(w, value) {
      if (value.length > max) throw new RangeError(`${name} holds at most ${max} bytes, not ${value.length}`);
      w.u16(value.length);
      w.raw(value);
    },
    read(r) {
      const size = r.u16(`${name}.size`);
      if (size > max) throw new MarshalError(`${name} of ${size} bytes exceeds its ${max}-byte buffer`);
      return r.raw(size, name);
    },
  };
}

/** A TPM2B around a structure (TPM2B_PUBLIC, TPM2B_NV_PUBLIC): the size covers exactly the structure. */
export function sized<T>(name: string, inner: Codec<T>): Codec<T> {
  return {
    name,
    sized: true,
    write(w, value) {
      const at = w.length;
      w.u16(0);
      inner.write(w, value);
      w.patchU16(at, w.length - at - 2);
    },
    read(r) {
      const size = r.u16(`${name}.size`);
      const body = r.sub(size, name);
      const value = inner.read(body);
      body.end(name);
      return value;
    },
  };
}

/** Fields in declaration order, as the TPM's structure tables list them. */
export function struct<F extends Fields>(name: string, fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields);
  return {
    name,
    write(w, value) {
      for (const [key, codec] of entries) codec.write(w, (value as Record<string, unknown>)[key]);
    },
    read(r) {
      const value: Record<string, unknown> = {};
      for (const [key, codec] of entries) value[key] = codec.read(r);
      return value as StructOf<F>;
    },
  };
}

/** A TPML: a 32-bit count, then that many items; `max` guards against absurd counts in responses. */
export function list<T>(name: string, item: Codec<T>, max = 1024): Codec<T[]> {
  return {
    name,
    write(w, values) {
      w.u32(values.length);
      for (const value of values) item.write(w, value);
    },
    read(r) {
      const count = r.u32(`${name}.count`);
      if (count > max) throw new MarshalError(`${name} claims ${count} entries (at most ${max})`);
      const values: T[] = [];
      for (let i = 0; i < count; i++) values.push(item.read(r));
      return values;
    },
  };
}

/** A byte array whose length a sibling field gives, as TPMS_PCR_SELECTION's sizeofSelect does. */
export function u8Bytes(name: string, max: number): Codec<Uint8Array> {
  return {
    name,
    write(w, value) {
      if (value.length > max) throw new RangeError(`${name} holds at most ${max} bytes`);
      w.u8(value.length);
      w.raw(value);
    },
    read(r) {
      const size = r.u8(`${name}.size`);
      if (size > max) throw new MarshalError(`${name} of ${size} bytes exceeds ${max}`);
      return r.raw(size, name);
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: variants hold structures of any shape
type Variants = Readonly<Record<number, Codec<any>>>;
export type TaggedOf<K extends string, V extends Variants> = {
  [T in keyof V & number]: { readonly [P in K]: T } & ValueOf<V[T]>;
}[keyof V & number];

/**
 * A selector followed by the union member it selects (TPMT_PUBLIC, TPMT_SIGNATURE, the scheme
 * types): the value is one object whose `key` field is the selector. A selector the table does not
 * know is refused in both directions; TPM_ALG_NULL members are simply empty structures.
 */
export function tagged<K extends string, V extends Variants>(
  name: string,
  key: K,
  selector: Codec<number>,
  variants: V,
): Codec<TaggedOf<K, V>> {
  const member = (tag: number): Codec<unknown> => {
    const codec = variants[tag];
    if (!codec) throw new MarshalError(`${name} has no member for selector 0x${tag.toString(16)}`);
    return codec;
  };
  return {
    name,
    write(w, value) {
      const tag = (value as Record<string, number>)[key] as number;
      const codec = member(tag);
      selector.write(w, tag);
      codec.write(w, value);
    },
    read(r) {
      const tag = selector.read(r);
      const body = member(tag).read(r) as object;
      return { [key]: tag, ...body } as TaggedOf<K, V>;
    },
  };
}

export const empty = struct("empty", {});
