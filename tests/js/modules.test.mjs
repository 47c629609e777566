// How the browser scripts hang together (web/static/js/, docs/architecture.md):
// templates load only page entries (pages/), every page entry is loaded by a
// template, and every import names a file and an export that exist.

import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const JS = join(ROOT, "web/static/js");
const TEMPLATES = join(ROOT, "web/templates");

function files(dir, suffix) {
  return readdirSync(dir, { recursive: true })
    .filter((name) => name.endsWith(suffix))
    .map((name) => join(dir, name));
}

function scriptTags() {
  const tags = [];
  for (const path of files(TEMPLATES, ".html")) {
    for (const match of readFileSync(path, "utf8").matchAll(/<script\b[^>]*>/g)) {
      tags.push({ template: relative(TEMPLATES, path), tag: match[0] });
    }
  }
  return tags;
}

test("templates load page entries only, as modules, never inline (the CSP forbids it)", () => {
  const tags = scriptTags();
  assert.ok(tags.length >= 10, `found only ${tags.length} script tags`);
  for (const { template, tag } of tags) {
    const src = /\bsrc="\/static\/js\/([^"]+)"/.exec(tag);
    assert.ok(src, `${template}: ${tag} has no /static/js/ src`);
    assert.match(tag, /type="module"/, `${template}: ${tag}`);
    assert.match(src[1], /^pages\/[a-z-]+\.js$/, `${template} loads ${src[1]}`);
    assert.ok(existsSync(join(JS, src[1])), `${template} loads ${src[1]}, which does not exist`);
  }
});

test("every page entry is loaded by a template", () => {
  const loaded = new Set(scriptTags().map(({ tag }) => /\/static\/js\/([^"]+)"/.exec(tag)[1]));
  const entries = files(join(JS, "pages"), ".js").map((path) => relative(JS, path));
  assert.ok(entries.length > 0);
  assert.deepEqual(entries.filter((entry) => !loaded.has(entry)), []);
});

// Names a module exports: `export function|class|const|let NAME` and `export { A, B as C }`.
function exportsOf(source) {
  const names = new Set();
  for (const m of source.matchAll(/^export\s+(?:async\s+)?(?:function\*?|class|const|let)\s+(\w+)/gm)) {
    names.add(m[1]);
  }
  for (const m of source.matchAll(/^export\s*\{([^}]*)\}/gm)) {
    for (const part of m[1].split(",")) names.add(part.trim().split(/\s+as\s+/).pop());
  }
  return names;
}

test("every import names a module that exists and names it exports", () => {
  const modules = files(JS, ".js");
  let checked = 0;
  for (const path of modules) {
    const source = readFileSync(path, "utf8");
    for (const m of source.matchAll(/^import\s+(?:\{([^}]*)\}\s+from\s+)?"([^"]+)";/gm)) {
      const [, names = "", spec] = m;
      const where = `${relative(JS, path)} imports ${spec}`;
      assert.match(spec, /^\.\.?\//, `${where}: only relative imports, no bundler`);
      const target = resolve(dirname(path), spec);
      assert.ok(existsSync(target), `${where}, which does not exist`);
      assert.ok(!relative(JS, target).startsWith("pages/"), `${where}: page entries are not imported`);
      const exported = exportsOf(readFileSync(target, "utf8"));
      for (const name of names.split(",").map((n) => n.trim().split(/\s+as\s+/)[0]).filter(Boolean)) {
        assert.ok(exported.has(name), `${where}: no export named ${name}`);
        checked += 1;
      }
    }
  }
  assert.ok(checked > 30, `only ${checked} imported names found`);
});
