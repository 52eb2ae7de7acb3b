// PCI addresses as text: "0000:00:02.0" (domain:bus:device.function), with the domain optional on input.
// Lives in src/pci so that the PCI layer and the port-spec parser above it share one grammar.

const PCI_RE = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;

/** "00:02.0" → "0000:00:02.0"; undefined when the text is not a PCI address. */
export function normalizePciAddress(text: string): string | undefined {
  const m = PCI_RE.exec(text.trim());
  if (!m) return undefined;
  return `${(m[1] ?? "0000").toLowerCase()}:${m[2]!.toLowerCase()}:${m[3]!.toLowerCase()}.${m[4]}`;
}
