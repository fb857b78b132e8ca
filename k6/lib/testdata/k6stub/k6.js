// Stub of k6's "k6" module.
export function sleep() {}
export function check() {
  return true;
}
