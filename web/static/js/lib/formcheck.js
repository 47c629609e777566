// Validating and normalising a form's values in the browser, from the same
// template definition the server validates with: the twin of
// app/forms/validation.py (docs/forms.md §2), rule for rule. Pure: no
// browser objects, so Node's tests run the shared cases file
// (tests/forms/validation_cases.json) through it, as pytest runs it through
// the server's validator, case by case.
//
//   validate(definition, values) → { normalised, errors: [{path, code}] }
//
// A path is `name`, or `group[index].name` inside a repeating group; errors
// come in template order (unknown keys first). Codes: required, too-few,
// too-many, unknown-field, wrong-type, too-long, invalid-characters,
// not-kana, invalid-date, invalid-postal-code, invalid-phone, invalid-choice.

import { parseDate } from "./wareki.js";

// Codes that only say something is still missing: a draft may be saved with them.
export const INCOMPLETE = new Set(["required", "too-few"]);

class Invalid extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const length = (s) => [...s].length; // code points, like Python's len()

// -- normalising one value ---------------------------------------------------------------

const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;
// Hyphens and dashes people type between digits (NFKC has made "－" a "-").
const SEPARATORS = /[\s\-\u2010-\u2015\u2212\u30fc\uff70()]+/u;
const SEPARATORS_ALL = new RegExp(SEPARATORS.source, "gu");
const KANA = /^[\u30a1-\u30f6\u30fb\u30fc\u3000]*$/u;

function text(value, multiline) {
  const v = value.replace(/\r\n/g, "\n").replace(/\r/g, "\n").trim();
  if (CONTROL.test(v) || (v.includes("\n") && !multiline)) throw new Invalid("invalid-characters");
  return v;
}

// 全角カタカナ: NFKC (半角カナ to 全角), ひらがな to カタカナ, one 全角 space between words.
export function normaliseKana(value) {
  const v = value
    .normalize("NFKC")
    .replace(/[\u3041-\u3096]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60));
  return v.split(/\s+/u).filter(Boolean).join("\u3000");
}

function postal(value) {
  const digits = value.normalize("NFKC").replaceAll("〒", "").replace(SEPARATORS_ALL, "");
  if (!/^\d{7}$/.test(digits)) throw new Invalid("invalid-postal-code");
  return `${digits.slice(0, 3)}-${digits.slice(3)}`;
}

function phone(value) {
  let typed = value.normalize("NFKC").trim();
  if (typed.startsWith("+81")) typed = `0${typed.slice(3).replace(/^[ \-(]+/, "").replace(")", "-")}`;
  const parts = typed.split(SEPARATORS).filter(Boolean);
  const digits = parts.join("");
  if (!/^0\d{9,10}$/.test(digits)) throw new Invalid("invalid-phone");
  if (parts.length > 1) return parts.join("-");
  if (digits.length === 11 && ["070", "080", "090", "050"].includes(digits.slice(0, 3))) {
    return `${digits.slice(0, 3)}-${digits.slice(3, 7)}-${digits.slice(7)}`;
  }
  if (digits.length === 10 && ["0120", "0800"].includes(digits.slice(0, 4))) {
    return `${digits.slice(0, 4)}-${digits.slice(4, 7)}-${digits.slice(7)}`;
  }
  return digits;
}

// The normalised value of a non-group field, or throws Invalid.
function scalar(spec, raw) {
  const kind = spec.type;
  if (kind === "checkbox") {
    if (raw === null || raw === undefined) return false;
    if (typeof raw !== "boolean") throw new Invalid("wrong-type");
    return raw;
  }
  if (raw === null || raw === undefined) return "";
  if (typeof raw !== "string") throw new Invalid("wrong-type");
  let value;
  if (kind === "kana") {
    value = normaliseKana(raw);
    if (!KANA.test(value)) throw new Invalid("not-kana");
  } else if (kind === "text" || kind === "address") {
    value = text(raw, Boolean(spec.multiline));
  } else {
    value = raw.trim();
  }
  if (value === "") return "";
  if (kind === "date") {
    const day = parseDate(value);
    if (day === null) throw new Invalid("invalid-date");
    return day;
  }
  if (kind === "postal_code") return postal(value);
  if (kind === "phone") return phone(value);
  if (kind === "choice") {
    if (!(spec.options ?? []).some((o) => o.value === value)) throw new Invalid("invalid-choice");
    return value;
  }
  const limit = spec.max_length;
  if (limit !== null && limit !== undefined && length(value) > limit) throw new Invalid("too-long");
  return value;
}

