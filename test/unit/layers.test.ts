// The layer map is the README's "Arrows point down" line: every import in src/, drivers/ and apps/ must
// point to its own layer or one below it, and apps/ import only the package entry (they are the API's
// tutorial). No exceptions list: an arrow that runs up the map fails here.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

/** The map from the README: layers top to bottom, each a list of path prefixes. */
function readLayerMap(): string[][] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const line = readme.split("\n").find((l) => l.startsWith("Arrows point down:"));
  if (!line) throw new Error('README.md has no "Arrows point down:" line');
  const chain = line.slice("Arrows point down:".length).split(/\.(?:\s|$)/)[0]!;
  return chain.split("→").map((layer) => layer.split(",").map((p) => p.trim().replace(/`/g, "")).filter(Boolean));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Relative imports of a file (static `import … from`, `export … from`, side-effect imports, literal import()). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = new Set<string>();
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/gms)) specs.add(m[1]!);
  for (const m of text.matchAll(/^\s*import\s+"([^"]+)"/gm)) specs.add(m[1]!);
  for (const m of text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) specs.add(m[1]!);
  return [...specs].filter((s) => s.startsWith("."));
}

describe("layers", () => {
  const map = readLayerMap();
  const rel = (abs: string): string => relative(ROOT, abs);
  /** The layer index of a path (0 = top), by its longest matching prefix. */
  const layerOf = (path: string): number | undefined => {
    let best: { i: number; len: number } | undefined;
    map.forEach((layer, i) => {
      for (const prefix of layer) {
        if ((path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`)) && (!best || prefix.length > best.len)) best = { i, len: prefix.length };
      }
    });
    return best?.i;
  };
  const groupOf = (path: string): string => map.flat().filter((p) => path === p || path.startsWith(p.endsWith("/") ? p : `${p}/`)).sort((a, b) => b.length - a.length)[0] ?? path;

  test("the README's map names every part of the tree", () => {
    expect(map.length).toBeGreaterThanOrEqual(8);
    for (const dir of ["apps", "drivers", "src/ethdev", "src/sys", "src/mem", "src/net", "src/pci", "src/vfio", "src/lcore", "src/cli", "src/index.ts"]) {
      expect(layerOf(dir)).toBeDefined();
    }
  });

  test("every import points to its own layer or one below; apps import only the package entry", () => {
    const files = ["src", "drivers", "apps"].flatMap((d) => sourceFiles(join(ROOT, d)));
    const wrong: string[] = [];
    for (const file of files) {
      const from = rel(file);
      const fromLayer = layerOf(from);
      if (fromLayer === undefined) {
        wrong.push(`${from}: not in the README's layer map`);
        continue;
      }
      for (const spec of importsOf(file)) {
        const to = rel(resolve(dirname(file), spec));
        const toLayer = layerOf(to);
        if (toLayer === undefined) {
          wrong.push(`${from} → ${to}: target not in the layer map`);
          continue;
        }
        const fromGroup = groupOf(from);
        const toGroup = groupOf(to);
        if (fromGroup === "apps" && toGroup !== "apps" && to !== "src/index.ts") wrong.push(`${from} → ${to}: apps import only the package entry (src/index.ts)`);
        else if (toLayer < fromLayer) wrong.push(`${from} → ${to}: runs up the map`);
        else if (toLayer === fromLayer && toGroup !== fromGroup) wrong.push(`${from} → ${to}: sideways between ${fromGroup} and ${toGroup}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
