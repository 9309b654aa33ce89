/**
 * Parameter validation, ported from PVE::JSONSchema::check_prop / check_object / check_type
 * (pve-common src/PVE/JSONSchema.pm) so that errors carry PVE's own keys and messages, including its
 * quirks: checks run in PVE's order and stop at the first failing one, format messages keep their
 * trailing newline, and two errors on one key are joined with a literal backslash-n.
 */
import { FormatError, namedFormat, splitList } from "./formats.ts";

/** A PVE parameter schema as it appears in the API dump (loosely typed on purpose). */
export type Schema = Record<string, unknown>;
export type Errors = Record<string, string>;

/**
 * The API dump collapses numbered keys (net0..net31) into one "net[n]" entry. The real schemas have one
 * key per index; these limits are the MAX_* constants of qemu-server (QemuServer.pm, Drive.pm, PCI.pm,
 * USB.pm, Memory.pm, Virtiofs.pm), pve-container (LXC/Config.pm), pve-manager NodeConfig.pm
 * (acmedomain0..5) and the corosync link limit (link0..7).
 */
const indexedKeyCount: Record<string, number> = {
  net: 32, ipconfig: 32, scsi: 31, virtio: 16, sata: 6, ide: 4, unused: 256, hostpci: 16, usb: 14,
  serial: 4, parallel: 3, numa: 8, virtiofs: 10, mp: 256, dev: 256, acmedomain: 6, link: 8,
};

/** The schema of `key` in an object's properties, resolving numbered keys such as net3. */
export function propertySchema(properties: Record<string, Schema>, key: string): Schema | undefined {
  if (Object.hasOwn(properties, key)) return key.endsWith("[n]") ? undefined : properties[key];
  const m = /^([a-z]+)(\d+)$/.exec(key);
  if (!m || String(Number(m[2])) !== m[2]) return undefined;
  const family = properties[`${m[1]}[n]`];
  return family && Number(m[2]) < (indexedKeyCount[m[1]] ?? 0) ? family : undefined;
}

/** Perl truthiness of a parameter value: "0" and "" are false. */
export const truthy = (v: unknown): boolean => v !== undefined && v !== null && v !== false && v !== 0 && v !== "" && v !== "0";

function addError(errors: Errors, path: string, msg: string): void {
  const key = path || "_root";
  errors[key] = errors[key] === undefined ? msg : `${errors[key]}\\n${msg}`;
}

const join = (path: string, key: string): string => (path ? `${path}.${key}` : key);

/** What Perl's ref() says about a decoded value; undefined for plain scalars. */
function perlRef(value: unknown): string | undefined {
  if (Array.isArray(value)) return "ARRAY";
  if (typeof value === "boolean") return "JSON::PP::Boolean";
  if (value !== null && typeof value === "object") return "HASH";
  return undefined;
}

const isNumber = (v: string): boolean => /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/.test(v);
const isInteger = (v: string): boolean => /^[+-]?\d+$/.test(v);

function checkType(path: string, type: unknown, value: unknown, errors: Errors): boolean {
  if (type === undefined || type === "any") return true;
  if (Array.isArray(type)) {
    if (type.some((t) => checkType(path, t, value, {}))) return true;
    addError(errors, path, `type check ('${type.join("|")}') failed`);
    return false;
  }
  const ref = perlRef(value);
  if (type === "null") {
    addError(errors, path, "type check ('null') failed - value is not null");
    return false;
  }
  if (type === "array" || type === "object") {
    if (ref === (type === "array" ? "ARRAY" : "HASH")) return true;
    addError(errors, path, `type check ('${type}') failed`);
    return false;
  }
  if (ref) {
    if (type === "boolean" && ref === "JSON::PP::Boolean") return true;
    addError(errors, path, `type check ('${type}') failed - got ${ref}`);
    return false;
  }
  const text = String(value);
  const ok =
    type === "boolean" ? text === "1" || text === "0" : type === "integer" ? isInteger(text) : type === "number" ? isNumber(text) : true;
  if (!ok) addError(errors, path, `type check ('${type}') failed - got '${text}'`);
  return ok;
}

/**
 * Converts a pattern from the API dump (Perl syntax, anchored by PVE as m/^$pattern$/) to a JS RegExp.
 * Stringified qr// objects appear as (?^:...) or (?^i:...); JS has no inline flags, so a pattern with
 * any case-insensitive group is matched case-insensitively as a whole (slightly more permissive).
 */
const patternCache = new Map<string, RegExp>();
export function perlPattern(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    const flags = /\(\?\^[a-z]*i[a-z]*:/.test(pattern) ? "i" : "";
    re = new RegExp(`^(?:${pattern.replace(/\(\?\^[a-z]*:/g, "(?:")})$`, flags);
    patternCache.set(pattern, re);
  }
  return re;
}

