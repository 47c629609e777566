// 和暦 ⇄ 西暦 (web/static/js/lib/wareki.js): era boundaries, 元年, days that do not exist.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  formatWareki,
  fromWareki,
  parseDate,
  toWareki,
  validDay,
} from "../../web/static/js/lib/wareki.js";

test("the last day of 平成 and the first of 令和", () => {
  assert.equal(fromWareki("heisei", 31, 4, 30), "2019-04-30");
  assert.equal(fromWareki("heisei", 31, 5, 1), null);
  assert.equal(fromWareki("reiwa", 1, 5, 1), "2019-05-01");
  assert.equal(fromWareki("reiwa", 1, 4, 30), null);
  assert.equal(formatWareki("2019-04-30"), "平成31年4月30日");
  assert.equal(formatWareki("2019-05-01"), "令和元年5月1日");
});

test("year 0 and years past an era's end do not exist", () => {
  assert.equal(fromWareki("reiwa", 0, 5, 1), null);
  assert.equal(fromWareki("showa", 64, 1, 7), "1989-01-07");
  assert.equal(fromWareki("showa", 64, 1, 8), null);
  assert.equal(fromWareki("showa", 65, 1, 1), null);
  assert.equal(fromWareki("heisei", 1, 1, 8), "1989-01-08");
  assert.equal(fromWareki("taisho", 15, 12, 25), null);
  assert.equal(fromWareki("showa", 1, 12, 25), "1926-12-25");
});

test("calendar days: 2月29日 only in leap years, no 4月31日", () => {
  assert.equal(validDay(2024, 2, 29), "2024-02-29");
  assert.equal(validDay(2023, 2, 29), null);
  assert.equal(validDay(1900, 2, 29), null);
  assert.equal(validDay(2000, 2, 29), "2000-02-29");
  assert.equal(validDay(2024, 4, 31), null);
  assert.equal(fromWareki("reiwa", 6, 2, 29), "2024-02-29");
  assert.equal(fromWareki("reiwa", 5, 2, 29), null);
});

test("typed dates: 元年, initials, full-width digits, 西暦", () => {
  assert.equal(parseDate("令和元年5月1日"), "2019-05-01");
  assert.equal(parseDate("令和1年5月1日"), "2019-05-01");
  assert.equal(parseDate("R1.5.1"), "2019-05-01");
  assert.equal(parseDate("ｈ３１／４／３０"), "2019-04-30");
  assert.equal(parseDate("平成３１年５月１日"), null);
  assert.equal(parseDate("令和0年5月1日"), null);
  assert.equal(parseDate("2019-05-01"), "2019-05-01");
  assert.equal(parseDate("2019年5月1日"), "2019-05-01");
  assert.equal(parseDate("昭和"), null);
  assert.equal(parseDate(""), null);
});

test("toWareki names the era in force that day", () => {
  assert.deepEqual(toWareki("1989-01-07"), { era: "showa", name: "昭和", year: 64, month: 1, day: 7 });
  assert.deepEqual(toWareki("2024-04-01"), { era: "reiwa", name: "令和", year: 6, month: 4, day: 1 });
  assert.equal(toWareki("2024-02-30"), null);
  assert.equal(toWareki("nonsense"), null);
});
