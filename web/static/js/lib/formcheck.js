// Field-by-field validation of an application form in the browser, from the
// same template definition the server validates with (docs/forms.md §2;
// app/forms/validation.py on the server). Pure: no browser objects, so Node's
// tests run the shared cases file (tests/forms/validation_cases.json) through
// it, as pytest runs it through the server's validator, case by case.
//
//   validate(definition, values) → { normalised, errors: [{path, code}] }
//
// A path is `name`, or `group[index].name` inside a repeating group; errors
// come in template order. Codes (docs/forms.md): required, too-few, too-many,
// unknown-field, wrong-type, too-long, invalid-characters, not-kana,
// invalid-date, invalid-postal-code, invalid-phone, invalid-choice.

import { parseDate } from "./wareki.js";

// What makes a save incomplete rather than invalid (a save stores those, a push is refused).
export const INCOMPLETE = new Set(["required", "too-few"]);

const STRING_TYPES = new Set(["text", "kana", "date", "postal_code", "address", "phone", "choice"]);
const DEFAULT_MAX = { text: 100, address: 200 };

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const chars = (s) => [...s].length;

// -- normalising one value --------------------------------------------------------------

// Control characters (Unicode Cc); a line feed only where the field is multiline.
function badCharacters(text, multiline) {
  for (const c of text) {
    const code = c.codePointAt(0);
    if (c === "\n" && multiline) continue;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return true;
  }
  return false;
}

function normText(value) {
  return value.replace(/\r\n?/g, "\n").trim();
}

export function normKana(value) {
  const nfkc = value.normalize("NFKC");
  const kata = nfkc.replace(/[\u3041-\u3096]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60));
  return kata.trim().split(/\s+/u).filter(Boolean).join("\u3000");
}
const KANA = /^[\u30A1-\u30FA\u30FC\u30FB\u3000]*$/u;

export function normPostal(value) {
  const digits = value.normalize("NFKC").replace(/[〒\s\-‐‑‒–—―ー−]/gu, "");
  return /^\d{7}$/.test(digits) ? `${digits.slice(0, 3)}-${digits.slice(3)}` : null;
}

const PHONE_SEPARATORS = /[\s\-‐‑‒–—―ー−()]+/gu;

export function normPhone(value) {
  let typed = value.normalize("NFKC").trim();
  if (typed.startsWith("+81")) {
    typed = `0${typed.slice(3).replace(/^[\s\-‐‑‒–—―ー−()]+/u, "").replace(/^\(?0\)?/, "")}`;
  }
  const digits = typed.replace(PHONE_SEPARATORS, "");
  if (!/^0\d{9,10}$/.test(digits)) return null;
  if (PHONE_SEPARATORS.test(typed)) {
    PHONE_SEPARATORS.lastIndex = 0;
    return typed.replace(PHONE_SEPARATORS, "-").replace(/^-|-$/g, "");
  }
  PHONE_SEPARATORS.lastIndex = 0;
  if (digits.length === 11 && /^0[5789]0/.test(digits)) {
    return `${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`;
  }
  if (digits.length === 10 && /^(0120|0800)/.test(digits)) {
    return `${digits.slice(0, 4)}-${digits.slice(4, 7)}-${digits.slice(7)}`;
  }
  return digits;
}

