// `bdk telemetry [PID|--all] [COMMAND]`: the client of a bdk process's telemetry socket, as DPDK's
// dpdk-telemetry.py. With a command it prints the JSON answer and exits; without one it reads commands
// from stdin (a "--> " prompt on a terminal) until EOF or "quit". Without a PID it talks to the one bdk
// process that serves telemetry (and says which ones when there are several); --all asks every one.
import { BdkError } from "../sys/errors.ts";
import { listSocketPids, processAlive, runtimeDir, socketPath, TelemetryClient } from "../telemetry/socket.ts";

const USAGE = `usage: bdk telemetry [PID | --all] [COMMAND]

  Talks to the telemetry socket of a bdk process started with --telemetry (or startTelemetry()).
  PID       the process (default: the only one serving telemetry)
  --all     every process serving telemetry: runs COMMAND (default /info) on each
  --pretty  indent the JSON (the default on a terminal); --compact for one line
  COMMAND   e.g. /  /info  /ethdev/list  /ethdev/stats,0  /ethdev/xstats,0  /ethdev/link_status,0
            /ethdev/queue_stats,0  /workers  /mempool/list  /mempool/info,NAME  /help,/ethdev/stats
            (without one: interactive, one command per line, "quit" or Ctrl-D to leave)

  Sockets live in ${runtimeDir()} (BDK_RUNTIME_DIR overrides).`;

/** The pids whose socket a live process holds (left-over sockets of dead processes are skipped). */
function livePids(dir: string): number[] {
  return listSocketPids(dir).filter((pid) => processAlive(pid));
}

export async function main(argv: string[]): Promise<number> {
  let pid: number | undefined;
  let all = false;
  let pretty: boolean | undefined;
  const words: string[] = [];
  for (const a of argv) {
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return 0;
    }
    if (a === "--all") all = true;
    else if (a === "--pretty") pretty = true;
    else if (a === "--compact") pretty = false;
    else if (/^[0-9]+$/.test(a) && pid === undefined && words.length === 0) {
      pid = Number(a);
      if (!Number.isSafeInteger(pid) || pid < 1) throw new BdkError(`telemetry: "${a}" is not a process id`, "give the PID of a bdk process (bdk telemetry --all lists them)");
    } else if (a.startsWith("--")) throw new BdkError(`telemetry: unknown option ${a}`, "options: --all --pretty --compact --help");
    else words.push(a);
  }
  if (all && pid !== undefined) throw new BdkError("telemetry: give a PID or --all, not both", "bdk telemetry --all /info, or bdk telemetry PID /info");
  const command = words.join(" ").trim() || undefined;
  if (command !== undefined && !command.startsWith("/")) {
    throw new BdkError(`telemetry: "${command}" is not a command`, "commands start with / (bdk telemetry PID / lists them)");
  }
  const indent = (pretty ?? process.stdout.isTTY === true) ? 2 : undefined;
  const show = (v: unknown): void => console.log(JSON.stringify(v, null, indent));
  const dir = runtimeDir();

  if (all) {
    const pids = livePids(dir);
    if (pids.length === 0) throw new BdkError(`telemetry: no bdk process serves telemetry (no live socket in ${dir})`, "start one with --telemetry, e.g. bdk l2fwd --telemetry null null");
    let failed = 0;
    for (const p of pids) {
      try {
        const c = await TelemetryClient.connect(p, dir);
        try {
          const answer = await c.command(command ?? "/info");
          show({ pid: p, ...answer });
          if (answer.error !== undefined) failed++;
        } finally {
          c.close();
        }
      } catch (e) {
        if (!(e instanceof BdkError)) throw e;
        show({ pid: p, error: e.message });
        failed++;
      }
    }
    return failed > 0 ? 1 : 0;
  }

  if (pid === undefined) {
    const pids = livePids(dir);
    if (pids.length === 0) throw new BdkError(`telemetry: no bdk process serves telemetry (no live socket in ${dir})`, "start one with --telemetry, e.g. bdk l2fwd --telemetry null null");
    if (pids.length > 1) throw new BdkError(`telemetry: ${pids.length} bdk processes serve telemetry (pids ${pids.join(", ")})`, "give one PID, or --all");
    pid = pids[0]!;
  } else if (!listSocketPids(dir).includes(pid) && !processAlive(pid)) {
    throw new BdkError(`telemetry: no process ${pid}`, "bdk telemetry --all lists the bdk processes that serve telemetry");
  }
  const client = await TelemetryClient.connect(pid, dir);
  try {
    if (command !== undefined) {
      const answer = await client.command(command);
      show(answer);
      if (answer.error !== undefined) {
        console.error(`bdk telemetry: ${String(answer.error)}`);
        return 1;
      }
      return 0;
    }
    // Interactive: the greeting, then one answer per line read.
    const tty = process.stdin.isTTY === true;
    if (tty) {
      console.error(`Connected to pid ${pid} (${String(client.greeting.app ?? "bdk")}) at ${socketPath(pid, dir)}; "/" lists the commands, "quit" leaves.`);
      process.stdout.write("--> ");
    }
    for await (const raw of console) {
      const line = raw.trim();
      if (line === "quit" || line === "exit") break;
      if (line !== "") {
        if (!line.startsWith("/")) show({ error: `"${line}" is not a command; commands start with / ("/" lists them)` });
        else show(await client.command(line));
      }
      if (tty) process.stdout.write("--> ");
    }
    return 0;
  } finally {
    client.close();
  }
}
