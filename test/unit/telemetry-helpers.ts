// What the telemetry tests share: a strict reader of the Prometheus text format (every sample after its
// family's HELP and TYPE, names and labels well-formed, counters named *_total, no series twice), and a
// reader of a child process's stderr that waits for a line.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  help: string;
  type: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses an exposition; throws naming the line on anything out of format. */
export function parseProm(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const lines = text.split("\n").slice(0, -1);
  let current: PromFamily | undefined;
  lines.forEach((line, i) => {
    const at = `line ${i + 1} "${line}"`;
    if (line.startsWith("# HELP ")) {
      const m = /^# HELP (\S+) (.*)$/.exec(line);
      if (!m || !NAME.test(m[1]!)) throw new Error(`bad HELP at ${at}`);
      if (families.has(m[1]!)) throw new Error(`family ${m[1]} twice at ${at}`);
      current = { name: m[1]!, help: m[2]!, type: "", samples: [] };
      families.set(m[1]!, current);
      return;
    }
    if (line.startsWith("# TYPE ")) {
      const m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (!m || !current || current.name !== m[1] || current.type !== "") throw new Error(`TYPE not right after its HELP at ${at}`);
      current.type = m[2]!;
      if (current.type === "counter" && !current.name.endsWith("_total")) throw new Error(`counter ${current.name} does not end in _total`);
      return;
    }
    if (line.startsWith("#") || line === "") throw new Error(`unexpected ${at}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample ${at}`);
    const [, name, labelText, valueText] = m;
    if (!current || current.type === "") throw new Error(`sample before its family's HELP and TYPE at ${at}`);
    const ok = current.type === "histogram" ? [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`].includes(name!) : name === current.name;
    if (!ok) throw new Error(`sample ${name} under family ${current.name} at ${at}`);
    const labels: Record<string, string> = {};
    if (labelText) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/gy;
      let pos = 0;
      while (pos < labelText.length) {
        re.lastIndex = pos;
        const l = re.exec(labelText);
        if (!l || !LABEL.test(l[1]!)) throw new Error(`bad labels at ${at}`);
        if (l[1]! in labels) throw new Error(`label ${l[1]} twice at ${at}`);
        labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
        pos = re.lastIndex;
      }
    }
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : valueText === "NaN" ? NaN : Number(valueText);
    if (!/^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]Inf|NaN)$/.test(valueText!)) throw new Error(`bad value at ${at}`);
    const key = `${name}{${Object.entries(labels).sort().map(([k, v]) => `${k}=${v}`).join(",")}}`;
    if (seen.has(key)) throw new Error(`series ${key} twice at ${at}`);
    seen.add(key);
    current.samples.push({ name: name!, labels, value });
  });
  return families;
}

/** The value of one series (labels given must all match; undefined when absent). */
export function promValue(f: Map<string, PromFamily>, family: string, labels: Record<string, string | number>): number | undefined {
  const fam = f.get(family);
  const s = fam?.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === String(v)));
  return s?.value;
}

/** Reads a child's stream until `re` matches what came so far; returns all of it. */
export async function waitForOutput(stream: ReadableStream<Uint8Array>, re: RegExp, ms: number, seen = { text: "" }): Promise<string> {
  const reader = stream.getReader();
  const until = Date.now() + ms;
  try {
    while (!re.test(seen.text)) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no ${re} within ${ms} ms; saw: ${seen.text}`);
      const chunk = await Promise.race([reader.read(), Bun.sleep(left).then(() => undefined)]);
      if (!chunk || chunk.done) throw new Error(`process ended before ${re}; saw: ${seen.text}`);
      seen.text += new TextDecoder().decode(chunk.value);
    }
  } finally {
    reader.releaseLock();
  }
  return seen.text;
}
