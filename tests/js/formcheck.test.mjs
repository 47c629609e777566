// The browser's form validator (web/static/js/lib/formcheck.js) against the
// cases shared with the server's (tests/forms/validation_cases.json, run by
// tests/app/forms/test_form_validation.py through app/forms/validation.py):
// the same normalised values and the same errors, in the same order.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { INCOMPLETE, validate } from "../../web/static/js/lib/formcheck.js";
import { formatWareki, parseDate } from "../../web/static/js/lib/wareki.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SHARED = JSON.parse(readFileSync(join(HERE, "../forms/validation_cases.json"), "utf8"));

test("the shared file has dates and cases to run", () => {
  assert.ok(SHARED.dates.length >= 20, `only ${SHARED.dates.length} dates`);
  assert.ok(SHARED.cases.length >= 20, `only ${SHARED.cases.length} cases`);
});

for (const { input, iso, error } of SHARED.dates) {
  test(`date ${JSON.stringify(input)} → ${iso ?? error}`, () => {
    assert.equal(parseDate(input), iso ?? null);
    if (error) assert.equal(error, "invalid-date");
  });
}

for (const c of SHARED.cases) {
  test(`case: ${c.name}`, () => {
    const result = validate(c.definition, c.values);
    assert.deepEqual(result.normalised, c.normalised);
    assert.deepEqual(result.errors, c.errors.map(({ path, code }) => ({ path, code })));
  });
}

test("values that are not an object are one wrong-type error", () => {
  const definition = SHARED.cases[0].definition;
  for (const values of [null, [], "x", 3]) {
    assert.deepEqual(validate(definition, values), {
      normalised: {},
      errors: [{ path: "", code: "wrong-type" }],
    });
  }
});

test("required and too-few are the incomplete codes (a draft saves with them)", () => {
  assert.deepEqual([...INCOMPLETE].sort(), ["required", "too-few"]);
});

test("dates print in their era, 元年 for the first year, 西暦 before 明治6年", () => {
  assert.equal(formatWareki("2019-05-01"), "令和元年5月1日");
  assert.equal(formatWareki("2019-04-30"), "平成31年4月30日");
  assert.equal(formatWareki("1873-01-01"), "明治6年1月1日");
  assert.equal(formatWareki("1872-12-31"), "1872年12月31日");
});
