// The staff member's form: inputs built from the template definition
// (docs/forms.md §2), laid out by its pages and sections, with repeating
// groups (add / remove an item), conditional fields shown and hidden as the
// values change, and each field's errors under it (from lib/formcheck.js,
// the same rules as the server's).
//
//   const form = new FormFields(container, definition, values, {t, lang})
//   form.values()          the raw values as typed, for validation and PUT
//   form.showErrors(errs)  errors [{path, code}] under their fields
//   form.refresh()         shown_if / required_if after a change

import { conditionHolds, filled, validate } from "../lib/formcheck.js";
import { formatSeireki, formatWareki, parseDate } from "../lib/wareki.js";

let serial = 0;
const idFor = (path) => `ff-${path.replace(/[^a-zA-Z0-9_]/g, "-")}-${(serial += 1)}`;

export class FormFields extends EventTarget {
  constructor(container, definition, values, { t, lang = "ja" }) {
    super();
    this.container = container;
    this.definition = definition;
    this.t = t;
    this.lang = lang;
    this.inputs = new Map(); // path → {field, wrap, read(), error element}
    this.groups = new Map(); // group name → {field, list, items: [Map]}
    this.render(values ?? {});
  }

  label(thing, base = "label") {
    return (this.lang === "en" ? thing[`${base}_en`] : thing[`${base}_ja`]) || thing[`${base}_ja`] || "";
  }

  byName(name) {
    return this.definition.fields.find((f) => f.name === name);
  }

  render(values) {
    this.container.replaceChildren();
    const layout = this.definition.layout?.pages ?? [
      { title_ja: "", title_en: "", sections: [{ fields: this.definition.fields.map((f) => f.name) }] },
    ];
    layout.forEach((page, index) => {
      const fieldset = document.createElement("fieldset");
      fieldset.className = "form-page";
      const legend = document.createElement("legend");
      legend.textContent = this.t("page-legend", { n: index + 1, title: this.label(page, "title") });
      fieldset.append(legend);
      for (const section of page.sections ?? []) {
        const title = this.label(section, "title");
        if (title && title !== this.label(page, "title")) {
          const h = document.createElement("h3");
          h.textContent = title;
          fieldset.append(h);
        }
        for (const name of section.fields ?? []) {
          const field = this.byName(name);
          if (field) fieldset.append(this.fieldEl(field, name, values[name], null));
        }
      }
      this.container.append(fieldset);
    });
    this.refresh();
  }

