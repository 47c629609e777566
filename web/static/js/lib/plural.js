// Counted texts in the page's language ("1 second", "2 seconds"; Japanese
// has one form). The page gives one text per plural category in data
// attributes, rendered server-side with ngettext: data-<name>-one and
// data-<name>-other; the browser picks the category by the language's rules.

export function counted(dataset, name, n, lang) {
  const category = new Intl.PluralRules(lang).select(n);
  const key = name + category[0].toUpperCase() + category.slice(1);
  const text = dataset[key] ?? dataset[`${name}Other`] ?? "{n}";
  return text.replace("{n}", String(n));
}

// The language of the page (<html lang>), for counted().
export function pageLang() {
  return document.documentElement.lang || "ja";
}
