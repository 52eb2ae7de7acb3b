// Link events of a kernel interface: a NETLINK_ROUTE socket subscribed to RTMGRP_LINK becomes readable when
// any interface of this network namespace changes (up, down, carrier, renamed, deleted). The port gives it out
// as its eventFd() (af_packet's and af_xdp's ports); what the messages say is not parsed: pollEvents() drains them and reads the link again.
import { bind, close, errno, raw, socket } from "./libc.ts";

const MSG_DONTWAIT = 0x40;

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const NETLINK_ROUTE = 0;
const RTMGRP_LINK = 1;
/** struct sockaddr_nl: u16 nl_family, u16 nl_pad, u32 nl_pid, u32 nl_groups. */
const SOCKADDR_NL_SIZE = 12;
const EINTR = 4;
const ENOBUFS = 105;

export class LinkMonitor {
  private fd_: number;
  private readonly buf = new Uint8Array(8192);

  /** Opens the socket and joins the link group; `what` names the port in errors. */
  constructor(what: string) {
    const fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_ROUTE, `${what}: netlink route socket (link events)`);
    try {
      const sa = new Uint8Array(SOCKADDR_NL_SIZE);
      sa[0] = AF_NETLINK; // nl_pid 0: the kernel assigns one
      sa[8] = RTMGRP_LINK;
      bind(fd, sa, `${what}: netlink RTMGRP_LINK`);
    } catch (e) {
      close(fd);
      throw e;
    }
    this.fd_ = fd;
  }

  /** Readable when a link changed since the last drain(); -1 once closed. */
  get fd(): number {
    return this.fd_;
  }

  /** Reads and discards every pending message. An overrun (ENOBUFS: messages were lost) changes nothing: the caller reads the link anyway. */
  drain(): void {
    const fd = this.fd_;
    if (fd < 0) return;
    for (let i = 0; i < 4096; i++) {
      const r = Number(raw.recv(fd, this.buf, this.buf.byteLength, MSG_DONTWAIT));
      if (r > 0) continue;
      if (r === 0) return;
      const e = errno();
      if (e === ENOBUFS || e === EINTR) continue;
      return; // EAGAIN: all read (anything else: nothing more to read now)
    }
  }

  close(): void {
    const fd = this.fd_;
    if (fd < 0) return;
    this.fd_ = -1;
    close(fd);
  }
}
