import { MAX_PIN } from "../auth/owner-pin.js";
import { UsageError } from "../errors.js";

/**
 * One field of what a client sends, as data: how to read it (and refuse it), how to write it, and
 * what the spec says of it. Every surface reads its input through these, so one kind of value is
 * checked one way, with one limit and one message, wherever it arrives.
 */
export interface Schema<T> {
  /** The value as the API takes it, or a UsageError naming the field. */
  read(value: unknown, name: string): T;
  /** The value as it travels (bytes as hex); the inverse of `read` for values `read` gives. */
  write(value: T): unknown;
  /** What the value must be, for the spec. */
  readonly spec: string;
  /** The field may be left out (`read` then gives undefined). */
  readonly optional: boolean;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A refusal's message, from the field's name and what was sent in it. */
export type Message = (name: string, value: unknown) => string;

function schema<T>(
  spec: string,
  read: (value: unknown, name: string) => T,
  write: (value: T) => unknown = (value) => value,
): Schema<T> {
  return { spec, read, write, optional: false };
}

function refuse(message: Message, name: string, value: unknown): never {
  throw new UsageError(message(name, value));
}

export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return {
    spec: `${inner.spec} (optional)`,
    read: (value, name) => (value === undefined ? undefined : inner.read(value, name)),
    write: (value) => (value === undefined ? undefined : inner.write(value)),
    optional: true,
  };
}

/** A further condition on what `inner` accepts, with its own message. */
export function refine<T>(inner: Schema<T>, ok: (value: T) => boolean, message: Message): Schema<T> {
  return {
    ...inner,
    read: (value, name) => {
      const read = inner.read(value, name);
      if (!ok(read)) refuse(message, name, value);
      return read;
    },
  };
}

/** A string of at most `max` UTF-16 units, matching `pattern` when given. */
export function text(options: { max: number; pattern?: RegExp; message?: Message }): Schema<string> {
  const { max, pattern } = options;
  const message = options.message ?? ((name) => `'${name}' must be a string of at most ${max} characters`);
  return schema(`string, at most ${max} characters${pattern ? `, ${pattern.source}` : ""}`, (value, name) => {
    if (typeof value === "string" && value.length <= max && (!pattern || pattern.test(value))) return value;
    return refuse(message, name, value);
  });
}

/** One of a few names ("init", "reset", "erase"). */
export function oneOf<const T extends string>(values: readonly T[]): Schema<T> {
  return schema(values.join(" | "), (value, name) => {
    if (values.includes(value as T)) return value as T;
    return refuse((n) => `'${n}' must be one of ${values.join(", ")}`, name, value);
  });
}

/** Exactly `expected` (a protocol version, a constant answer field). */
export function literal<const T extends string | number | boolean>(
  expected: T,
  message?: Message,
): Schema<T> {
  return schema(JSON.stringify(expected), (value, name) => {
    if (value === expected) return expected;
    return refuse(message ?? ((n) => `'${n}' must be ${JSON.stringify(expected)}`), name, value);
  });
}

export const flag: Schema<boolean> = schema("true | false", (value, name) => {
  if (typeof value === "boolean") return value;
  return refuse((n) => `'${n}' must be true or false`, name, value);
});

/** A JSON number that is a whole number from `min` to `max` (at most 2^53 - 1). */
export function whole(options: { min?: number; max?: number; message?: Message } = {}): Schema<number> {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = options;
  const message = options.message ?? ((name) => `'${name}' must be a whole number`);
  return schema(`whole number, ${min} to ${max}`, (value, name) => {
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max)
      return value;
    return refuse(message, name, value);
  });
}

