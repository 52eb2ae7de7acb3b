// Worker for arena.test.ts: attaches to an arena by its handle, checks the main thread's pattern and
// writes its own after it.
import { runWorker } from "../../../src/lcore/worker-runtime.ts";
import { DmaArena, type ArenaHandle } from "../../../src/mem/arena.ts";

runWorker((init: { arena: ArenaHandle; words: number }) => {
  const a = DmaArena.attach(init.arena);
  let bad = 0;
  for (let i = 0; i < init.words; i++) if (a.u32[i] !== (i * 2654435761) >>> 0) bad++;
  // Last word of the arena too: the whole mapping is visible.
  const lastSeen = a.u32[a.u32.length - 1]!;
  for (let i = 0; i < init.words; i++) a.u32[init.words + i] = ~i >>> 0;
  return { bad, lastSeen, size: a.u8.byteLength, hugepage: a.hugepage };
});