/** PVE::JSONSchema::parse_property_string followed by its check_object. */
function checkPropertyString(format: Record<string, Schema>, data: string, path: string): void {
  const parsed: Record<string, unknown> = {};
  let defaultKey: string | undefined;
  for (const part of data.split(",")) {
    if (/^\s*$/.test(part)) continue;
    const kv = /^([^=]+)=(.+)$/s.exec(part);
    if (kv) {
      const raw = kv[2];
      let key = kv[1];
      if (parsed[key] !== undefined) throw new FormatError(`duplicate key in comma-separated list property: ${key}\n`);
      let schema = format[key];
      // An alias such as a NIC's "virtio=<MAC>": the value goes to `alias` (macaddr), the key to `keyAlias` (model).
      const alias = schema?.alias;
      if (typeof alias === "string") {
        const keyAlias = schema.keyAlias;
        if (typeof keyAlias === "string") {
          if (parsed[keyAlias] !== undefined) throw new FormatError(`key alias '${keyAlias}' is already defined\n`);
          parsed[keyAlias] = key;
        }
        key = alias;
        schema = format[key];
        if (parsed[key] !== undefined) throw new FormatError(`key '${key}' is already defined (via alias)\n`);
      }
      if (!schema) throw new FormatError(`invalid key in comma-separated list property: ${key}\n`);
      parsed[key] = schema.type === "boolean" ? (parseBoolean(raw) ?? raw) : raw;
    } else if (!part.includes("=")) {
      if (defaultKey) throw new FormatError(`duplicate key in comma-separated list property: ${defaultKey}\n`);
      defaultKey = Object.keys(format).find((k) => truthy(format[k].default_key));
      if (!defaultKey) throw new FormatError("value without key, but schema does not define a default key\n");
      if (parsed[defaultKey] !== undefined) throw new FormatError(`duplicate key in comma-separated list property: ${defaultKey}\n`);
      parsed[defaultKey] = format[defaultKey].type === "boolean" ? (parseBoolean(part) ?? part) : part;
    } else {
      throw new FormatError("missing key in comma-separated list property\n");
    }
  }
  const errors: Errors = {};
  checkObject(path, format, parsed, 0, errors);
  const lines = Object.entries(errors).map(([k, v]) => `${k}: ${v}\n`);
  // A PVE::Exception stringifies as its message followed by one "key: error" line per error.
  if (lines.length) throw new FormatError(`format error\n${lines.join("")}`);
}

function parseBoolean(v: string): number | undefined {
  if (/^(1|on|yes|true)$/i.test(v)) return 1;
  if (/^(0|off|no|false)$/i.test(v)) return 0;
  return undefined;
}

/** PVE::JSONSchema::check_format; throws FormatError. */
function checkFormat(format: unknown, value: string, path: string): void {
  if (format !== null && typeof format === "object") return checkPropertyString(format as Record<string, Schema>, value, path);
  if (typeof format !== "string" || format === "regex") return;
  const [, name, kind] = /^(.*?)(?:-(list|opt))?$/.exec(format)!;
  const validate = namedFormat(name);
  if (!validate) return;
  if (kind === "list") splitList(value).forEach(validate);
  else if (kind === "opt") {
    if (truthy(value)) validate(value);
  } else validate(value);
}

function checkScalar(value: unknown, schema: Schema, path: string, errors: Errors): void {
  const text = String(value);
  if (schema.format !== undefined) {
    try {
      checkFormat(schema.format, text, path);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      return addError(errors, path, `invalid format - ${err.message}`);
    }
  }
  if (typeof schema.pattern === "string" && !perlPattern(schema.pattern).test(text)) {
    return addError(errors, path, "value does not match the regex pattern");
  }
  const length = [...text].length;
  if (typeof schema.maxLength === "number" && length > schema.maxLength) {
    return addError(errors, path, `value may only be ${schema.maxLength} characters long`);
  }
  if (typeof schema.minLength === "number" && length < schema.minLength) {
    return addError(errors, path, `value must be at least ${schema.minLength} characters long`);
  }
  if (isNumber(text)) {
    if (schema.maximum !== undefined && Number(text) > Number(schema.maximum)) {
      return addError(errors, path, `value must have a maximum value of ${schema.maximum}`);
    }
    if (schema.minimum !== undefined && Number(text) < Number(schema.minimum)) {
      return addError(errors, path, `value must have a minimum value of ${schema.minimum}`);
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => String(e) === text)) {
    addError(errors, path, `value '${text}' does not have a value in the enumeration '${schema.enum.join(", ")}'`);
  }
}

/** Resolves oneOf/instance-types (PVE's SectionConfig-style typed schemas); returns optional_for_type. */
function checkVariants(value: unknown, schema: Schema, path: string, errors: Errors, instanceType?: string): boolean | undefined {
  const variants = schema.oneOf as Schema[] | undefined;
  if (variants && !schema["type-property-schema"]) {
    if (!schema["type-property"]) {
      const collected: Errors = {};
      for (const [i, variant] of variants.entries()) {
        const inner: Errors = {};
        checkProp(value, variant, `${path}.oneOf[${i}]`, inner);
        if (Object.keys(inner).length === 0) return false;
        for (const [k, v] of Object.entries(inner)) addError(collected, k, v);
      }
      for (const [k, v] of Object.entries(collected)) addError(errors, k, v);
      return false;
    }
    let optionalForType = true;
    for (const variant of variants) {
      if (!instanceType) break;
      const types = variant["instance-types"] as string[] | undefined;
      if (!types) {
        addError(errors, path, "missing 'instance-types' in oneOf alternative");
        return undefined;
      }
      if (!types.includes(instanceType)) continue;
      optionalForType = truthy(variant.optional);
      checkProp(value, variant, path, errors);
    }
    return optionalForType;
  }
  if (instanceType) {
    const types = schema["instance-types"] as string[] | undefined;
    if (!types) {
      addError(errors, path, "missing 'instance-types'");
      return undefined;
    }
    return !types.includes(instanceType);
  }
  return false;
}