/** Hex text (either case) of exactly `bytes` bytes, kept as text. */
export function hex(bytes: number, message?: Message): Schema<string> {
  const pattern = new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`);
  return text({
    max: bytes * 2,
    pattern,
    message: message ?? ((name) => `'${name}' must be ${bytes} bytes in hex`),
  });
}

/**
 * Bytes sent as hex (either case): exactly `length` of them, or 1 to `max`. The API gets them
 * decoded; the caller that decoded them wipes them after use.
 */
export function bytes(size: { length: number } | { max: number }, message?: Message): Schema<Uint8Array> {
  const [min, max] = "length" in size ? [size.length, size.length] : [1, size.max];
  const said =
    message ?? ((name) => `'${name}' must be ${min === max ? `${min} bytes` : `1 to ${max} bytes`} in hex`);
  return schema(
    `bytes in hex, ${min === max ? min : `1 to ${max}`}`,
    (value, name) => {
      if (
        typeof value === "string" &&
        value.length >= min * 2 &&
        value.length <= max * 2 &&
        /^(?:[0-9a-fA-F]{2})+$/.test(value)
      )
        return new Uint8Array(Buffer.from(value, "hex"));
      return refuse(said, name, value);
    },
    (value) => Buffer.from(value.buffer, value.byteOffset, value.length).toString("hex"),
  );
}

/** A list of `item`s, `min` to `max` long; `message` for anything that is not one. */
export function list<T>(
  item: Schema<T>,
  options: { min?: number; max: number; message: Message },
): Schema<T[]> {
  const { min = 0, max, message } = options;
  return schema(
    `list of ${min} to ${max}: ${item.spec}`,
    (value, name) => {
      if (!Array.isArray(value) || value.length < min || value.length > max)
        return refuse(message, name, value);
      try {
        return value.map((entry) => item.read(entry, name));
      } catch {
        return refuse(message, name, value);
      }
    },
    (value) => value.map((entry) => item.write(entry)),
  );
}

/**
 * A check of the element's own (signingAlgorithm, certificateDays) as a field. With `optional`,
 * `read` is also given an absent field (undefined), and gives its default.
 */
export function custom<T>(
  spec: string,
  read: (value: unknown, name: string) => T,
  options: { optional?: boolean } = {},
): Schema<T> {
  return { ...schema(spec, read), optional: options.optional ?? false };
}

/**
 * A PIN as a client sends it: a string of at most MAX_PIN characters (code points, as the owner
 * gate counts them). Whether it is right, or good enough as a new PIN, the element decides.
 */
export const pin: Schema<string> = schema(`string, at most ${MAX_PIN} characters`, (value, name) => {
  if (typeof value === "string" && value !== "" && [...value].length <= MAX_PIN) return value;
  return refuse((n) => `'${n}' must be a PIN: a string of 1 to ${MAX_PIN} characters`, name, value);
});

export type Fields = Readonly<Record<string, Schema<unknown>>>;

export type Read<F extends Fields> = { -readonly [K in keyof F]: Infer<F[K]> };

/**
 * A message's fields read from `body`, in the order they are declared. With `strict`, a field not
 * declared is refused; otherwise it is left alone (an answer may carry more than this side reads).
 * `what` names the message in a refusal: "bad command: 'counter' must be a whole number".
 */
export function readFields<F extends Fields>(
  fields: F,
  body: Readonly<Record<string, unknown>>,
  options: { strict?: boolean; what?: string } = {},
): Read<F> {
  try {
    if (options.strict) {
      const unknown = Object.keys(body).find((key) => !Object.hasOwn(fields, key));
      if (unknown !== undefined) throw new UsageError(`unknown field '${shorten(unknown, 64)}'`);
    }
    const out: Record<string, unknown> = {};
    // for...in, not Object.entries: every message of the binding protocol is read here, and the
    // entries would be a fresh array of pairs each time.
    for (const name in fields) {
      const field = fields[name] as Schema<unknown>;
      const value = field.read(Object.hasOwn(body, name) ? body[name] : undefined, name);
      if (value !== undefined) out[name] = value;
    }
    return out as Read<F>;
  } catch (error) {
    if (options.what && error instanceof UsageError) {
      throw new UsageError(`bad ${options.what}: ${error.message}`, error.code);
    }
    throw error;
  }
}

/** Echoed input stays short. */
export function shorten(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length)}...`;
}
