// fast-check arbitraries for the fuzzer: values that follow a JSON Schema (types, enums, lengths, patterns, formats,
// as the API and gateway descriptions state them) and values meant to break a parser or a database.
import fc from "fast-check";

export type JsonSchema = Record<string, any>;

/**
 * A value to be replaced by a live one when the request is sent: `kind` names a pool of the fuzzer's world (server
 * ids, usernames, ...), `n` picks from it. Generated values stay small and shrinkable; the world may change under them.
 */
export class Ref {
  constructor(
    readonly kind: string,
    readonly n: number,
  ) {}
  toJSON() {
    return `<${this.kind}#${this.n}>`;
  }
}

export const ref = (kind: string) => fc.nat({ max: 15 }).map((n) => new Ref(kind, n));

/** Text from every corner of Unicode, ASCII and the raw code-unit range (lone surrogates included). */
export const anyText = (maxLength = 40) =>
  fc.oneof(
    { arbitrary: fc.string({ maxLength }), weight: 3 },
    { arbitrary: fc.string({ unit: "grapheme", maxLength }), weight: 2 },
    { arbitrary: fc.string({ unit: "binary", maxLength }), weight: 1 },
    { arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength }), weight: 1 },
  );

/** Strings that have broken parsers, databases and renderers before. */
export const nastyStrings = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udfffy",
  "\ud83d",
  "\u202eevil\u202c",
  "\u2066\u2067\u2068\u2069",
  "\u200b\u200c\u200d\ufeff",
  "\u00ad",
  "\u3164",
  "\r\n\t",
  "%",
  "%zz",
  "%E0%A4%A",
  "%00",
  "../../etc/passwd",
  "' OR 1=1 --",
  "'; drop table agents; --",
  '"',
  "\\",
  "\\u0000",
  "${{7*7}}",
  "<script>alert(1)</script>",
  "null",
  "undefined",
  "NaN",
  "-1",
  "0",
  "1e309",
  "9".repeat(40),
  "@me",
  "me",
  "admin",
  "😀",
  "👩‍💻",
  "🏳️‍🌈",
  "e\u0301",
  "Ω≈ç√∫",
  "田中さん",
  "שלום",
  "00000000-0000-0000-0000-000000000000",
  "ffffffff-ffff-ffff-ffff-ffffffffffff",
  "FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF",
  "{00000000-0000-0000-0000-000000000000}",
  "00000000000000000000000000000000",
];

export const nastyString = fc.oneof(
  { arbitrary: fc.constantFrom(...nastyStrings), weight: 4 },
  { arbitrary: anyText(), weight: 3 },
  // Long ones: right at the usual limits and well past them.
  {
    arbitrary: fc
      .tuple(fc.constantFrom("a", "é", "😀", "\u0000", "\u202e", " "), fc.constantFrom(31, 33, 65, 101, 257, 2049, 4001, 8001, 20_000))
      .map(([c, n]) => c.repeat(n)),
    weight: 1,
  },
);

/** Arrays or objects nested `depth` deep (a parser's or a validator's recursion). */
export const deepNesting = fc
  .tuple(fc.constantFrom(8, 33, 100, 1000, 10_000, 30_000), fc.boolean())
  .map(([depth, objects]) => (objects ? '{"a":'.repeat(depth) + "1" + "}".repeat(depth) : "[".repeat(depth) + "]".repeat(depth)));

/** Any JSON value at all, strings included that are hard to store. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 3 },
  { arbitrary: nastyString, weight: 2 },
  { arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, -0, 1e308, Number.MAX_SAFE_INTEGER + 2, [], {}), weight: 1 },
);

/** Where the fuzzer has real values for a field (a username that exists, an id of a message), it mixes them in. */
export type Hint = (name: string | undefined, schema: JsonSchema) => fc.Arbitrary<unknown> | undefined;

type Context = { doc?: JsonSchema; hint?: Hint };