/** PVE::JSONSchema::check_prop */
export function checkProp(value: unknown, schema: Schema, path: string, errors: Errors, instanceType?: string): void {
  const optionalForType = checkVariants(value, schema, path, errors, instanceType);
  if (optionalForType === undefined || schema.alias) return;
  if (value === undefined || value === null) {
    if (schema.type !== "null" && !truthy(schema.optional) && !schema.group && !optionalForType) {
      addError(errors, path, "property is missing and it is not optional");
    }
    return;
  }
  if (!checkType(path, schema.type, value, errors)) return;
  const ref = perlRef(value);
  if (!ref) return checkScalar(value, schema, path, errors);
  if (ref === "ARRAY") {
    const items = schema.items as Schema | undefined;
    if (items) (value as unknown[]).forEach((el, i) => checkProp(el, items, `${path}[${i}]`, errors));
    return;
  }
  if (ref === "HASH" && (schema.properties || schema.additionalProperties)) {
    checkObject(path, (schema.properties ?? {}) as Record<string, Schema>, value, schema.additionalProperties, errors);
  }
}

/** PVE::JSONSchema::check_object (without alias remapping, which no API parameter uses). */
export function checkObject(path: string, properties: Record<string, Schema>, value: unknown, additional: unknown, errors: Errors): void {
  if (perlRef(value) !== "HASH") return addError(errors, path, "an object is required");
  const object = value as Record<string, unknown>;
  const instanceTypeOf = (schema: Schema): string | undefined => {
    const prop = schema["type-property"];
    return typeof prop === "string" && object[prop] !== undefined ? String(object[prop]) : undefined;
  };
  for (const [key, schema] of Object.entries(properties)) {
    if (!key.endsWith("[n]")) checkProp(object[key], schema, join(path, key), errors, instanceTypeOf(schema));
  }
  for (const key of Object.keys(object)) {
    const schema = propertySchema(properties, key);
    if (schema) {
      if (!Object.hasOwn(properties, key)) checkProp(object[key], schema, join(path, key), errors, instanceTypeOf(schema));
      checkRequires(schema, object, path, key, errors);
      if (variantMatches(schema, instanceTypeOf(schema))) continue;
    }
    if (additional !== undefined && additional !== null && !truthy(additional)) {
      addError(errors, join(path, key), "property is not defined in schema and the schema does not allow additional properties");
    } else if (additional !== null && typeof additional === "object") {
      checkProp(object[key], additional as Schema, join(path, key), errors);
    }
  }
}

/** A key whose oneOf has no variant for the object's type counts as unknown, as in check_object. */
function variantMatches(schema: Schema, instanceType: string | undefined): boolean {
  const variants = schema.oneOf as Schema[] | undefined;
  if (!variants) return true;
  return variants.some((v) => {
    const types = v["instance-types"] as string[] | undefined;
    return !types || (instanceType !== undefined && types.includes(instanceType));
  });
}

function checkRequires(schema: Schema, object: Record<string, unknown>, path: string, key: string, errors: Errors): void {
  const requires = schema.requires;
  if (typeof requires === "string" && (object[requires] === undefined || object[requires] === null)) {
    addError(errors, join(path, requires), `missing property required by '${join(path, key)}'`);
  } else if (requires !== null && typeof requires === "object") {
    checkProp(object, requires as Schema, path, errors);
  }
}

/**
 * RESTHandler's $normalize_legacy_param_formats: form bodies cannot nest, so a repeated key becomes
 * a comma list for '-list' string formats and a lone value becomes a one-element array for arrays.
 */
export function normalizeLegacyFormats(params: Record<string, unknown>, parameters: Schema): void {
  const properties = (parameters.properties ?? {}) as Record<string, Schema>;
  for (const [key, value] of Object.entries(params)) {
    const schema = propertySchema(properties, key);
    if (!schema || !(Array.isArray(value) || truthy(value))) continue;
    if (Array.isArray(value) && schema.type === "string" && typeof schema.format === "string" && schema.format.endsWith("-list")) {
      params[key] = value.join(",");
    } else if (!Array.isArray(value) && schema.type === "array") {
      params[key] = [value];
    }
  }
}

/** PVE::JSONSchema::validate of a method's `parameters`; returns the per-parameter errors, if any. */
export function validateParams(params: Record<string, unknown>, parameters: Schema): Errors | undefined {
  const errors: Errors = {};
  checkProp(params, parameters, "", errors);
  return Object.keys(errors).length ? errors : undefined;
}
