// Japanese era dates (和暦) ⇄ ISO dates (西暦), without browser objects, so
// the form validator (formcheck.js) and Node's tests share them.
//
// An era begins on the day its first year begins and a date belongs to the
// era in force that day: 平成31年4月30日 is the last day of 平成 and the next
// day is 令和元年5月1日; 平成31年5月1日, 令和0年 or 昭和65年 do not exist.
// The first year is written 元年 or 1年.

export const ERAS = [
  // key, name, initial, first day (Gregorian)
  { key: "reiwa", name: "令和", initial: "R", start: "2019-05-01" },
  { key: "heisei", name: "平成", initial: "H", start: "1989-01-08" },
  { key: "showa", name: "昭和", initial: "S", start: "1926-12-25" },
  { key: "taisho", name: "大正", initial: "T", start: "1912-07-30" },
  { key: "meiji", name: "明治", initial: "M", start: "1873-01-01" },
];

const pad = (n, width = 2) => String(n).padStart(width, "0");

export function isoDate(year, month, day) {
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
}

// A real calendar day (no 2月30日, 2月29日 only in leap years), as ISO, or null.
export function validDay(year, month, day) {
  if (![year, month, day].every(Number.isInteger)) return null;
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return null;
  const last = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // month's length in a leap year
  if (day > last) return null;
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) {
    return null;
  }
  return isoDate(year, month, day);
}

export function eraOf(key) {
  return ERAS.find((era) => era.key === key || era.name === key || era.initial === key) ?? null;
}

// The era in force on an ISO date, or null before 明治6年 (the Gregorian calendar's start in Japan).
export function eraOn(iso) {
  return ERAS.find((era) => iso >= era.start) ?? null;
}

// 令和 6年 4月 1日 → "2024-04-01"; null if that day is not in that era.
export function fromWareki(eraKey, year, month, day) {
  const era = eraOf(eraKey);
  if (!era || !Number.isInteger(year) || year < 1) return null;
  const iso = validDay(Number(era.start.slice(0, 4)) + year - 1, month, day);
  if (!iso || iso < era.start) return null;
  return eraOn(iso) === era ? iso : null;
}

// "2019-05-01" → { era: "reiwa", name: "令和", year: 1, month: 5, day: 1 }, or null.
export function toWareki(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso ?? "");
  if (!m || !validDay(Number(m[1]), Number(m[2]), Number(m[3]))) return null;
  const era = eraOn(iso);
  if (!era) return null;
  return {
    era: era.key,
    name: era.name,
    year: Number(m[1]) - Number(era.start.slice(0, 4)) + 1,
    month: Number(m[2]),
    day: Number(m[3]),
  };
}

// "令和元年5月1日" (元年 for the first year, as forms print it).
export function formatWareki(iso) {
  const w = toWareki(iso);
  if (!w) return "";
  return `${w.name}${w.year === 1 ? "元" : w.year}年${w.month}月${w.day}日`;
}

// Full-width digits and punctuation, as typed with a Japanese IME, to ASCII.
export function halfWidth(text) {
  return String(text ?? "").replace(/[\uFF01-\uFF5E]/g, (c) =>
    String.fromCharCode(c.charCodeAt(0) - 0xfee0),
  ).replace(/\u3000/g, " ");
}

// A date typed as text, 和暦 or 西暦: "令和元年5月1日", "R1.5.1", "H31/4/30",
// "2019-05-01", "2019年5月1日". The ISO date, or null.
export function parseDate(text) {
  const s = halfWidth(text).trim().replace(/\s+/g, "");
  let m = /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$/.exec(s);
  if (m) return validDay(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(令和|平成|昭和|大正|明治|[RHSTMrhstm])(元|\d{1,2})[年./-](\d{1,2})[月./-](\d{1,2})日?$/.exec(s);
  if (!m) return null;
  const year = m[2] === "元" ? 1 : Number(m[2]);
  return fromWareki(m[1].length === 1 ? m[1].toUpperCase() : m[1], year, Number(m[3]), Number(m[4]));
}
