// One page of a form's rendered view (docs/forms.md §4), read-only, for the
// resident's review: each section a heading and a list of label → text, a
// repeating group (household members) one box per item. The texts come from
// the server's frozen view (dates in 和暦 with 西暦, choices by their label),
// shown as text and nothing else, so what is shown is what the hash covers.

const label = (thing, lang, base = "label") =>
  (lang === "en" ? thing[`${base}_en`] : thing[`${base}_ja`]) || thing[`${base}_ja`] || "";

function rows(list, lang, t, level) {
  const dl = document.createElement("dl");
  for (const row of list) {
    const dt = document.createElement("dt");
    dt.textContent = label(row, lang);
    const dd = document.createElement("dd");
    if (Array.isArray(row.items)) {
      if (row.items.length === 0) {
        dd.textContent = t("empty");
        dd.className = "empty";
      }
      row.items.forEach((item, n) => {
        const box = document.createElement("section");
        box.className = "form-sheet-group";
        const heading = document.createElement(`h${Math.min(6, level + 1)}`);
        heading.textContent = `${label(row, lang)} ${n + 1}`;
        box.append(heading, rows(item, lang, t, level + 1));
        dd.append(box);
      });
    } else if (!row.text) {
      dd.textContent = t("empty");
      dd.className = "empty";
    } else {
      dd.textContent = row.text;
    }
    dl.append(dt, dd);
  }
  return dl;
}

export function pageTitle(page, lang) {
  return label(page, lang, "title");
}

export function formTitle(view, lang) {
  return label(view.form, lang, "title");
}

// `level`: the heading level of the page's title (its sections are one below).
export function renderSheet(page, { lang, t, level = 3 }) {
  const sheet = document.createElement("div");
  sheet.className = "form-sheet";
  for (const section of page.sections ?? []) {
    const title = label(section, lang, "title");
    if (title && title !== pageTitle(page, lang)) {
      const h = document.createElement(`h${level + 1}`);
      h.textContent = title;
      sheet.append(h);
    }
    sheet.append(rows(section.rows ?? [], lang, t, level + 1));
  }
  return sheet;
}