function resolve(schema: JsonSchema, ctx: Context): JsonSchema {
  let s = schema;
  for (let i = 0; s?.$ref && i < 10; i++) {
    const path = String(s.$ref).replace(/^#\//, "").split("/");
    let target: any = ctx.doc;
    for (const p of path) target = target?.[p.replace(/~1/g, "/").replace(/~0/g, "~")];
    if (!target) return {};
    s = target;
  }
  return s;
}

/** A zod pattern as the OpenAPI document prints it may carry its flags after a slash (`^...$/i`). */
function patternOf(s: JsonSchema): RegExp | undefined {
  if (typeof s.pattern !== "string") return undefined;
  const m = /^(.*)\/([imsu]+)$/.exec(s.pattern);
  const [source, flags] = m ? [m[1], m[2]] : [s.pattern, ""];
  try {
    return new RegExp(source, flags.replace("i", ""));
  } catch {
    return undefined;
  }
}

const urls = fc.oneof(
  fc
    .tuple(fc.constantFrom("https", "http"), fc.stringMatching(/^[a-z0-9-]{1,20}$/), fc.webPath())
    .map(([p, host, path]) => `${p}://${host}.example.invalid${path}`),
  fc.constantFrom(
    "https://example.com/a.png",
    "http://127.0.0.1:1/hook",
    "http://[::1]/x",
    "http://169.254.169.254/latest",
    "javascript:alert(1)",
    "data:text/html,x",
    "file:///etc/passwd",
    "ftp://x.invalid/",
  ),
);

function stringFrom(s: JsonSchema): fc.Arbitrary<string> {
  if (s.format === "uuid") return fc.uuid({ version: [4, 7] });
  if (s.format === "email") return fc.emailAddress().filter((e) => e.length <= (s.maxLength ?? 256));
  if (s.format === "uri") return urls;
  if (s.format === "date-time")
    return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4102444800000) }).map((d) => d.toISOString());
  const min = s.minLength ?? 0;
  const max = s.maxLength ?? Math.max(min, 64);
  const pattern = patternOf(s);
  const body = pattern
    ? fc.stringMatching(pattern).filter((v) => v.length >= min && v.length <= max)
    : fc.string({
        unit: fc.oneof(fc.constant("a"), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })),
        minLength: min,
        maxLength: Math.min(max, min + 80),
      });
  // At the limits, and one past them.
  const edges = fc.constantFrom(min, max, max + 1, Math.max(0, min - 1)).map((n) => "x".repeat(n));
  return fc.oneof({ arbitrary: body, weight: 8 }, { arbitrary: edges, weight: 1 });
}

function numberFrom(s: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const lo = typeof s.minimum === "number" && s.minimum > Number.MIN_SAFE_INTEGER ? s.minimum : -1_000_000;
  const hi = typeof s.maximum === "number" && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : 1_000_000;
  const inside = integer ? fc.integer({ min: lo, max: hi }) : fc.double({ min: lo, max: hi, noNaN: true });
  return fc.oneof({ arbitrary: inside, weight: 8 }, { arbitrary: fc.constantFrom(lo, hi, lo - 1, hi + 1), weight: 2 });
}

/**
 * A value shaped like `schema` says: the fuzzer's "valid-ish" input. Mostly valid, sometimes right at or one past a
 * limit (so that both sides of each check run). Optional properties come and go.
 */
export function fromSchema(schema: JsonSchema | undefined, ctx: Context = {}, name?: string, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(schema ?? {}, ctx);
  const hinted = ctx.hint?.(name, s);
  const plain = plainFromSchema(s, ctx, depth);
  return hinted ? fc.oneof({ arbitrary: hinted, weight: 3 }, { arbitrary: plain, weight: 1 }) : plain;
}

