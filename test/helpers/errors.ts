// The error a call throws, for tests that look at its text; a call that does not throw fails the test.
export function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error, got none");
}