// -- conditions and the walk over the fields ---------------------------------------------

export function filled(value) {
  return !(value === null || value === undefined || value === "" || value === false ||
    (Array.isArray(value) && value.length === 0));
}

// Whether `cond` holds; `own` are the values of the same group item (or `top`).
export function conditionHolds(cond, own, top) {
  if (!cond) return true;
  const name = cond.field;
  const value = Object.hasOwn(own, name) ? own[name] : top[name];
  if (cond.equals !== null && cond.equals !== undefined) return value === cond.equals;
  if (cond.in !== null && cond.in !== undefined) return cond.in.includes(value);
  return filled(value);
}

// Fields in an order where every condition's field comes before it.
function ordered(fields) {
  const names = new Set(fields.map((f) => f.name));
  const done = [];
  const placed = new Set();
  const pending = [...fields];
  while (pending.length) {
    const index = pending.findIndex((spec) =>
      [spec.shown_if, spec.required_if]
        .filter(Boolean)
        .map((c) => c.field)
        .filter((n) => names.has(n))
        .every((n) => placed.has(n)),
    );
    if (index === -1) {
      done.push(...pending); // a cycle: cannot happen with an imported template
      break;
    }
    const [spec] = pending.splice(index, 1);
    done.push(spec);
    placed.add(spec.name);
  }
  return done;
}

function push(errors, name, error) {
  if (!errors.has(name)) errors.set(name, []);
  errors.get(name).push(error);
}

function walk(fields, raw, prefix, top, errors) {
  const known = new Set(fields.map((f) => f.name));
  const out = {};
  for (const name of Object.keys(raw)) {
    if (!known.has(name)) push(errors, name, { path: `${prefix}${name}`, code: "unknown-field" });
  }
  for (const spec of ordered(fields)) {
    const name = spec.name;
    const path = `${prefix}${name}`;
    const scopeTop = top === null ? out : top;
    if (!conditionHolds(spec.shown_if, out, scopeTop)) continue; // hidden: neither required nor kept
    const found = [];
    const required = Boolean(spec.required) ||
      (Boolean(spec.required_if) && conditionHolds(spec.required_if, out, scopeTop));
    if (spec.type === "group") {
      out[name] = group(spec, raw[name], path, out, found);
      if (required && out[name].length === 0 && (spec.min ?? 0) === 0) {
        found.push({ path, code: "required" });
      }
    } else {
      try {
        out[name] = scalar(spec, raw[name]);
        if (required && !filled(out[name])) found.push({ path, code: "required" });
      } catch (err) {
        if (!(err instanceof Invalid)) throw err;
        out[name] = spec.type === "checkbox" ? false : "";
        found.push({ path, code: err.code });
      }
    }
    for (const error of found) push(errors, name, error);
  }
  // Stored in the template's order, whatever order the conditions needed.
  const result = {};
  for (const f of fields) if (Object.hasOwn(out, f.name)) result[f.name] = out[f.name];
  return result;
}

function group(spec, raw, path, top, found) {
  const list = raw === null || raw === undefined ? [] : raw;
  if (!Array.isArray(list) || !list.every(isObject)) {
    found.push({ path, code: "wrong-type" });
    return [];
  }
  const items = list.map((item, index) => {
    const itemErrors = new Map();
    const values = walk(spec.fields, item, `${path}[${index}].`, top, itemErrors);
    found.push(...inOrder(spec.fields, item, itemErrors));
    return values;
  });
  if (items.length > (spec.max ?? 10)) found.push({ path, code: "too-many" });
  if (items.length < (spec.min ?? 0)) found.push({ path, code: "too-few" });
  return items;
}

// Unknown keys first (in the order given), then each field's, in template order.
function inOrder(fields, raw, errors) {
  const known = fields.map((f) => f.name);
  const out = [];
  for (const name of Object.keys(raw)) if (!known.includes(name)) out.push(...(errors.get(name) ?? []));
  for (const name of known) out.push(...(errors.get(name) ?? []));
  return out;
}

export function validate(definition, values) {
  if (!isObject(values)) return { normalised: {}, errors: [{ path: "", code: "wrong-type" }] };
  const errors = new Map();
  const fields = [...definition.fields];
  const normalised = walk(fields, values, "", null, errors);
  return { normalised, errors: inOrder(fields, values, errors) };
}

// The errors at one field: its own, and for a group its items'.
export function errorsAt(errors, path) {
  return errors.filter((e) => e.path === path || e.path.startsWith(`${path}[`));
}
