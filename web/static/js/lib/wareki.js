// Japanese era dates (和暦) ⇄ ISO dates (西暦), without browser objects: the
// browser's twin of app/forms/wareki.py (docs/forms.md, "Eras"), so the
// form validator (formcheck.js) and Node's tests share them.
//
// A date belongs to the era in force that day: 平成31年4月30日 is the last day
// of 平成 and the next day is 令和元年5月1日; 平成31年5月1日, 令和元年4月30日,
// 令和0年 or 昭和65年 do not exist. The first year is written 元年 or 1年.

export const ERAS = [
  // 明治 before 6年 counted days by the old calendar, which this does not convert.
  { key: "meiji", name: "明治", letter: "M", yearOne: 1868, first: "1873-01-01", last: "1912-07-29" },
  { key: "taisho", name: "大正", letter: "T", yearOne: 1912, first: "1912-07-30", last: "1926-12-24" },
  { key: "showa", name: "昭和", letter: "S", yearOne: 1926, first: "1926-12-25", last: "1989-01-07" },
  { key: "heisei", name: "平成", letter: "H", yearOne: 1989, first: "1989-01-08", last: "2019-04-30" },
  { key: "reiwa", name: "令和", letter: "R", yearOne: 2019, first: "2019-05-01", last: null },
];

const pad = (n, width = 2) => String(n).padStart(width, "0");
const contains = (era, iso) => era.first <= iso && (era.last === null || iso <= era.last);

// A real calendar day (no 2月30日, 2月29日 only in leap years), as ISO, or null.
export function validDay(year, month, day) {
  if (![year, month, day].every(Number.isInteger)) return null;
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const length = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (day > length) return null;
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
}

export function eraOf(key) {
  return ERAS.find((era) => era.key === key || era.name === key || era.letter === key) ?? null;
}

// 令和 6年 4月 1日 → "2024-04-01"; null if that day is not in that era.
export function fromWareki(eraKey, year, month, day) {
  const era = eraOf(eraKey);
  if (!era || !Number.isInteger(year) || year < 1) return null;
  const iso = validDay(era.yearOne + year - 1, month, day);
  return iso && contains(era, iso) ? iso : null;
}

// "2019-05-01" → { era: "reiwa", name: "令和", year: 1, month: 5, day: 1 }, or null.
export function toWareki(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso ?? "");
  if (!m || !validDay(Number(m[1]), Number(m[2]), Number(m[3]))) return null;
  const era = ERAS.find((e) => contains(e, iso));
  if (!era) return null;
  return { era: era.key, name: era.name, year: Number(m[1]) - era.yearOne + 1, month: Number(m[2]), day: Number(m[3]) };
}

// "令和元年5月1日" (元年 for the first year, as forms print it); 西暦 before 明治6年.
export function formatWareki(iso) {
  const w = toWareki(iso);
  if (w) return `${w.name}${w.year === 1 ? "元" : w.year}年${w.month}月${w.day}日`;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso ?? "");
  return m ? `${Number(m[1])}年${Number(m[2])}月${Number(m[3])}日` : "";
}

// "2025年4月1日"
export function formatSeireki(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso ?? "");
  return m ? `${Number(m[1])}年${Number(m[2])}月${Number(m[3])}日` : "";
}

const WESTERN = /^(\d{4})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日?)$/;
const ERA = /^(明治|大正|昭和|平成|令和|[MTSHR])(元|\d{1,2})(?:[-/.](\d{1,2})[-/.](\d{1,2})|年(\d{1,2})月(\d{1,2})日?)$/;

// A date as staff type it, 和暦 or 西暦: "令和元年5月1日", "R1.5.1", "H31/4/30",
// "2019-05-01", "2019年5月1日", full-width digits too. The ISO date, or null.
export function parseDate(text) {
  // NFKC: full-width digits and letters to ASCII; spaces mean nothing in a date.
  const cleaned = String(text ?? "").normalize("NFKC").replace(/\s+/gu, "").toUpperCase();
  let m = WESTERN.exec(cleaned);
  if (m) return validDay(Number(m[1]), Number(m[2] ?? m[4]), Number(m[3] ?? m[5]));
  m = ERA.exec(cleaned);
  if (!m) return null;
  const year = m[2] === "元" ? 1 : Number(m[2]);
  return fromWareki(m[1], year, Number(m[3] ?? m[5]), Number(m[4] ?? m[6]));
}