function plainFromSchema(s: JsonSchema, ctx: Context, depth: number): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if (s.const !== undefined) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  const union = s.oneOf ?? s.anyOf;
  if (Array.isArray(union) && union.length) return fc.oneof(...union.map((u: JsonSchema) => fromSchema(u, ctx, undefined, depth + 1)));
  const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : s.properties ? ["object"] : [];
  if (types.length === 0) return anyJson;
  return fc.oneof(
    ...types.map((t): fc.Arbitrary<unknown> => {
      switch (t) {
        case "null":
          return fc.constant(null);
        case "boolean":
          return fc.boolean();
        case "integer":
          return numberFrom(s, true);
        case "number":
          return numberFrom(s, false);
        case "string":
          return stringFrom(s);
        case "array": {
          const max = Math.min(s.maxItems ?? 5, 12);
          const items = fc.array(fromSchema(s.items, ctx, undefined, depth + 1), { minLength: s.minItems ?? 0, maxLength: max });
          const tooMany =
            s.maxItems !== undefined
              ? fc.array(fromSchema(s.items, ctx, undefined, depth + 1), { minLength: s.maxItems + 1, maxLength: s.maxItems + 1 })
              : undefined;
          return tooMany ? fc.oneof({ arbitrary: items, weight: 9 }, { arbitrary: tooMany, weight: 1 }) : items;
        }
        case "object": {
          const props = Object.entries((s.properties ?? {}) as Record<string, JsonSchema>);
          if (props.length === 0) {
            const values =
              s.additionalProperties && typeof s.additionalProperties === "object"
                ? fromSchema(s.additionalProperties, ctx, undefined, depth + 1)
                : anyJson;
            return fc.dictionary(fc.string({ maxLength: 10 }), values, { maxKeys: 4 });
          }
          const required = new Set<string>(s.required ?? []);
          const shape = Object.fromEntries(props.map(([k, v]) => [k, fromSchema(v, ctx, k, depth + 1)]));
          return fc.record(shape, { requiredKeys: [...required].filter((k) => k in shape) as never[] });
        }
        default:
          return anyJson;
      }
    }),
  );
}

/** A value of another JSON type than the schema asks for (a number for a string, an object for an array, ...). */
export function wrongType(schema: JsonSchema | undefined, ctx: Context = {}): fc.Arbitrary<unknown> {
  const s = resolve(schema ?? {}, ctx);
  const types = new Set<string>(Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);
  const candidates: [string, fc.Arbitrary<unknown>][] = [
    ["string", nastyString],
    ["integer", fc.constantFrom(0, -1, 2 ** 53, -(2 ** 63), 1e308)],
    ["number", fc.constantFrom(0.5, -0.0001, 1e-320)],
    ["boolean", fc.boolean()],
    ["null", fc.constant(null)],
    ["array", fc.array(anyJson, { maxLength: 3 })],
    ["object", fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 })],
  ];
  const others = candidates.filter(([t]) => !types.has(t) && !(t === "number" && types.has("integer")));
  return fc.oneof(...others.map(([, a]) => a));
}

/**
 * A valid-ish object with one property spoiled: a wrong type, a nasty string, deep nesting, or a key that is not in
 * the schema at all.
 */
export function spoiled(schema: JsonSchema | undefined, ctx: Context = {}): fc.Arbitrary<unknown> {
  const s = resolve(schema ?? {}, ctx);
  const base = fromSchema(s, ctx);
  const keys = Object.keys(s.properties ?? {});
  if (keys.length === 0) return fc.oneof(wrongType(s, ctx), nastyString);
  return fc
    .tuple(
      base,
      fc.constantFrom(...keys, "__proto__", "constructor", "extra_field"),
      fc.oneof(fc.constant("wrong-type" as const), fc.constant("nasty" as const), fc.constant("deep" as const)),
    )
    .chain(([obj, key, how]) => {
      const prop = resolve(s.properties?.[key] ?? {}, ctx);
      const value = how === "wrong-type" ? wrongType(prop, ctx) : how === "nasty" ? nastyString : fc.constantFrom(10, 40, 200).map(nested);
      return value.map((v) => ({ ...(obj as object), [key]: v }));
    });
}

/** `[[[...1...]]]` as a value, `depth` deep. */
export function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** Bytes that are not UTF-8: lone continuation bytes, overlong forms, encoded surrogates, cut sequences. */
export const notUtf8 = fc
  .tuple(
    fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0x80],
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf0, 0x9f, 0x98],
      [0xc3],
    ),
    fc.constantFrom('{"content":"', '{"username":"', '{"', "", '["'),
    fc.constantFrom('"}', '"]', "", "}"),
  )
  .map(([bad, head, tail]) => new Uint8Array([...new TextEncoder().encode(head), ...bad, ...new TextEncoder().encode(tail)]));