  // One field's wrapper: label, input, hint, error. `item` is the group item's
  // Map of inputs (null at the top level).
  fieldEl(field, path, value, item) {
    if (field.type === "group") return this.groupEl(field, value ?? []);
    const wrap = document.createElement("div");
    wrap.className = "form-field";
    wrap.dataset.path = path;
    wrap.dataset.type = field.type;
    const id = idFor(path);
    const error = document.createElement("p");
    error.className = "field-error";
    error.id = `${id}-error`;
    const hint = document.createElement("p");
    hint.className = "field-hint";
    hint.id = `${id}-hint`;
    const help = this.label(field, "help") || this.t(`hint.${field.type}`, {}, "");
    hint.textContent = help;
    const describe = (el) => el.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
    let read;
    let focusEl;

    const labelEl = (forId) => {
      const label = document.createElement("label");
      if (forId) label.htmlFor = forId;
      label.textContent = this.label(field);
      const mark = document.createElement("span");
      mark.className = "required-mark";
      mark.dataset.required = "";
      label.append(mark);
      return label;
    };

    if (field.type === "checkbox") {
      const box = document.createElement("div");
      box.className = "choice";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.id = id;
      input.checked = value === true;
      describe(input);
      box.append(input, labelEl(id));
      wrap.append(box);
      read = () => input.checked;
      focusEl = input;
    } else if (field.type === "choice" && (field.options ?? []).length <= 4) {
      const set = document.createElement("fieldset");
      set.className = "form-choice";
      const legend = document.createElement("legend");
      legend.textContent = this.label(field);
      const mark = document.createElement("span");
      mark.className = "required-mark";
      mark.dataset.required = "";
      legend.append(mark);
      set.append(legend);
      set.setAttribute("aria-describedby", `${id}-hint ${id}-error`);
      const name = `${id}-radio`;
      field.options.forEach((option, n) => {
        const box = document.createElement("div");
        box.className = "choice";
        const input = document.createElement("input");
        input.type = "radio";
        input.name = name;
        input.id = `${id}-${n}`;
        input.value = option.value;
        input.checked = value === option.value;
        const label = document.createElement("label");
        label.htmlFor = input.id;
        label.textContent = this.label(option);
        box.append(input, label);
        set.append(box);
      });
      wrap.append(set);
      read = () => set.querySelector("input:checked")?.value ?? "";
      focusEl = set.querySelector("input");
    } else if (field.type === "choice") {
      const select = document.createElement("select");
      select.id = id;
      const none = document.createElement("option");
      none.value = "";
      none.textContent = this.t("choose");
      select.append(none);
      for (const option of field.options ?? []) {
        const el = document.createElement("option");
        el.value = option.value;
        el.textContent = this.label(option);
        select.append(el);
      }
      select.value = value ?? "";
      describe(select);
      wrap.append(labelEl(id), select);
      read = () => select.value;
      focusEl = select;
    } else {
      const multiline = field.type === "text" && field.multiline;
      const input = document.createElement(multiline ? "textarea" : "input");
      input.id = id;
      if (!multiline) input.type = field.type === "phone" ? "tel" : "text";
      if (multiline) input.rows = 3;
      input.value = typeof value === "string" ? value : "";
      input.autocomplete = "off";
      input.spellcheck = false;
      if (field.type === "postal_code") input.inputMode = "numeric";
      if (field.type === "kana" || field.type === "text" || field.type === "address") input.lang = "ja";
      describe(input);
      wrap.append(labelEl(id), input);
      read = () => input.value;
      focusEl = input;
      if (field.type === "date") {
        // What was typed, read back in both calendars (令和7年4月1日（2025年4月1日）).
        const show = () => {
          const iso = parseDate(input.value);
          hint.textContent = iso ? `${formatWareki(iso)}（${formatSeireki(iso)}）` : help;
        };
        input.addEventListener("input", show);
        show();
      }
    }
    wrap.append(hint, error);
    const entry = { field, wrap, read, error, focusEl, item, path };
    this.inputs.set(path, entry);
    if (item) item.set(field.name, entry);
    wrap.addEventListener("change", () => this.changed(path));
    wrap.addEventListener("input", () => this.dispatchEvent(new CustomEvent("input", { detail: { path } })));
    return wrap;
  }

  groupEl(field, items) {
    const set = document.createElement("fieldset");
    set.className = "form-group";
    set.dataset.path = field.name;
    const legend = document.createElement("legend");
    legend.textContent = this.label(field);
    const mark = document.createElement("span");
    mark.className = "required-mark";
    mark.dataset.required = "";
    legend.append(mark);
    const list = document.createElement("div");
    list.className = "form-group-items";
    const error = document.createElement("p");
    error.className = "field-error";
    error.id = idFor(field.name);
    error.setAttribute("role", "status");
    const add = document.createElement("button");
    add.type = "button";
    add.className = "secondary small";
    add.textContent = this.t("group-add", { label: this.label(field) });
    set.append(legend, list, error, add);
    const group = { field, list, items: [], error, add, wrap: set };
    this.groups.set(field.name, group);
    this.inputs.set(field.name, { field, wrap: set, error, group, path: field.name, focusEl: add });
    add.addEventListener("click", () => {
      const item = this.addItem(group, {});
      this.renumber(group);
      this.changed(field.name);
      item.first?.focus();
    });
    for (const values of items) this.addItem(group, values);
    this.renumber(group);
    return set;
  }

