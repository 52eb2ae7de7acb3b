// The README's drivers matrix says what each chip driver declares: its queue counts and MTU rows are
// checked here against the chip tables the ports build their capabilities() from, so that the table and
// the code cannot drift apart.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { I82574, I8254X } from "../../drivers/e1000/index.ts";
import { I82576 } from "../../drivers/igb/index.ts";
import { IXGBE_82599 } from "../../drivers/ixgbe/port.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const table = readme.slice(readme.indexOf("## Drivers")).split("\n").filter((l) => l.startsWith("|"));
const header = table[0]!.split("|").map((c) => c.trim());
const row = (label: string): string[] => {
  const line = table.find((l) => l.split("|")[1]!.trim().startsWith(label));
  if (!line) throw new Error(`README drivers matrix has no row "${label}"`);
  return line.split("|").map((c) => c.trim());
};
const column = (driver: string): number => {
  const i = header.findIndex((h) => h.startsWith(driver));
  if (i < 0) throw new Error(`README drivers matrix has no column "${driver}"`);
  return i;
};

const chips = [
  { column: "e1000 (", rx: I8254X.queues, tx: I8254X.queues, mtu: I8254X.maxFrame - 18 },
  { column: "e1000e", rx: I82574.queues, tx: I82574.queues, mtu: I82574.maxFrame - 18 },
  { column: "igb", rx: I82576.queues, tx: I82576.queues, mtu: I82576.maxFrame - 18 },
  { column: "ixgbe", rx: IXGBE_82599.rxQueues, tx: IXGBE_82599.txQueues, mtu: IXGBE_82599.maxFrame - 18 },
];

for (const c of chips) {
  test(`README drivers matrix: ${c.column.replace(" (", "")} queues and MTU are what the driver declares`, () => {
    const i = column(c.column);
    expect(row("queues per port")[i]).toStartWith(`${c.rx} / ${c.tx}`);
    expect(row("MTU, jumbo frames")[i]).toStartWith(`up to ${c.mtu}`);
  });
}
