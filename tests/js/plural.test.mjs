// Counted texts chosen by the language's plural rules (web/static/js/lib/plural.js).

import assert from "node:assert/strict";
import { test } from "node:test";

import { counted } from "../../web/static/js/lib/plural.js";

const english = {
  waitOne: "Estimated wait: about {n} minute",
  waitOther: "Estimated wait: about {n} minutes",
};

test("English: one minute, two minutes, zero minutes", () => {
  assert.equal(counted(english, "wait", 1, "en"), "Estimated wait: about 1 minute");
  assert.equal(counted(english, "wait", 2, "en"), "Estimated wait: about 2 minutes");
  assert.equal(counted(english, "wait", 0, "en"), "Estimated wait: about 0 minutes");
});

test("Japanese has one form: the other category", () => {
  const japanese = { waitOther: "待ち時間の目安：約{n}分" };
  assert.equal(counted(japanese, "wait", 1, "ja"), "待ち時間の目安：約1分");
  assert.equal(counted(japanese, "wait", 5, "ja"), "待ち時間の目安：約5分");
});
