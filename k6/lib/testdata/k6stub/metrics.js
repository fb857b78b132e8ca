// Stub of k6/metrics: metrics that add up what they get.
export const added = {};
class Metric {
  constructor(name) {
    this.name = name;
    added[name] = 0;
  }
  add(v) {
    added[this.name] += v;
  }
}
export class Counter extends Metric {}
export class Trend extends Metric {}