// [normalised, error code or null] for a non-group field's value.
function normalise(field, value) {
  if (field.type === "checkbox") {
    if (value === undefined || value === null) return [false, null];
    return typeof value === "boolean" ? [value, null] : [false, "wrong-type"];
  }
  if (value === undefined || value === null) return ["", null];
  if (typeof value !== "string" || !STRING_TYPES.has(field.type)) return ["", "wrong-type"];
  switch (field.type) {
    case "text":
    case "address": {
      const v = normText(value);
      if (badCharacters(v, field.type === "text" && field.multiline)) return [v, "invalid-characters"];
      const max = field.max_length ?? DEFAULT_MAX[field.type];
      return [v, max != null && chars(v) > max ? "too-long" : null];
    }
    case "kana": {
      const v = normKana(value);
      if (badCharacters(v, false)) return [v, "invalid-characters"];
      if (!KANA.test(v)) return [v, "not-kana"];
      const max = field.max_length;
      return [v, max != null && chars(v) > max ? "too-long" : null];
    }
    case "date": {
      const v = value.trim();
      if (v === "") return ["", null];
      const iso = parseDate(v);
      return iso ? [iso, null] : [v, "invalid-date"];
    }
    case "postal_code": {
      const v = value.trim();
      if (v === "") return ["", null];
      const out = normPostal(v);
      return out ? [out, null] : [v, "invalid-postal-code"];
    }
    case "phone": {
      const v = value.trim();
      if (v === "") return ["", null];
      const out = normPhone(v);
      return out ? [out, null] : [v, "invalid-phone"];
    }
    case "choice": {
      if (value === "") return ["", null];
      const allowed = (field.options ?? []).map((o) => o.value);
      return allowed.includes(value) ? [value, null] : [value, "invalid-choice"];
    }
    default:
      return ["", "wrong-type"];
  }
}

export function isEmpty(value) {
  return value === undefined || value === null || value === "" || value === false ||
    (Array.isArray(value) && value.length === 0);
}

// -- conditions -----------------------------------------------------------------------------

// On the normalised values: the item's own field when the group has one of
// that name, else the form's top-level field.
export function holds(condition, item, top, itemFields = null) {
  if (!condition) return true;
  const local = itemFields && itemFields.some((f) => f.name === condition.field);
  const value = (local ? item : top)[condition.field];
  if (condition.equals !== null && condition.equals !== undefined) return value === condition.equals;
  if (Array.isArray(condition.in)) return condition.in.includes(value);
  if (condition.filled !== null && condition.filled !== undefined) {
    return condition.filled ? !isEmpty(value) : isEmpty(value);
  }
  return true;
}

// Normalised values (errors ignored) of a list of fields: what conditions read.
function roughly(fields, raw) {
  const out = {};
  for (const field of fields) {
    if (field.type === "group") continue;
    out[field.name] = normalise(field, raw?.[field.name])[0];
  }
  return out;
}

// -- the whole form -------------------------------------------------------------------------

function checkList(fields, raw, top, itemFields, prefix, errors) {
  const out = {};
  const local = itemFields ? roughly(fields, raw) : top;
  const known = new Set(fields.map((f) => f.name));
  for (const field of fields) {
    const path = `${prefix}${field.name}`;
    if (!holds(field.shown_if, local, top, itemFields)) continue;
    const required = field.required || (field.required_if ? holds(field.required_if, local, top, itemFields) : false);
    const value = raw[field.name];
    if (field.type === "group") {
      const ok = value === undefined || value === null ||
        (Array.isArray(value) && value.every(isObject));
      if (!ok) {
        errors.push({ path, code: "wrong-type" });
        out[field.name] = [];
        continue;
      }
      const items = value ?? [];
      if (items.length === 0 && required) errors.push({ path, code: "required" });
      else if (items.length < (field.min ?? 0)) errors.push({ path, code: "too-few" });
      else if (items.length > (field.max ?? 10)) errors.push({ path, code: "too-many" });
      out[field.name] = items.map((item, index) =>
        checkList(field.fields ?? [], item, top, field.fields ?? [], `${path}[${index}].`, errors),
      );
      continue;
    }
    const [normal, code] = normalise(field, value);
    out[field.name] = normal;
    if (code) errors.push({ path, code });
    else if (required && isEmpty(normal)) errors.push({ path, code: "required" });
  }
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) errors.push({ path: `${prefix}${key}`, code: "unknown-field" });
  }
  return out;
}

export function validate(definition, values) {
  const fields = definition.fields ?? [];
  const raw = isObject(values) ? values : {};
  const top = roughly(fields, raw);
  const errors = [];
  const normalised = checkList(fields, raw, top, null, "", errors);
  return { normalised, errors };
}

// The errors at one field (a group's own and its items').
export function errorsAt(errors, path) {
  return errors.filter((e) => e.path === path || e.path.startsWith(`${path}[`));
}