  addItem(group, values) {
    const { field } = group;
    const box = document.createElement("fieldset");
    box.className = "form-group-item";
    const legend = document.createElement("legend");
    box.append(legend);
    const map = new Map();
    const item = { box, legend, map, first: null };
    group.items.push(item);
    for (const sub of field.fields ?? []) {
      box.append(this.fieldEl(sub, `${field.name}[${group.items.length - 1}].${sub.name}`, values[sub.name], map));
    }
    item.first = [...map.values()][0]?.focusEl ?? null;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary small";
    remove.addEventListener("click", () => {
      const index = group.items.indexOf(item);
      group.items.splice(index, 1);
      box.remove();
      this.renumber(group);
      this.changed(field.name);
      (group.items[index]?.first ?? group.add).focus();
    });
    item.remove = remove;
    box.append(remove);
    group.list.append(box);
    return item;
  }

  // Item numbers and paths follow the order after an add or a remove.
  renumber(group) {
    const { field } = group;
    for (const [path, entry] of [...this.inputs]) {
      if (path.startsWith(`${field.name}[`)) this.inputs.delete(path);
    }
    group.items.forEach((item, index) => {
      const title = `${this.label(field)} ${index + 1}`;
      item.legend.textContent = title;
      item.remove.textContent = this.t("group-remove", { label: title });
      for (const [name, entry] of item.map) {
        entry.path = `${field.name}[${index}].${name}`;
        entry.wrap.dataset.path = entry.path;
        this.inputs.set(entry.path, entry);
      }
    });
    group.add.disabled = group.items.length >= (field.max ?? 10);
  }

  changed(path) {
    this.refresh();
    this.dispatchEvent(new CustomEvent("change", { detail: { path } }));
  }

  values() {
    const out = {};
    for (const field of this.definition.fields) {
      if (field.type === "group") {
        const group = this.groups.get(field.name);
        out[field.name] = group.items.map((item) => {
          const values = {};
          for (const [name, entry] of item.map) values[name] = entry.read();
          return values;
        });
      } else {
        const entry = this.inputs.get(field.name);
        if (entry) out[field.name] = entry.read();
      }
    }
    return out;
  }

  // shown_if / required_if on the values as the server normalises them
  // (lib/formcheck.js): a field hidden here is one the server drops.
  refresh() {
    const top = validate(this.definition, this.values()).normalised;
    for (const entry of this.inputs.values()) {
      const { field, wrap, item } = entry;
      let own = top;
      if (item) {
        const [, group, index] = /^(\w+)\[(\d+)\]/.exec(entry.path);
        own = top[group]?.[Number(index)] ?? {};
      }
      wrap.hidden = !conditionHolds(field.shown_if, own, top);
      const required =
        Boolean(field.required) || (Boolean(field.required_if) && conditionHolds(field.required_if, own, top));
      wrap.dataset.required = String(required);
      if (!entry.group) {
        for (const el of wrap.querySelectorAll("input:not([type=radio]), select, textarea")) {
          if (el.type === "checkbox") continue; // required means "must be checked": said by the mark
          el.setAttribute("aria-required", String(required));
        }
      }
      for (const mark of wrap.querySelectorAll(".required-mark")) {
        if (mark.closest(".form-field, .form-group") !== wrap) continue;
        const text = required ? this.t("required-mark") : "";
        if (mark.textContent !== text) mark.textContent = text;
      }
    }
  }

  // Errors under their fields; `only` limits to the paths the person has left.
  showErrors(errors, only = null) {
    const byPath = new Map(errors.map((e) => [e.path, e]));
    for (const [path, entry] of this.inputs) {
      if (only && !only.has(path)) continue;
      const found = byPath.get(path);
      const text = found ? this.t(`error.${found.code}`) : "";
      if (entry.error.textContent !== text) entry.error.textContent = text;
      if (found) entry.wrap.dataset.invalid = found.code;
      else delete entry.wrap.dataset.invalid;
      for (const el of entry.wrap.querySelectorAll(":scope input, :scope select, :scope textarea")) {
        if (entry.group) break;
        if (found) el.setAttribute("aria-invalid", "true");
        else el.removeAttribute("aria-invalid");
      }
    }
  }

  focus(path) {
    const entry = this.inputs.get(path);
    entry?.focusEl?.focus();
  }

  isEmpty() {
    return !Object.values(this.values()).some(filled);
  }
}
